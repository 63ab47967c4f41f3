/**
 * First-order predictions (src/model/backward.ts, src/predict/): gradients against torch.autograd on the
 * suite's PyTorch reference, step margins against the sampler's own, and the predictions' ranking against
 * run.c's complete screens (the outcomes come from llama2.c, not from mutascan).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TsBackend } from '../src/backend/ts-backend.js';
import { backward, backwardGroups, record, type Objective } from '../src/model/backward.js';
import { Transformer } from '../src/model/forward.js';
import { generateIds } from '../src/model/generate.js';
import { loadModel } from '../src/model/model.js';
import { choose, coins, type Sampling } from '../src/model/sampler.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { allMatrices, type Matrix } from '../src/model/weights.js';
import { predictScreen } from '../src/predict/predict.js';
import { matrixStats, writtenValue } from '../src/screen/mutate.js';
import { prepareScreen } from '../src/screen/runner.js';
import { stepObjective } from '../src/predict/objectives.js';
import { EXPECTED, expectCleanError, LLAMA2_TOK, PYTHON, ROOT, runCli, SHARED, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';
import { storeFromRunc } from './runc-store.js';
import { compareWithFixture, fixtureKey, loadFixtureScreen, storedResults } from './fixture-compare.js';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';

interface GradJob {
  model: string;
  ids: number[];
  objectives: { position: number; dlogits: number[] }[];
  matrices: string[];
}

function torchGradients(jobs: GradJob[]): Record<string, number[]>[][] {
  const r = spawnSync(PYTHON, [join(ROOT, 'test', 'reference', 'grad_reference.py')], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 1 << 30, cwd: join(ROOT, 'test', 'reference') });
  if (r.status !== 0) throw new Error(`gradient reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const base: SynthSpec = {
  architecture: 'llama', dim: 48, hiddenDim: 83, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 512, maxSeqLen: 64,
  tied: true, dtype: 'F32', shards: 1, seed: 1, tokenizer: STORIES_TOK,
};
const variants: { name: string; spec: Partial<SynthSpec> }[] = [
  { name: 'llama f32, tied, GQA', spec: {} },
  { name: 'qwen2 (q/k/v bias), untied lm_head, 5 heads over 1 kv head', spec: { architecture: 'qwen2', dim: 40, nHeads: 5, nKvHeads: 1, tied: false, ropeTheta: 1000000, normEps: 1e-6 } },
  { name: 'mistral bf16, sliding window 5', spec: { architecture: 'mistral', dtype: 'BF16', slidingWindow: 5, nHeads: 8, nKvHeads: 4, dim: 64 } },
  { name: 'llama, head_dim ≠ dim/heads, llama3 rope scaling', spec: { headDim: 16, nHeads: 4, nKvHeads: 2, dim: 48, ropeTheta: 500000, ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } } },
];

describe('the backward pass against torch.autograd', () => {
  const dir = tempDir('grad');
  const folders: { name: string; path: string }[] = [];
  before(() => {
    const conv = join(dir.path, 'stories260K');
    const r = runCli(['convert', STORIES_BIN, '--tokenizer', STORIES_TOK, '--out', conv]);
    assert.equal(r.status, 0, r.stderr);
    folders.push({ name: 'stories260K (converted to a Hugging Face folder)', path: conv });
    variants.forEach((v, i) => {
      const p = join(dir.path, String(i));
      writeSynthModel(p, { ...base, seed: 300 + i, ...v.spec });
      folders.push({ name: `random ${v.name}`, path: p });
    });
  });
  after(() => dir.remove());

  it('every matrix\'s gradient of greedy and sampled step margins is within 1e-4 (relative to its largest) of PyTorch\'s', () => {
    const jobs: GradJob[] = [];
    const ours: Map<string, Float32Array>[][] = [];
    for (const f of folders) {
      const m = loadModel(f.path);
      const tf = new Transformer(m.config, m.weights, new TsBackend());
      const prompt = m.tokenizer.encode('Once upon a time', { bos: true });
      const gen = generateIds(tf, prompt, { temperature: 0, topP: 1, topK: 0, seed: 1, maxNewTokens: 12 }, []);
      const tokens = [...prompt, ...gen.ids.slice(0, -1)];
      const tape = record(tf, tokens);
      const V = m.config.vocabSize;
      const sampled: Sampling = { temperature: 0.7, topP: 0.9, topK: 0, seed: 5 };
      const coin = coins(5, 1)[0];
      // greedy margins at three steps, a sampled step's margin (dense over the vocabulary), a top-k one
      const objectives: Objective[] = [
        stepObjective(tape.logits, (prompt.length - 1) * V, V, gen.ids[0], { temperature: 0, topP: 1, topK: 0, seed: 0 }, 0, prompt.length - 1),
        stepObjective(tape.logits, (prompt.length + 4) * V, V, gen.ids[5], { temperature: 0, topP: 1, topK: 0, seed: 0 }, 0, prompt.length + 4),
        stepObjective(tape.logits, (tokens.length - 1) * V, V, gen.ids[gen.ids.length - 1], { temperature: 0, topP: 1, topK: 0, seed: 0 }, 0, tokens.length - 1),
        stepObjective(tape.logits, (prompt.length + 2) * V, V, choose(tape.logits, sampled, coin, (prompt.length + 2) * V, V).token, sampled, coin, prompt.length + 2),
        stepObjective(tape.logits, (prompt.length + 7) * V, V, choose(tape.logits, { ...sampled, topP: 1, topK: 40 }, coin, (prompt.length + 7) * V, V).token, { ...sampled, topP: 1, topK: 40 }, coin, prompt.length + 7),
      ];
      const names = [...allMatrices(m.weights).keys()];
      const got: Map<string, Float32Array>[] = objectives.map(() => new Map());
      backward(tf, tape, objectives, (g) => {
        objectives.forEach((_, s) => {
          const out = new Float32Array(g.matrix.rows * g.matrix.cols);
          g.of(s, out);
          got[s].set(g.matrix.name, out);
        });
      });
      for (const n of names) assert.ok(got[0].has(n), `${f.name}: ${n} was never visited`);
      // the same objectives in groups going back together (as predict cuts a long generation): the same gradients
      const groups = [objectives.slice(0, 2), objectives.slice(2)];
      backwardGroups(tf, tape, groups, (g, i) => {
        groups[i].forEach((_, k) => {
          const out = new Float32Array(g.matrix.rows * g.matrix.cols);
          g.of(k, out);
          const want = got[i * 2 + k].get(g.matrix.name)!;
          let scale = 0;
          let d = 0;
          for (let x = 0; x < want.length; x++) {
            scale = Math.max(scale, Math.abs(want[x]));
            d = Math.max(d, Math.abs(want[x] - out[x]));
          }
          assert.ok(d <= 1e-6 * scale, `${f.name}: ${g.matrix.name}, objective ${i * 2 + k} in groups: off by ${d} of ${scale}`);
        });
      });
      ours.push(got);
      jobs.push({ model: f.path, ids: tokens, objectives: objectives.map((o) => ({ position: o.position, dlogits: Array.from(o.dlogits) })), matrices: names });
    }
    const ref = torchGradients(jobs);
    folders.forEach((f, j) =>
      ref[j].forEach((perMatrix, s) => {
        for (const [name, want] of Object.entries(perMatrix)) {
          const have = ours[j][s].get(name)!;
          let scale = 0;
          let d = 0;
          for (let i = 0; i < want.length; i++) {
            scale = Math.max(scale, Math.abs(want[i]));
            d = Math.max(d, Math.abs(want[i] - have[i]));
          }
          assert.ok(scale > 0, `${f.name}, objective ${s}: ${name}'s gradient is zero in PyTorch`);
          assert.ok(d <= 1e-4 * scale, `${f.name}, objective ${s}, ${name}: max |Δ| ${d.toExponential(2)} against max |g| ${scale.toExponential(2)}`);
        }
      }),
    );
  });
});

describe('step margins', () => {
  it('are the sampler\'s margins, and their gradients its finite differences (greedy, top-p, top-k, plain sampling)', () => {
    const m = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const tf = new Transformer(m.config, m.weights, new TsBackend());
    const V = m.config.vocabSize;
    const logits = tf.forward([{ cache: tf.newCache(8), tokens: m.tokenizer.encode('Once upon a time there', { bos: true }) }], 'last');
    const settings: Sampling[] = [
      { temperature: 0, topP: 1, topK: 0, seed: 0 },
      { temperature: 0.7, topP: 0.9, topK: 0, seed: 0 },
      { temperature: 1, topP: 1, topK: 20, seed: 0 },
      { temperature: 1.3, topP: 1, topK: 0, seed: 0 },
    ];
    let checked = 0;
    for (const s of settings)
      for (const coin of [0.05, 0.31, 0.62, 0.93]) {
        const c = choose(logits, s, coin, 0, V);
        const o = stepObjective(logits, 0, V, c.token, s, coin, 0);
        assert.ok(Math.abs(o.margin - c.margin) < 1e-5, `margin ${o.margin} vs the sampler's ${c.margin} (${JSON.stringify(s)}, coin ${coin})`);
        // finite differences of the sampler's own margin along the largest gradient entries
        const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => Math.abs(o.dlogits[b]) - Math.abs(o.dlogits[a]));
        for (const v of order.slice(0, 3)) {
          const h = 1e-2 * Math.max(1e-3, Math.min(1, c.margin));
          const up = logits.slice();
          up[v] += h;
          const dn = logits.slice();
          dn[v] -= h;
          const cu = choose(up, s, coin, 0, V);
          const cd = choose(dn, s, coin, 0, V);
          if (cu.token !== c.token || cd.token !== c.token) continue;
          // where the coin is as near one edge as the other, the margin (a min of two) has a kink: no derivative
          const right = (cu.margin - c.margin) / h;
          const left = (c.margin - cd.margin) / h;
          if (Math.abs(right - left) > 0.1 * Math.max(Math.abs(right), Math.abs(left))) continue;
          const fd = (cu.margin - cd.margin) / (2 * h);
          assert.ok(Math.abs(fd - o.dlogits[v]) <= 2e-2 * Math.abs(o.dlogits[v]) + 1e-3, `∂margin/∂z[${v}]: ${o.dlogits[v]} vs finite difference ${fd} (${JSON.stringify(s)}, coin ${coin})`);
          checked++;
        }
      }
    assert.ok(checked >= 30, `only ${checked} finite differences checked`);
  });
});

describe('predictions against run.c\'s complete screens (the main job\'s: test/report.test.ts)', () => {
  const tmp = tempDir('predict');
  after(() => tmp.remove());

  const figures = (out: string): { auroc: number; recall: number } => {
    const m = /AUROC ([\d.]+), recall of NSMs in the top 10\.0 %: ([\d.]+) %/.exec(out);
    assert.ok(m, out);
    return { auroc: Number(m[1]), recall: Number(m[2]) / 100 };
  };

  // Measured 2026-12-01: AUROC 0.798 (a sampled screen of 1.k with seed 42: 0.957). Under sampling 97 % are NSMs, and
  // max/min writes into a gate are far from first-order small; the floor here guards against losing that ranking.
  it('a sampled element screen (3.gate, temperature 0.7, top-p 0.9): predictions rank its NSMs well above chance', async () => {
    const spec = join(tmp.path, 't07.yaml');
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: [3.gate]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 7\n`,
    );
    const store = join(tmp.path, 't07.sqlite');
    await storeFromRunc(join(EXPECTED, 'screen-once-t07-s1-3gate.jsonl.gz'), spec, store);
    const r = runCli(['predict', spec, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /against the 22,016 screened mutants \(21,299 NSMs\)/);
    const q = figures(r.stdout);
    assert.ok(q.auroc >= 0.75, `AUROC ${q.auroc}`);
  });
});

describe('predictions of block, row and column mutants', () => {
  const tmp = tempDir('units');
  after(() => tmp.remove());
  // the fold sums each unit's cells in one row-by-row sweep; here each unit is summed cell by cell, apart
  for (const unit of ['{ block: 5 }', 'row', 'col'])
    it(`unit ${unit}: the lowest over steps of the baseline margin + Σ over its cells of (written − old) · ∂margin/∂W`, async () => {
      const spec = join(tmp.path, `${unit.replace(/\W/g, '')}.yaml`);
      writeFileSync(spec, `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: [1.k, 4.down]\nunit: ${unit}\nkinds: [max, min]\nassays:\n  - { name: once, type: generate, prompt: "Once upon a time", max_length: 20, temperature: 0 }\n`);
      const p = await prepareScreen(spec, 'ts');
      const [pred] = predictScreen(p.tf, p.plan, p.assays);
      const a = p.assays[0];
      if (a.type !== 'generate') throw new Error('a generate assay');
      const V = p.model.config.vocabSize;
      const P = a.promptIds.length;
      const base = a.baseline.ids;
      const tape = record(p.tf, [...a.promptIds, ...base.slice(0, -1)]);
      const objectives = base.map((token, t) => stepObjective(tape.logits, (P - 1 + t) * V, V, token, a.settings, 0, P - 1 + t));
      const grads = new Map<Matrix, Float32Array[]>();
      backward(p.tf, tape, objectives, (g) => {
        if (!p.plan.targets.some((t) => t.weights === g.matrix)) return;
        grads.set(g.matrix, objectives.map((_, s) => {
          const out = new Float32Array(g.matrix.rows * g.matrix.cols);
          g.of(s, out);
          return out;
        }));
      });
      let checked = 0;
      for (let o = 1; o < p.plan.total; o++) {
        const mu = p.plan.mutant(o);
        const w = mu.target!.weights;
        const stats = matrixStats(w);
        const G = grads.get(w)!;
        let want = Infinity;
        objectives.forEach((obj, s) => {
          let sum = 0;
          for (let r = mu.unit!.row; r < mu.unit!.row + mu.unit!.rows; r++)
            for (let c = mu.unit!.col; c < mu.unit!.col + mu.unit!.cols; c++) {
              const old = (w.data as Float32Array)[r * w.cols + c];
              sum += (Math.fround(writtenValue(w, mu.kind!, old, stats)) - old) * G[s][r * w.cols + c];
            }
          want = Math.min(want, obj.margin + sum);
        });
        const have = pred!.margin[o];
        assert.ok(Math.abs(have - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${mu.key}: predicted ${have}, cell by cell ${want}`);
        checked++;
      }
      assert.equal(checked, p.plan.total - 1);
    });
});

const MMLU = join(SHARED, 'data', 'mmlu');

describe('predictions of choice assays (each question\'s answer margin)', () => {
  const tmp = tempDir('choice-predict');
  after(() => tmp.remove());
  const spec = join(tmp.path, 'choice.yaml');
  before(() =>
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: [1.k, 4.down]\nunit: { block: 4 }\nkinds: [max, min]\nassays:\n` +
        `  - { name: facts, type: choice, data: ${MMLU}, subjects: [global_facts, virology], shots: 0, scoring: letters, select: { first: 4 } }\n` +
        `  - { name: guess, type: choice, data: ${MMLU}, subjects: [global_facts], shots: 0, scoring: next-token, temperature: 0, select: { first: 6 } }\n`,
    ),
  );

  it('letters and next-token answers: predictions rank the exhaustive screen\'s NSMs far above chance; --budget runs on them', () => {
    const store = join(tmp.path, 'all.sqlite');
    const run = runCli(['run', spec, '--store', store]);
    assert.equal(run.status, 0, run.stderr);
    const r = runCli(['predict', spec, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    const quality = (assay: string, questions: number) => {
      const m = new RegExp(`assay ${assay}: 1,632 mutants predicted from ${questions} questions .*\\n  against the 1,632 screened mutants \\(([\\d,]+) NSMs\\): AUROC ([\\d.]+), recall of NSMs in the top 10\\.0 %: ([\\d.]+) %`).exec(r.stdout);
      assert.ok(m, r.stdout);
      return { nsms: Number(m[1].replace(/,/g, '')), auroc: Number(m[2]), recall: Number(m[3]) };
    };
    const letters = quality('facts', 8);
    const next = quality('guess', 6);
    // the toy model's letter margins are wide: its few NSMs all rank in the top tenth
    assert.ok(letters.nsms >= 1 && letters.recall === 100, JSON.stringify(letters));
    assert.ok(next.nsms > 100 && next.auroc > 0.9, JSON.stringify(next));
    const budget = runCli(['run', spec, '--store', join(tmp.path, 'budget.sqlite'), '--budget', '300', '--jobs', '1']);
    assert.equal(budget.status, 0, budget.stderr);
    assert.match(budget.stderr, /budget done: the top 300 mutants by predicted margin and a random sample of 200 others screened/);
    assert.match(budget.stderr, /facts: .*NSMs/);
    assert.match(budget.stderr, /guess: .*NSMs/);
  });
});

describe('guided runs (run --order predicted, --budget) on stories260K, checked against run.c\'s element screen', () => {
  const tmp = tempDir('guided');
  after(() => tmp.remove());
  const spec = join(tmp.path, 'three.yaml');
  // three matrices of the main job (same prompt and steps), so run.c's complete element screen knows every answer
  const text = `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: [1.k, 3.gate, 4.down]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 48\n    temperature: 0\n    seed: 1\n`;
  let fixture: ReturnType<typeof loadFixtureScreen>;
  let truth: Map<string, boolean>;
  before(() => {
    writeFileSync(spec, text);
    fixture = loadFixtureScreen(join(EXPECTED, 'screen-once-greedy-s1.jsonl.gz'));
    truth = new Map(fixture.mutants.map((m) => [fixtureKey(m), !m.silent]));
  });

  it('predict on a new store plans the screen without screening it; export lists every planned mutant with its prediction', () => {
    const store = join(tmp.path, 'new.sqlite');
    const r = runCli(['predict', spec, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /48,128 mutants predicted from 44 steps .* [\d,]+ predicted NSMs/);
    assert.match(r.stdout, /created .*new\.sqlite \(48,129 mutants planned\)/);
    assert.doesNotMatch(r.stdout, /screened mutants/);
    const st = runCli(['status', store]);
    assert.match(st.stdout, /0 of 48128 mutants done/);
    assert.match(st.stdout, /predictions \(mutascan predict\), assay once: 48,128 mutants predicted, [\d,]+ of them predicted NSMs/);
    const csv = join(tmp.path, 'new.csv');
    assert.equal(runCli(['export', store, '--format', 'csv', '--out', csv]).status, 0);
    const rows = parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 48128);
    assert.equal(rows[0].key, '1.k:0,0+1x1:max');
    assert.equal(rows[0].silent, '', 'not screened: no outcome');
    assert.ok(rows.every((x) => x.predicted_margin !== '' && Number.isFinite(Number(x.predicted_margin)) && /^\d+$/.test(x.predicted_step)));
  });

  it('--budget screens the top by predicted margin and a random sample, and its estimate of the NSMs missed covers the true number', () => {
    const store = join(tmp.path, 'budget.sqlite');
    const r = runCli(['run', spec, '--store', store, '--budget', '4000', '--jobs', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /budget done: the top 4,000 mutants by predicted margin and a random sample of 400 others screened/);
    const db = new Database(store, { readonly: true });
    try {
      const done = db.prepare('SELECT count(*) FROM mutants WHERE done = 1 AND id > 0').pluck().get() as number;
      assert.equal(done, 4400);
      const e = db.prepare('SELECT * FROM estimates').get() as Record<string, number>;
      const missedKeys = db.prepare('SELECT key FROM mutants WHERE done = 0').pluck().all() as string[];
      const trulyMissed = missedKeys.filter((k) => truth.get(k)).length;
      const topKeys = db.prepare('SELECT key FROM mutants WHERE done = 1 AND id > 0').pluck().all() as string[];
      assert.equal(e.unscreened, missedKeys.length);
      assert.ok(e.missed_low <= trulyMissed && trulyMissed <= e.missed_high, `true missed ${trulyMissed}, estimate ${e.missed} (${e.missed_low}–${e.missed_high})`);
      // the budget is worth having: its top holds NSMs far above their share in the screen
      const share = [...truth.entries()].filter(([k]) => /^(1\.k|3\.gate|4\.down):/.test(k));
      const overall = share.filter(([, v]) => v).length / share.length;
      assert.ok(e.found / e.budget > 5 * overall, `NSM share in the top ${e.found / e.budget} vs ${overall} overall`);
      assert.ok(topKeys.length === 4400);
      assert.match(runCli(['status', store]).stdout, /budget of 4,000: .* about [\d,]+ NSMs missed/);
    } finally {
      db.close();
    }
  });

  it('--order predicted finds the NSMs first, and the finished screen equals run.c\'s answers (the order changes no outcome)', () => {
    const store = join(tmp.path, 'ordered.sqlite');
    const first = runCli(['run', spec, '--store', store, '--order', 'predicted', '--limit', '4000']);
    assert.equal(first.status, 0, first.stderr);
    const db = new Database(store, { readonly: true });
    const early = db.prepare('SELECT avg(silent = 0) FROM results WHERE mutant_id > 0').pluck().get() as number;
    db.close();
    const all = [...truth.entries()].filter(([k]) => /^(1\.k|3\.gate|4\.down):/.test(k));
    const overall = all.filter(([, v]) => v).length / all.length;
    assert.ok(early > 5 * overall, `NSM share of the first 4,000: ${early}, of the screen: ${overall}`);
    const rest = runCli(['run', spec, '--store', store, '--order', 'predicted']);
    assert.equal(rest.status, 0, rest.stderr);
    assert.match(rest.stderr, /screen complete: 48129 mutants/);
    const stored = storedResults(store);
    const c = compareWithFixture(stored, fixture.mutants.filter((m) => /^(1\.k|3\.gate|4\.down)$/.test(m.target)));
    assert.equal(c.compared, 48128);
    assert.deepEqual(c.missing, []);
    // as in plain order: an answer other than run.c's only where the store flags a float32 near-tie
    const unflagged = c.different.filter((k) => !stored.get(k)!.tie);
    assert.deepEqual(unflagged, []);
  });
});

describe('the scout, and a super weight planted in a synthetic model', () => {
  const tmp = tempDir('scout');
  after(() => tmp.remove());

  it('synth --plant-super-weight: the scout names the planted weight first, and zeroing it (generate --mutate) changes the output where zeroing its neighbours does not', () => {
    const dir = join(tmp.path, 'smol');
    const s = runCli(['synth', '--like', 'smollm-135m', '--layers', '4', '--out', dir, '--tokenizer', join(LLAMA2_TOK, 'tokenizer.bin'), '--plant-super-weight', '1,100,700']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /planted a super weight: layer 1 down_proj \[100, 700\] = [\d.]+.*1\.down:100,700\+1x1:zero/);
    const scout = runCli(['scout', dir, '--prompt', 'Once upon a time', '--json']);
    assert.equal(scout.status, 0, scout.stderr);
    const found = JSON.parse(scout.stdout) as { layer: number; row: number; col: number; ratio: number; share: number; key: string }[];
    assert.deepEqual([found[0].layer, found[0].row, found[0].col], [1, 100, 700]);
    assert.ok(found[0].ratio > 20 * found[1].ratio, `the planted channel stands out: ${found[0].ratio} vs ${found[1].ratio}`);
    assert.ok(found[0].share > 0.9, `the planted weight makes the peak: ${found[0].share}`);
    const gen = (...mutate: string[]) => {
      const r = runCli(['generate', dir, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '12', '--json', ...mutate.flatMap((k) => ['--mutate', k])]);
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { ids: number[] }).ids;
    };
    const base = gen();
    assert.notDeepEqual(gen(found[0].key), base, 'zeroing the super weight changes the output');
    assert.deepEqual(gen('1.down:100,701+1x1:zero', '1.down:101,700+1x1:zero', '1.down:99,699+1x1:zero'), base, 'zeroing its neighbours does not');
    // one element may be named without its size (1 × 1)
    assert.deepEqual(gen('1.down:100,700:zero'), gen(found[0].key));
    expectCleanError(runCli(['generate', dir, '--prompt', 'x', '--mutate', '1.down:100;700:zero']), /is not a mutant name.*1\.down:2533,7890\+1x1:zero/);
    expectCleanError(runCli(['synth', '--like', 'smollm-135m', '--layers', '2', '--out', join(tmp.path, 'bad'), '--plant-super-weight', '1,100']), /not LAYER,ROW,COL/);
  });
});
