/** Screens: the screen file, the store, resuming, status and export. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parquetReadObjects } from 'hyparquet';
import { CLI, expectCleanError, runCli, storedCount, storeRows, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('screen');
after(() => dir.remove());

function screenFile(name: string, body: string): string {
  const f = join(dir.path, name);
  writeFileSync(f, body);
  return f;
}

const GOOD = `model: ${STORIES_BIN}
tokenizer: ${STORIES_TOK}
targets: ["4.down", "model.layers.0.self_attn.k_proj.weight"]
unit: { block: 16 }
kinds: [max, min, zero]
assays:
  - name: once
    type: generate
    prompt: "Once upon a time"
    max_length: 40
    temperature: 0
    seed: 1
  - name: lily
    type: generate
    prompt: "Lily and Tom went to the park"
    max_new_tokens: 20
    temperature: 0.8
    top_p: 0.9
    seed: 7
`;


describe('screen file errors name the key and line, and leave the store alone', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown target', GOOD.replace('"4.down"', '"4.dwn"'), /unknown target "4\.dwn" \(in .*unknown-target\.yaml:3\) — targets look like all, 0\.q, 3\.down, \*\.gate/],
    ['layer out of range', GOOD.replace('"4.down"', '"7.down"'), /target "7\.down": layer 7 does not exist \(in .*:3\) — the model has layers 0–4/],
    ['block size 0', GOOD.replace('block: 16', 'block: 0'), /block must be a whole number ≥ 1 \(in .*block-size-0\.yaml:4\)/],
    ['negative block size', GOOD.replace('block: 16', 'block: -4'), /block must be a whole number ≥ 1 \(in .*:4\)/],
    ['unknown kind', GOOD.replace('[max, min, zero]', '[max, maximum]'), /kinds\[1\]: unknown kind "maximum" \(in .*:5\) — allowed: max \| min \| zero \| negate \| value:<number> \| scale:<number>/],
    ['assay without prompt', GOOD.replace('    prompt: "Once upon a time"\n', ''), /assays\[0\] \("once"\) has no prompt \(in .*:7\) — add prompt: "\.\.\.", or preset: one of drosophila, python0/],
    ['prompt longer than the context', GOOD.replace('"Once upon a time"', `"${'Once upon a time there was a dog. '.repeat(80)}"`), /assay "once": the prompt is \d+ tokens, longer than the model's context of 512/],
    ['not YAML', 'model: [unclosed\n  targets: : :\n', /the screen file is not valid YAML: .* \(in .*not-YAML\.yaml:\d+\) — fix the YAML syntax/],
    ['unknown key', GOOD.replace('unit:', 'units:'), /unknown key "units" \(in .*:4\) — allowed here: model, tokenizer, targets, unit, kinds, assays, order, select, pairs$/m],
    ['max_length beyond the context', GOOD.replace('max_length: 40', 'max_length: 600'), /assay "once": max_length 600 is longer than the model's context of 512 \(in .*:\d+\) — give max_length ≤ 512, or max_new_tokens ≤ 50\d/],
    ['max_new_tokens beyond the context', GOOD.replace('max_new_tokens: 20', 'max_new_tokens: 700'), /assay "lily": the prompt \(\d+ tokens\) and max_new_tokens 700 need more than the model's context of 512 .* give max_new_tokens ≤ 50\d/],
    ['a misspelt select key', `${GOOD}select: { tpo: 3 }\n`, /unknown key "select\.tpo" \(in .*:\d+\) — allowed here: top, sample$/m],
    ['wrong type', GOOD.replace('temperature: 0\n', 'temperature: hot\n'), /assays\[0\]\.temperature must be a number ≥ 0 \(in .*:11\)/],
    ['unknown order', `${GOOD}order: random\n`, /order must be plan or predicted \(in .*unknown-order\.yaml:\d+\)/],
    ['budget of 0', `${GOOD}select: { top: 0 }\n`, /select\.top must be a whole number ≥ 1 \(in .*budget-of-0\.yaml:\d+\)/],
    ['a norm the family lacks', GOOD.replace('"4.down"', '"1.q_norm"'), /target "1\.q_norm": this model's layers have no q_norm \(in .*:3\) — its norm targets are attn_norm, ffn_norm/],
  ];
  for (const [name, body, pattern] of cases)
    it(name, () => {
      const f = screenFile(`${name.replaceAll(' ', '-')}.yaml`, body);
      const store = join(dir.path, `${name.replaceAll(' ', '-')}.sqlite`);
      expectCleanError(runCli(['run', f, '--store', store]), pattern);
      assert.throws(() => statSync(store), 'no store is created for a screen file that fails validation');
    });
});

describe('a screen, resumed, exported', () => {
  const good = screenFile('good.yaml', GOOD);
  const store = join(dir.path, 'good.sqlite');

  it('runs, starts with a silent null mutant, and refuses a second run of another screen', () => {
    const r = runCli(['run', good, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /screen complete: 157 mutants/); // (4 × 11 + 2 × 4 blocks) × 3 kinds + the null mutant
    const db = new Database(store, { readonly: true });
    const nul = db.prepare("SELECT r.silent FROM results r JOIN mutants m ON m.id = r.mutant_id WHERE m.kind = 'null'").pluck().all();
    assert.deepEqual(nul, [1, 1]);
    assert.equal(db.prepare('SELECT count(*) FROM results').pluck().get(), 157 * 2);
    db.close();

    const before = readFileSync(store);
    const other = screenFile('other.yaml', GOOD.replace('max_length: 40', 'max_length: 41'));
    expectCleanError(runCli(['run', other, '--store', store]), /the store was made from another screen file.*use a new --store file for this screen/);
    expectCleanError(runCli(['run', good, '--store', store, '--backend', 'ts']), /computed with the native backend, not ts.*resume with --backend native/);
    assert.deepEqual(readFileSync(store), before, 'a refused store is left exactly as it was');
    const again = runCli(['run', good, '--store', store]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /resuming .*: 157 of 157 mutants already done/);
  });

  it('refuses a store that is not SQLite, and a store location it cannot write', () => {
    const notDb = join(dir.path, 'notes.sqlite');
    writeFileSync(notDb, 'these are my notes, not a database\n'.repeat(100));
    const before = readFileSync(notDb);
    expectCleanError(runCli(['run', good, '--store', notDb]), /this file is not an SQLite database \(file is not a database\).*give --store a new file name/);
    assert.deepEqual(readFileSync(notDb), before);
    expectCleanError(runCli(['run', good, '--store', '/proc/mutascan-test/s.sqlite']), /cannot create the store: the folder \/proc\/mutascan-test does not exist/);
    expectCleanError(runCli(['run', good, '--store', '/proc/s.sqlite']), /cannot create the store: .* — choose a --store path in a folder you can write to/);
    expectCleanError(runCli(['status', join(dir.path, 'missing.sqlite')]), /no such store.*run `mutascan run screen\.yaml --store FILE` first/);
  });

  it('status counts per assay and matrix type', () => {
    const r = runCli(['status', store, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.total, 156);
    assert.equal(s.done, 156);
    assert.deepEqual(s.assays.map((a: { assay: string }) => a.assay), ['once', 'lily']);
    for (const a of s.assays) {
      assert.deepEqual(a.byMatrix.map((m: { matrix: string }) => m.matrix), ['k', 'down']);
      assert.equal(a.byMatrix.reduce((n: number, m: { done: number }) => n + m.done, 0), 156);
      assert.ok(a.nsm > 0 && a.nsm <= 156);
    }
    const text = runCli(['status', store]);
    assert.match(text.stdout, /156 of 156 mutants done \(100\.0 %\)\nassay once \(generate\): \d+ NSMs of 156/);
  });

  it('exports CSV and Parquet with the documented columns', async () => {
    const cols = 'mutant_id,key,target,tensor,row,col,rows,cols,kind,value,assay,silent,phenotype,first_divergence,similarity,destructive,n_tokens,tie,text,accuracy,accuracy_change,kl_mean,kl_max,loglik_change,argmax_changes,predicted_margin,predicted_step,layout';
    const csv = join(dir.path, 'out.csv');
    assert.equal(runCli(['export', store, '--format', 'csv', '--out', csv]).status, 0);
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], cols);
    const k = lines.find((l) => l.startsWith('1,'))!;
    assert.match(k, /^1,"0\.k:0,0\+16x16:max",0\.k,model\.layers\.0\.self_attn\.k_proj\.weight,0,0,16,16,max,[-\d.e]+,once,(true|false),/);
    const pq = join(dir.path, 'out.parquet');
    assert.equal(runCli(['export', store, '--format', 'parquet', '--out', pq]).status, 0);
    const buf = readFileSync(pq);
    const rows = await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) });
    assert.equal(rows.length, 157 * 2);
    assert.deepEqual(Object.keys(rows[0]), cols.split(','));
    const downMin = rows.find((r) => r.key === '4.down:48,160+16x12:min' && r.assay === 'lily')!;
    assert.equal(downMin.cols, 12, 'edge blocks are partial, never dropped');
    assert.equal(typeof downMin.silent, 'boolean');
    expectCleanError(runCli(['export', store, '--format', 'xlsx', '--out', pq]), /unknown export format "xlsx".*use csv, parquet or scores/);
  });
});

describe('the store remembers what the screen file named', () => {
  it("a llama2.c model's tokenizer, so that phenotypes load the model as the run did", () => {
    // the model alone in a folder: nothing beside it says which tokenizer it has
    const models = join(dir.path, 'lonely');
    mkdirSync(models);
    copyFileSync(STORIES_BIN, join(models, 'stories260K.bin'));
    const spec = screenFile('lonely.yaml', GOOD.replace(STORIES_BIN, join(models, 'stories260K.bin')).replace('targets: ["4.down", "model.layers.0.self_attn.k_proj.weight"]', 'targets: ["4.down"]'));
    const store = join(dir.path, 'lonely.sqlite');
    assert.equal(runCli(['run', spec, '--store', store]).status, 0);
    const r = runCli(['phenotypes', store, '--assay', 'once', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /could not be loaded|no tokenizer/);
    const [once] = JSON.parse(r.stdout) as { clusters: number; families: { cluster: number | null }[] }[];
    assert.ok(once.families.length > 0 && once.families.every((f) => f.cluster !== null), 'every phenotype has a cluster of the model\'s embeddings');
  });
});

describe('norm vectors as targets', () => {
  it('are named by short form, layer wildcard and checkpoint name, run fast as plain, and stay out of predictions', () => {
    const body = GOOD.replace('targets: ["4.down", "model.layers.0.self_attn.k_proj.weight"]', 'targets: ["2.norms", "model.layers.4.post_attention_layernorm.weight", "final_norm", "0.attn_norm"]')
      .replace('block: 16', 'block: 4');
    const spec = screenFile('norms.yaml', body);
    const fast = join(dir.path, 'norms-fast.sqlite');
    const plain = join(dir.path, 'norms-plain.sqlite');
    for (const [store, extra] of [[fast, []], [plain, ['--plain']]] as const) {
      const r = runCli(['run', spec, '--store', store, ...extra]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /screen complete: 241 mutants/); // 5 vectors of 64 in units of 4, × 3 kinds, + the null mutant
    }
    assert.deepEqual(storeRows(fast), storeRows(plain));
    const db = new Database(fast, { readonly: true });
    const targets = db.prepare('SELECT short, tensor, matrix, rows, cols FROM targets ORDER BY id').all();
    assert.deepEqual(targets, [
      { short: '0.attn_norm', tensor: 'model.layers.0.input_layernorm.weight', matrix: 'attn_norm', rows: 1, cols: 64 },
      { short: '2.attn_norm', tensor: 'model.layers.2.input_layernorm.weight', matrix: 'attn_norm', rows: 1, cols: 64 },
      { short: '2.ffn_norm', tensor: 'model.layers.2.post_attention_layernorm.weight', matrix: 'ffn_norm', rows: 1, cols: 64 },
      { short: '4.ffn_norm', tensor: 'model.layers.4.post_attention_layernorm.weight', matrix: 'ffn_norm', rows: 1, cols: 64 },
      { short: 'final_norm', tensor: 'model.norm.weight', matrix: 'final_norm', rows: 1, cols: 64 },
    ]);
    const nsm = db.prepare('SELECT count(*) FROM results WHERE silent = 0').pluck().get() as number;
    db.close();
    assert.ok(nsm > 10 && nsm < 480, `${nsm} NSMs of 480`);
    expectCleanError(runCli(['predict', spec, '--store', join(dir.path, 'norms-predict.sqlite')]), /first-order predictions cover weight matrices, and the screen lists norm vectors \(0\.attn_norm, 2\.attn_norm, 2\.ffn_norm, …\)/);
    const g = runCli(['generate', STORIES_BIN, '--tokenizer', STORIES_TOK, '--prompt', 'Once upon a time', '--max-new-tokens', '8', '--temperature', '0', '--mutate', 'final_norm:0,0+1x64:zero']);
    assert.equal(g.status, 0, g.stderr);
  });
});

describe('kill -9 at random moments, resume each time', () => {
  const body = GOOD.replace('targets: ["4.down", "model.layers.0.self_attn.k_proj.weight"]', 'targets: ["3.gate", "3.up"]').replace('block: 16', 'block: 4').replace('[max, min, zero]', '[max, min]');
  const spec = screenFile('kill.yaml', body);

  it('the final store has every mutant exactly once and equals an uninterrupted run', async () => {
    const reference = join(dir.path, 'kill-reference.sqlite');
    const ref = runCli(['run', spec, '--store', reference]);
    assert.equal(ref.status, 0, ref.stderr);
    const killed = join(dir.path, 'kill.sqlite');
    // Reproducible "random" moments: a seeded LCG, between 0.4 s and 2.4 s into each run.
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let kills = 0;
    for (let attempt = 0; attempt < 12 && kills < 5; attempt++) {
      const child = spawn(process.execPath, [CLI, 'run', spec, '--store', killed], { stdio: 'ignore' });
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 400 + rand() * 2000);
      const code = await exited;
      clearTimeout(timer);
      if (code === null) kills++;
      else break;
    }
    assert.ok(kills >= 5, `killed ${kills} times`);
    const fin = runCli(['run', spec, '--store', killed]);
    assert.equal(fin.status, 0, fin.stderr);
    const db = new Database(killed, { readonly: true });
    const counts = db.prepare('SELECT count(*) AS n, count(DISTINCT mutant_id || \'/\' || assay_id) AS d FROM results').get() as { n: number; d: number };
    const total = db.prepare('SELECT total_mutants FROM screen').pluck().get() as number;
    assert.equal(db.prepare('SELECT count(*) FROM mutants WHERE done = 0').pluck().get(), 0);
    db.close();
    assert.equal(counts.n, counts.d, 'no mutant stored twice');
    assert.equal(counts.n, total * 2, 'no mutant missing');
    assert.deepEqual(storeRows(killed), storeRows(reference));

    // Ctrl-C: stops after the batch in flight, says how to resume, exits 130; the same command finishes the screen.
    const interrupted = join(dir.path, 'sigint.sqlite');
    const child = spawn(process.execPath, [CLI, 'run', spec, '--store', interrupted], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Ctrl-C as soon as the run has begun storing (the null mutant comes first): a fixed delay raced the screen's
    // end once screens got faster, and the first chunks are small, so the one in flight is not the last.
    const stored = (): number => storedCount(interrupted);
    for (let waited = 0; stored() < 1; waited += 25) {
      assert.ok(waited < 60000 && child.exitCode === null, `the run stored no chunk of results: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /stopping after the batch in flight[\s\S]*stopped with \d+ of \d+ mutants stored; run the same command to resume/);
    assert.equal(runCli(['run', spec, '--store', interrupted]).status, 0);
    assert.deepEqual(storeRows(interrupted), storeRows(reference));
  });
});
