/**
 * The choice and likelihood assays: the prompt format character for character, answers against run.c's
 * logits, KL against a direct computation, a three-assay screen that resumes after kill -9, exports and
 * reports, fast = plain, and bad question files.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ChoiceAssay } from '../src/assays/choice.js';
import { choicePrompt, loadQuestionSet } from '../src/assays/mmlu.js';
import { selectBackend } from '../src/backend/select.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { matrixStats, mutate, restore } from '../src/screen/mutate.js';
import { Plan } from '../src/screen/plan.js';
import { loadScreenSpec, type ChoiceAssaySpec } from '../src/spec/spec.js';
import { CLI, EXPECTED, expectCleanError, readJson, runCli, SHARED, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('assays');
after(() => dir.remove());
const MMLU = join(SHARED, 'data', 'mmlu');

function file(name: string, body: string): string {
  const f = join(dir.path, name);
  writeFileSync(f, body);
  return f;
}

describe('choice prompt', () => {
  it('is the k-shot format of the paper, character for character', () => {
    const d = join(dir.path, 'fmt');
    mkdirSync(join(d, 'dev'), { recursive: true });
    mkdirSync(join(d, 'test'), { recursive: true });
    writeFileSync(join(d, 'dev', 'high_school_biology_dev.csv'), 'What is DNA?,A sugar,A molecule,"A cell, mostly",A tissue,B\nWhich organelle makes ATP?,Nucleus,Ribosome,Mitochondrion,Golgi,C\nThird one?,w,x,y,z,D\n');
    writeFileSync(join(d, 'test', 'high_school_biology_test.csv'), '"Where is RNA made?\nPick one.",Nucleus,Cytoplasm,Membrane,Vacuole,A\n');
    const set = loadQuestionSet(d);
    const q = set.test.get('high_school_biology')![0];
    const expected =
      'The following are multiple choice questions (with answers) about high school biology.\n\n' +
      'What is DNA?\nA. A sugar\nB. A molecule\nC. A cell, mostly\nD. A tissue\nAnswer: B\n\n' +
      'Which organelle makes ATP?\nA. Nucleus\nB. Ribosome\nC. Mitochondrion\nD. Golgi\nAnswer: C\n\n' +
      'Where is RNA made?\nPick one.\nA. Nucleus\nB. Cytoplasm\nC. Membrane\nD. Vacuole\nAnswer:';
    assert.equal(choicePrompt('high_school_biology', set.dev.get('high_school_biology')!.slice(0, 2), q), expected);
  });

  it("equals run.c's MMLU prompt, and encodes to its ids", () => {
    const fx = readJson<{ prompt: string; prompt_ids: number[] }>(join(EXPECTED, 'logits-mmlu.json'));
    const q = loadQuestionSet(MMLU, ['global_facts']).test.get('global_facts')![0];
    assert.equal(choicePrompt('global_facts', [], q), fx.prompt);
    const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    assert.deepEqual(model.tokenizer.encode(fx.prompt, { bos: true }), fx.prompt_ids);
  });
});

describe('shots that do not fit, and MMLU21', () => {
  const spec = (over: Partial<ChoiceAssaySpec>): ChoiceAssaySpec => ({ name: 'q', where: 'test', type: 'choice', data: MMLU, subjects: ['global_facts'], shots: 5, scoring: 'letters', select: { type: 'first', n: 3 }, temperature: 0, topP: 0, topK: 0, seed: 0, ...over });

  it("drops a prompt's first examples while it is longer than the context, and says so", async () => {
    const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const tf = new Transformer(model.config, model.weights, await selectBackend());
    const a = new ChoiceAssay(spec({}), model, tf, 'test');
    const set = loadQuestionSet(MMLU, ['global_facts']);
    const dev = set.dev.get('global_facts')!;
    assert.ok(a.notes.some((n) => /3 of 3 prompts were too long for the context \(512 tokens\) with 5 shots; their first examples were dropped/.test(n)), a.notes.join('\n'));
    for (const q of a.asked) {
      assert.ok(q.shots < 5 && q.probe.ids.length <= 512);
      // The kept examples are the last ones, and one more would not fit.
      assert.deepEqual(q.probe.ids, model.tokenizer.encode(choicePrompt('global_facts', dev.slice(5 - q.shots), q.question), { bos: true }));
      assert.ok(model.tokenizer.encode(choicePrompt('global_facts', dev.slice(5 - q.shots - 1), q.question), { bos: true }).length > 512);
    }
  });

  it('MMLU21: 14 questions the baseline answers right and 7 it answers wrong, the same for the same seed', async () => {
    const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const tf = new Transformer(model.config, model.weights, await selectBackend());
    const one = new ChoiceAssay(spec({ shots: 0, select: { type: 'mmlu21', seed: 0 } }), model, tf, 'test');
    const again = new ChoiceAssay(spec({ shots: 0, select: { type: 'mmlu21', seed: 0 } }), model, tf, 'test');
    const other = new ChoiceAssay(spec({ shots: 0, select: { type: 'mmlu21', seed: 1 } }), model, tf, 'test');
    const right = one.asked.filter((q, i) => ['A', 'B', 'C', 'D'][['A', 'B', 'C', 'D'].findIndex((l) => model.tokenizer.encode(`Answer: ${l}`, { bos: false })[7] === one.baselineIds[i])] === q.question.answer);
    assert.equal(one.asked.length, 21);
    assert.equal(right.length, 14);
    assert.equal(one.baselineAccuracy, 14 / 21);
    assert.deepEqual(again.asked.map((q) => q.question.source), one.asked.map((q) => q.question.source));
    assert.notDeepEqual(other.asked.map((q) => q.question.source), one.asked.map((q) => q.question.source));
  });
});

describe("answers against run.c's logits", () => {
  it('letters: the letter whose first token has the highest logit; next-token greedy: the argmax', async () => {
    const fx = readJson<{ prompt_ids: number[]; logits: number[][] }>(join(EXPECTED, 'logits-mmlu.json'));
    const last = fx.logits[fx.logits.length - 1];
    const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const tf = new Transformer(model.config, model.weights, await selectBackend());
    // The question of the fixture, alone in a csv named for its subject.
    const first = readFileSync(join(MMLU, 'test', 'global_facts_test.csv'), 'utf8').split('\n')[0];
    const csv = file('global_facts_test.csv', first + '\n');
    const spec = (scoring: 'letters' | 'next-token'): ChoiceAssaySpec => ({ name: 'q', where: csv, type: 'choice', data: csv, shots: 0, scoring, select: { type: 'all' }, temperature: 0, topP: 0, topK: 0, seed: 0 });

    // Independent answer from run.c's numbers: each letter's first token after "Answer:", highest logit wins
    // (letters sharing a token: the first of them).
    const head = model.tokenizer.encode('Answer:', { bos: false });
    const letterToken = ['A', 'B', 'C', 'D'].map((l) => model.tokenizer.encode(`Answer: ${l}`, { bos: false })[head.length]);
    let best = 0;
    for (let i = 1; i < 4; i++) if (last[letterToken[i]] > last[letterToken[best]]) best = i;
    const letters = new ChoiceAssay(spec('letters'), model, tf, csv);
    assert.deepEqual(letters.probes[0].ids, fx.prompt_ids);
    assert.deepEqual(letters.baselineIds, [letterToken[best]]);

    let arg = 0;
    for (let i = 1; i < last.length; i++) if (last[i] > last[arg]) arg = i;
    const nextToken = new ChoiceAssay(spec('next-token'), model, tf, csv);
    assert.deepEqual(nextToken.baselineIds, [arg]);
  });
});

const MIXED = (extra = '') => `model: ${STORIES_BIN}
tokenizer: ${STORIES_TOK}
targets: ["0.q", "4.down"]
unit: { block: 16 }
kinds: [max, min]
assays:
  - name: once
    type: generate
    prompt: "Once upon a time"
    max_length: 40
  - name: facts
    type: choice
    data: ${MMLU}
    subjects: [global_facts]
    shots: 1
    scoring: letters
    select: { first: 4 }
  - name: guess
    type: choice
    data: ${MMLU}
    subjects: [global_facts]
    shots: 0
    scoring: next-token
    temperature: 0.8
    seed: 3
    select: { first: 3 }
  - name: story-kl
    type: likelihood
    texts: ["Once upon a time, there was a little girl named Lily."]
    baseline_of: [once]
${extra}`;

function rows(path: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT m.key, r.assay_id, r.silent, r.first_divergence, r.similarity, r.n_tokens, p.ids_json, r.accuracy, r.accuracy_change, r.kl_mean, r.kl_max, r.loglik_change, r.argmax_changes
         FROM results r JOIN mutants m ON m.id = r.mutant_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id ORDER BY m.id, r.assay_id`,
      )
      .all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe('a screen with generate, choice and likelihood assays', () => {
  const spec = file('mixed.yaml', MIXED());
  const reference = join(dir.path, 'mixed.sqlite');
  const plain = join(dir.path, 'mixed-plain.sqlite');

  it('runs; the null mutant is silent with KL exactly 0; a mutant\'s stored KL equals a direct computation', async () => {
    const r = runCli(['run', spec, '--store', reference]);
    assert.equal(r.status, 0, r.stderr);
    const db = new Database(reference, { readonly: true });
    const nul = db.prepare('SELECT kl_mean, kl_max, loglik_change, argmax_changes, silent FROM results WHERE mutant_id = 0 AND assay_id = 4').get() as Record<string, number>;
    assert.deepEqual(nul, { kl_mean: 0, kl_max: 0, loglik_change: 0, argmax_changes: 0, silent: 1 });
    const acc = db.prepare('SELECT accuracy, accuracy_change FROM results WHERE mutant_id = 0 AND assay_id = 2').get() as Record<string, number>;
    assert.equal(acc.accuracy_change, 0);
    const probes = JSON.parse(db.prepare('SELECT prompt_ids_json FROM assays WHERE id = 4').pluck().get() as string) as number[][];
    // the text is scored from its first token, the baseline of "once" from its prompt's last token (its continuation)
    const onceprompt = JSON.parse(db.prepare('SELECT prompt_ids_json FROM assays WHERE id = 1').pluck().get() as string) as number[];
    const froms = [0, onceprompt.length - 1];
    const picks = db.prepare("SELECT m.id, r.kl_mean, r.kl_max, r.loglik_change, r.argmax_changes FROM results r JOIN mutants m ON m.id = r.mutant_id WHERE r.assay_id = 4 AND m.id IN (3, 40, 77)").all() as Record<string, number>[];
    db.close();

    // Direct computation: logits of the unmutated and of the mutated model over each text, KL in float64 here.
    const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const tf = new Transformer(model.config, model.weights, await selectBackend());
    const plan = Plan.of(loadScreenSpec(spec), model);
    const V = model.config.vocabSize;
    const logitsOf = (ids: number[]) => tf.forward([{ cache: tf.newCache(ids.length), tokens: ids }], 'all');
    const logSoftmax = (l: Float32Array, at: number) => {
      let m = -Infinity;
      for (let i = 0; i < V; i++) m = Math.max(m, l[at + i]);
      let s = 0;
      for (let i = 0; i < V; i++) s += Math.exp(l[at + i] - m);
      return Array.from({ length: V }, (_, i) => l[at + i] - m - Math.log(s));
    };
    const base = probes.map(logitsOf);
    for (const p of picks) {
      const mu = plan.mutant(p.id);
      const saved = mutate(mu.target!.weights, mu.unit!, mu.kind!, matrixStats(mu.target!.weights));
      const mut = probes.map(logitsOf);
      restore(saved);
      const kls: number[] = [];
      let dll = 0;
      let changes = 0;
      probes.forEach((ids, k) => {
        for (let t = froms[k]; t < ids.length; t++) {
          const a = logSoftmax(base[k], t * V);
          const b = logSoftmax(mut[k], t * V);
          kls.push(a.reduce((s, x, i) => s + Math.exp(x) * (x - b[i]), 0));
          if (t + 1 < ids.length) dll += b[ids[t + 1]] - a[ids[t + 1]];
          if (a.indexOf(Math.max(...a)) !== b.indexOf(Math.max(...b))) changes++;
        }
      });
      const mean = kls.reduce((s, x) => s + x, 0) / kls.length;
      // The store's values come from the fast path's batched products, these from unbatched ones: native fp32
      // logits differ in the last bits (up to 4e-5, see ties.ts), enough to move a KL near 0.05 by about 1e-6.
      assert.ok(Math.abs(p.kl_mean - mean) < 1e-5, `${mu.key}: stored KL mean ${p.kl_mean}, direct ${mean}`);
      assert.ok(Math.abs(p.kl_max - Math.max(...kls)) < 1e-5, `${mu.key}: stored KL max ${p.kl_max}, direct ${Math.max(...kls)}`);
      assert.ok(Math.abs(p.loglik_change - dll) < 1e-4, `${mu.key}: stored Δ log-likelihood ${p.loglik_change}, direct ${dll}`);
      assert.equal(p.argmax_changes, changes, mu.key);
    }
  });

  it('the plain path classifies every mutant as the fast path did', () => {
    const r = runCli(['run', spec, '--store', plain, '--plain']);
    assert.equal(r.status, 0, r.stderr);
    const a = rows(reference);
    const b = rows(plain);
    assert.equal(a.length, b.length);
    a.forEach((x, i) => {
      const y = b[i];
      for (const k of ['key', 'assay_id', 'silent', 'first_divergence', 'similarity', 'n_tokens', 'ids_json', 'accuracy', 'accuracy_change', 'argmax_changes']) assert.deepEqual(x[k], y[k], `${x.key} assay ${x.assay_id}: ${k}`);
      // Raw values may differ in the last bits (batched products sum in another order); decisions may not.
      for (const [k, tol] of [['kl_mean', 1e-5], ['kl_max', 1e-5], ['loglik_change', 1e-4]] as const)
        if (x[k] !== null) assert.ok(Math.abs((x[k] as number) - (y[k] as number)) < tol, `${x.key} assay ${x.assay_id}: ${k} ${x[k]} vs ${y[k]}`);
    });
  });

  it('resumes after kill -9 to the same store, exports the measured columns, and reports', async () => {
    const killed = join(dir.path, 'mixed-killed.sqlite');
    let kills = 0;
    for (let attempt = 0; attempt < 10 && kills < 3; attempt++) {
      const child = spawn(process.execPath, [CLI, 'run', spec, '--store', killed], { stdio: 'ignore' });
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 1500 + attempt * 700);
      const code = await exited;
      clearTimeout(timer);
      if (code === null) kills++;
      else break;
    }
    assert.ok(kills >= 1, 'killed at least once');
    const fin = runCli(['run', spec, '--store', killed]);
    assert.equal(fin.status, 0, fin.stderr);
    assert.deepEqual(rows(killed), rows(reference));

    const csv = join(dir.path, 'mixed.csv');
    assert.equal(runCli(['export', killed, '--format', 'csv', '--out', csv]).status, 0);
    const [head, ...lines] = readFileSync(csv, 'utf8').trim().split('\n');
    assert.ok(head.endsWith(',accuracy,accuracy_change,kl_mean,kl_max,loglik_change,argmax_changes,predicted_margin,predicted_step,layout'), head);
    assert.ok(lines.some((l) => /,facts,/.test(l)) && lines.some((l) => /,story-kl,/.test(l)));

    const st = runCli(['status', killed]);
    assert.match(st.stdout, /assay facts \(choice\): .*\n {2}accuracy: baseline [\d.]+ %/);
    assert.match(st.stdout, /assay story-kl \(likelihood\): .*\n {2}KL\(baseline ‖ mutant\): /);

    const out = join(dir.path, 'mixed-report');
    const rep = runCli(['report', killed, '--out', out]);
    assert.equal(rep.status, 0, rep.stderr);
    for (const f of ['values-facts.svg', 'values-story-kl.png', 'distribution-facts.png', 'distribution-story-kl.svg']) assert.ok(existsSync(join(out, 'figures', f)), f);
  });
});

describe('bad question files', () => {
  const screen = (name: string, data: string, more = '    shots: 0\n') =>
    file(`${name}.yaml`, `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["0.q"]\nunit: { block: 32 }\nkinds: [max]\nassays:\n  - name: facts\n    type: choice\n    data: ${data}\n    select: all\n${more}`);
  it('a missing column, a bad answer letter, an empty folder, too many shots: each a clear message', () => {
    const missing = file('short_test.csv', 'What?,a,b,c,A\n');
    expectCleanError(runCli(['run', screen('missing', missing), '--store', join(dir.path, 'm.sqlite')]), /a question has 5 fields, not 6 \(in .*short_test\.csv, record 1\)/);
    const letter = file('letter_test.csv', 'What?,a,b,c,d,A\nWhy?,a,b,c,d,E\n');
    expectCleanError(runCli(['run', screen('letter', letter), '--store', join(dir.path, 'l.sqlite')]), /the answer "E" is not one of A, B, C, D \(in .*letter_test\.csv, record 2\)/);
    const empty = join(dir.path, 'empty');
    mkdirSync(empty, { recursive: true });
    expectCleanError(runCli(['run', screen('empty', empty), '--store', join(dir.path, 'e.sqlite')]), /the question folder has no test\/\*\.csv files \(in .*empty\)/);
    expectCleanError(runCli(['run', screen('shots', MMLU, '    shots: 9\n    subjects: [global_facts]\n'), '--store', join(dir.path, 's.sqlite')]), /shots: 9 is more than the 5 dev examples of subject "global_facts" \(in .*shots\.yaml:\d+\) — use shots: 5 or fewer/);
    for (const f of ['m', 'l', 'e', 's']) assert.equal(existsSync(join(dir.path, `${f}.sqlite`)), false, `${f}: no store created`);
  });
});
