/**
 * Scale-out with a real redis-server: a screen over 3 worker processes equals a single-process run; kill -9
 * of random workers at random moments and a Redis restart lose and duplicate nothing; a worker with another
 * model file is refused while the others finish; a batch that always fails is parked and shown by status.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, runCli, storedCount, storeRows, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';
import { Store } from '../src/store/store.js';
import { StoreWatch } from '../src/serve/watch.js';
import { RedisServer } from './redis-server.js';
import { ISA_LEVELS, loadAddon } from '../src/backend/native-backend.js';
import { writeSynthModel } from '../src/make/synth.js';

const dir = tempDir('scale');
let redis: RedisServer;
before(async () => {
  redis = await RedisServer.start();
});
after(async () => {
  await redis?.stop();
  dir.remove();
});

const screen = (name: string, targets: string) => {
  const f = join(dir.path, `${name}.yaml`);
  writeFileSync(f, `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: [${targets}]\nunit: { block: 4 }\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 40\n  - name: lily\n    type: generate\n    prompt: "Lily went"\n    max_new_tokens: 16\n    temperature: 0.8\n    top_p: 0.9\n    seed: 5\n`);
  return f;
};


function counts(path: string): { results: number; distinct: number; total: number; pending: number } {
  const db = new Database(path, { readonly: true });
  try {
    const c = db.prepare("SELECT count(*) AS results, count(DISTINCT mutant_id || '/' || assay_id) AS distinct_ FROM results").get() as { results: number; distinct_: number };
    return {
      results: c.results,
      distinct: c.distinct_,
      total: db.prepare('SELECT total_mutants FROM screen').pluck().get() as number,
      pending: db.prepare('SELECT count(*) FROM mutants WHERE done = 0').pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

function worker(extra: string[] = [], env: Record<string, string> = {}): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', redis.url, '--lock-seconds', '1', '--exit-when-idle', '4', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log: () => log, exited };
}

/** A worker, run by the library, whose batch `batch` fails every time. */
function failingWorker(batch: string): { exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'failing-worker.ts'), redis.url, batch], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))) };
}

function coordinator(spec: string, store: string, extra: string[] = [], env: Record<string, string> = {}): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'run', spec, '--store', store, '--queue', redis.url, '--batch', '32', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log: () => log, exited };
}

describe('a screen over worker processes', () => {
  const spec = screen('three', '"1.gate", "2.up", "4.down"');
  const reference = join(dir.path, 'reference.sqlite');

  it('3 workers give the store of a single-process run', async () => {
    const r = runCli(['run', spec, '--store', reference]);
    assert.equal(r.status, 0, r.stderr);
    const store = join(dir.path, 'three.sqlite');
    const c = coordinator(spec, store);
    const ws = [worker(), worker(), worker()];
    assert.equal(await c.exited, 0, c.log());
    assert.match(c.log(), /screen complete/);
    await Promise.all(ws.map((w) => w.exited));
    assert.ok(ws.every((w) => /ran [1-9]\d* batches/.test(w.log())), ws.map((w) => w.log()).join('\n'));
    assert.deepEqual(storeRows(store), storeRows(reference));
    // each worker's share, as status and the live view show it: every mutant but the null one, once
    const lines = [...runCli(['status', store]).stdout.matchAll(/^worker (.+ pid \d+): (\d+) mutants in (\d+) batches, [\d.]+ mutants\/s/gm)];
    assert.equal(lines.length, 3, runCli(['status', store]).stdout);
    assert.equal(lines.reduce((n, m) => n + Number(m[2]), 0), counts(store).total - 1);
    const watch = new StoreWatch(Store.open(store));
    assert.deepEqual(watch.progress.runs.filter((r) => r.kind === 'worker').map((r) => [r.name, r.mutants]).sort(), lines.map((m) => [`worker ${m[1]}`, Number(m[2])]).sort());
    watch.store.close();
  });

  it('kill -9 of random workers 10 times and a Redis restart: complete, nothing missing or stored twice, identical', async () => {
    const store = join(dir.path, 'chaos.sqlite');
    const c = coordinator(spec, store);
    const ws = [worker(), worker(), worker()];
    let seed = 2024;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let kills = 0;
    let restarted = false;
    let finished = false;
    void c.exited.then(() => (finished = true));
    // the kills and the restart start once the coordinator has connected and published the screen: a restart
    // before its first connection would test a refused start, not a lost connection
    for (const t0 = Date.now(); !ws.some((w) => /working on screen/.test(w.log())) && !finished && Date.now() - t0 < 60_000; ) await sleep(50);
    while (kills < 10 && !finished) {
      // 150–600 ms apart: ten kills fit well inside the screen even when the machine runs it fast (at 300–1,200 ms
      // a fast run once finished after eight)
      await sleep(150 + rand() * 450);
      const k = Math.floor(rand() * ws.length);
      ws[k].child.kill('SIGKILL');
      await ws[k].exited;
      ws[k] = worker();
      kills++;
      if (kills === 5 && !restarted) {
        await redis.restart();
        restarted = true;
      }
    }
    assert.equal(kills, 10, `only ${kills} kills before the screen finished: make the screen longer`);
    assert.ok(restarted);
    assert.equal(await c.exited, 0, c.log());
    await Promise.all(ws.map((w) => w.exited));
    const n = counts(store);
    assert.equal(n.pending, 0);
    assert.equal(n.results, n.distinct, 'no mutant stored twice');
    assert.equal(n.results, n.total * 2, 'no mutant missing');
    assert.deepEqual(storeRows(store), storeRows(reference));
  });
});

describe('workers on machines of different instruction-set levels (MUTASCAN_ISA)', () => {
  const host = loadAddon().info().hostIsa;
  const higher = (['avx512bf16', 'avx512f'] as const).find((l) => ISA_LEVELS.indexOf(l) <= ISA_LEVELS.indexOf(host));
  const skip = !higher && 'this host has no level above AVX2 to mix with it';
  const model = join(dir.path, 'bf16-mixed');
  const spec = join(dir.path, 'mixed.yaml');
  before(() => {
    writeSynthModel(model, { architecture: 'llama', dim: 96, hiddenDim: 200, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 512, maxSeqLen: 64, tied: false, dtype: 'BF16', shards: 1, seed: 77, tokenizer: STORIES_TOK });
    writeFileSync(spec, `model: ${model}\ntargets: ["0.q", "1.down"]\nunit: { block: 8 }\nkinds: ["value:30", "value:-30"]\nassays:\n  - name: story\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 24\n    temperature: 0.8\n    top_p: 0.9\n    seed: 9\n`);
  });

  it('a bf16 screen: coordinator and two workers at AVX2 and above give the store of one AVX2 machine', { skip }, async () => {
    const reference = join(dir.path, 'mixed-reference.sqlite');
    const local = runCli(['run', spec, '--store', reference], { env: { MUTASCAN_ISA: 'avx2' } });
    assert.equal(local.status, 0, local.stderr);
    const store = join(dir.path, 'mixed.sqlite');
    // small jobs, so that both workers get some before one alone has finished the screen
    const c = coordinator(spec, store, ['--batch', '4'], { MUTASCAN_ISA: higher! });
    const ws = [worker([], { MUTASCAN_ISA: 'avx2' }), worker([], { MUTASCAN_ISA: higher! })];
    assert.equal(await c.exited, 0, c.log());
    await Promise.all(ws.map((w) => w.exited));
    assert.ok(ws.every((w) => /ran [1-9]\d* batches/.test(w.log())), ws.map((w) => w.log()).join('\n'));
    assert.deepEqual(storeRows(store), storeRows(reference));
    assert.equal(Store.open(store).numerics(), 'native/f32-fma16/bf16-dp/ops-vector');
  });

  it('a worker whose numerics differ (AMX, or the libraries\' kernels) is refused with what to set; the others finish', { skip }, async () => {
    const store = join(dir.path, 'mixed-refused.sqlite');
    const c = coordinator(spec, store, [], { MUTASCAN_ISA: 'avx2' });
    const odd = host === 'amx' ? worker() : worker([], { MUTASCAN_KERNEL: 'library', MUTASCAN_ISA: higher! });
    const good = worker([], { MUTASCAN_ISA: higher! });
    assert.equal(await odd.exited, 2, odd.log());
    assert.match(odd.log(), /refusing screen \w+: this worker computes with other numerics \(native\/\S+\) than the screen's \(native\/f32-fma16\/bf16-dp\/ops-vector\): its results would not be the screen's bits \(in screen \w+\) — (run this machine with MUTASCAN_ISA=avx512bf16|use the same MUTASCAN_KERNEL on every machine)/);
    assert.equal(await c.exited, 0, c.log());
    assert.match(c.log(), /refused the screen: this worker computes with other numerics/);
    await good.exited;
    assert.equal(counts(store).pending, 0);
  });

  it('resuming a store on a machine of other numerics is refused, nothing changed', { skip: host !== 'amx' && 'needs an AMX host (the only level whose bf16 bits differ)' }, () => {
    const store = join(dir.path, 'mixed-reference.sqlite');
    const before = storeRows(store);
    const r = runCli(['run', spec, '--store', store]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mutascan: error: the store's results were computed with other numerics \(native\/f32-fma16\/bf16-dp\/ops-vector\) than this machine computes \(native\/f32-fma16\/bf16-amx\/ops-vector\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.deepEqual(storeRows(store), before);
  });
});

describe('a guided screen over worker processes', () => {
  it('--budget: the coordinator predicts, workers screen its selection; the same mutants, outcomes and estimate as on one machine', async () => {
    const spec = screen('guided', '"1.gate", "2.up", "4.down"');
    const reference = join(dir.path, 'guided-reference.sqlite');
    const local = runCli(['run', spec, '--store', reference, '--budget', '300', '--jobs', '1']);
    assert.equal(local.status, 0, local.stderr);
    const store = join(dir.path, 'guided.sqlite');
    const c = coordinator(spec, store, ['--budget', '300']);
    const ws = [worker(), worker()];
    assert.equal(await c.exited, 0, c.log());
    await Promise.all(ws.map((w) => w.exited));
    assert.match(c.log(), /predicted every mutant first/);
    assert.match(c.log(), /budget done: the top 300 mutants by predicted margin and a random sample of 200 others screened/);
    assert.ok(ws.some((w) => /ran [1-9]\d* batches/.test(w.log())), ws.map((w) => w.log()).join('\n'));
    const c2 = counts(store);
    assert.equal(c2.total - c2.pending, 1 + 300 + 200, 'the null mutant, the top and the sample: nothing else');
    assert.deepEqual(storeRows(store), storeRows(reference));
    const table = (path: string, sql: string): unknown[] => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(sql).raw().all();
      } finally {
        db.close();
      }
    };
    for (const sql of ['SELECT * FROM predictions ORDER BY 1, 2', 'SELECT assay_id, budget, found, sample, sample_nsms, unscreened, missed, missed_low, missed_high FROM estimates'])
      assert.deepEqual(table(store, sql), table(reference, sql), sql);
    assert.match(runCli(['status', store]).stdout, /budget of 300: .* about [\d,]+ NSMs missed/);
  });
});

describe('refusals and parking', () => {
  it('a worker with another model file is refused; the screen goes on with the others', async () => {
    const wrong = join(dir.path, 'other.bin');
    copyFileSync(STORIES_BIN, wrong);
    const bytes = readFileSync(wrong);
    bytes[bytes.length - 5] ^= 0x40; // one weight differs: another file
    writeFileSync(wrong, bytes);
    const spec = screen('wrong', '"0.q"');
    const store = join(dir.path, 'wrong.sqlite');
    const c = coordinator(spec, store);
    const bad = worker(['--model', wrong]);
    const good = worker();
    assert.equal(await bad.exited, 2, bad.log());
    assert.match(bad.log(), /refusing screen \w+: the model at .*other\.bin is not the screen's model \(fingerprint \w+…, the screen's is \w+…\) \(in screen \w+\) — point --model at the same file the coordinator uses/);
    assert.equal(await c.exited, 0, c.log());
    await good.exited;
    assert.equal(counts(store).pending, 0);
  });

  it('results of the wrong shape from something on the queue are refused, not stored; the batches are done again', async () => {
    const spec = screen('lies', '"0.q"');
    const reference = join(dir.path, 'lies-reference.sqlite');
    assert.equal(runCli(['run', spec, '--store', reference]).status, 0);
    const store = join(dir.path, 'lies.sqlite');
    const c = coordinator(spec, store);
    const liar = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lying-worker.ts'), redis.url, '6'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const lied = new Promise((r) => liar.on('exit', r));
    await lied;
    const good = worker(['--exit-when-idle', '15']);
    assert.equal(await c.exited, 0, c.log());
    await good.exited;
    for (const lie of [
      /a worker returned mutant \d+, which is not in the batch \(in the result of batch m\d+\)/,
      /a worker's result is not a batch's results \(results: .*\) \(in the result of batch m\d+\)/,
      /a worker returned 1 outcomes for mutant \d+; the screen has 2 assays/,
      /a worker returned mutant \d+ twice/,
      /a worker returned a token id past the vocabulary \(512\) for mutant \d+/,
      /a worker's result is not a batch's results \(\(the whole value\): .*\)/,
    ])
      assert.match(c.log(), lie);
    assert.match(c.log(), /the batch goes back to the queue; if this repeats, stop the worker that sent it .*: not stored/);
    assert.equal(counts(store).pending, 0);
    assert.deepEqual(storeRows(store), storeRows(reference));
  });

  it('a batch that fails every time is parked with its error, shown by status, and tried again by the next run', async () => {
    const spec = screen('parked', '"0.k"');
    const store = join(dir.path, 'parked.sqlite');
    const c = coordinator(spec, store);
    const w = failingWorker('m33');
    assert.equal(await c.exited, 1, c.log());
    assert.match(c.log(), /batch m33 \(mutants 33–64\) failed 3 times and is parked: injected failure of batch m33/);
    assert.match(c.log(), /1 batches failed repeatedly and are parked/);
    await w.exited;
    const st = runCli(['status', store]);
    assert.match(st.stdout, /parked batch m33 \(mutants 33–64\) after 3 failed attempts: injected failure of batch m33/);
    // the live view shows the parked batch, and later sees its mutants arrive (a hole below the rest)
    const watch = new StoreWatch(Store.open(store));
    assert.deepEqual(watch.progress.parked.map((b) => [b.batch, b.attempts]), [['m33', 3]]);
    const before = watch.data.done;
    // Without the fault the next run finishes the screen.
    const again = coordinator(spec, store);
    const w2 = worker();
    assert.equal(await again.exited, 0, again.log());
    await w2.exited;
    assert.equal(counts(store).pending, 0);
    const update = watch.poll();
    assert.equal(watch.data.done, before + 32);
    assert.equal(watch.data.done, counts(store).total - 1);
    assert.equal(Buffer.from(update!.changes, 'base64').length / 20, 64, 'one change per mutant of the parked batch and assay (two)');
    assert.deepEqual(watch.progress.parked, []);
    watch.store.close();
    assert.doesNotMatch(runCli(['status', store]).stdout, /parked batch/);
  });
});

describe('a worker whose Redis dies', () => {
  it('one SIGTERM ends it within seconds, whatever state its queue connection is in', async () => {
    const spec = screen('orphaned', '"1.gate", "2.up", "4.down"');
    const c = coordinator(spec, join(dir.path, 'orphaned.sqlite'));
    const w = worker();
    // the worker is evaluating batches when Redis goes
    const stored = (): number => {
      try {
        return storedCount(join(dir.path, 'orphaned.sqlite'));
      } catch {
        return 0;
      }
    };
    for (let i = 0; i < 600 && stored() < 40; i++) await sleep(100);
    assert.ok(stored() >= 40, `the screen did not start: ${c.log()} ${w.log()}`);
    await redis.stop();
    const t0 = performance.now();
    w.child.kill('SIGTERM');
    const code = await w.exited;
    const seconds = (performance.now() - t0) / 1000;
    c.child.kill('SIGKILL');
    await c.exited;
    await redis.startProcess();
    assert.ok(seconds < 15, `the worker took ${seconds.toFixed(1)} s to exit (code ${code}): ${w.log()}`);
    assert.ok(code === 0 || code === 130, `exit code ${code}: ${w.log()}`);
  });
});

describe('what arrives from the queue is checked', () => {
  it('a published screen that is not JSON, or lacks fields, is refused by the worker with a message, and the refusal is reported', async () => {
    const { Redis } = await import('ioredis');
    const r = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await r.connect();
    try {
      await r.sadd('mutascan:screens', 'bogus', 'partial');
      await r.set('mutascan:screen:bogus', '{"id": "bogus", ');
      const { VERSION } = await import('../src/version.js');
      const { SCHEMA_VERSION } = await import('../src/store/schema.js');
      await r.set('mutascan:screen:partial', JSON.stringify({ id: 'partial', mutascanVersion: VERSION, schemaVersion: SCHEMA_VERSION, queue: 'q' }));
      const w = worker();
      assert.equal(await w.exited, 2, w.log());
      assert.match(w.log(), /refusing screen bogus: the screen published on the queue is not JSON/);
      assert.match(w.log(), /refusing screen partial: the screen published on the queue is not one this mutascan reads \(specYaml: /);
      assert.doesNotMatch(w.log(), / {4}at /);
      assert.match(Object.values(await r.hgetall('mutascan:screen:bogus:refusals')).join(), /not JSON/);
    } finally {
      await r.del('mutascan:screen:bogus', 'mutascan:screen:partial', 'mutascan:screen:bogus:refusals', 'mutascan:screen:partial:refusals');
      await r.srem('mutascan:screens', 'bogus', 'partial');
      r.disconnect();
    }
  });
});
