/**
 * Every instruction-set level this CPU can run (MUTASCAN_ISA: portable, avx2, avx512f, avx512bf16, amx), each
 * in its own process, computes the same products, logits and sampled generations (test/isa-probe.ts), and the
 * results are compared bit for bit where docs/numerics.md says they are equal:
 * - row-exact float32 products: every level;
 * - row-exact bf16 products: every level but AMX (which sums in its own order) — the emulations of vdpbf16ps
 *   on float32 FMAs give the instruction's bits, subnormal inputs and tiny products included;
 * - whole forward passes and generations (stories260K fp32, a bf16 and an f16 model of odd sizes): every
 *   level from AVX2 up (AMX apart for bf16); the portable level's per-position kernels are scalar, other bits.
 * Then the native backend's own tests again at the AVX2 level, so that a host with AVX-512 also tests what an
 * AVX2-only host runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ISA_LEVELS, loadAddon, type IsaLevel } from '../src/backend/native-backend.js';
import { writeSynthModel } from '../src/make/synth.js';
import { ROOT, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('isa');
after(() => dir.remove());

const host = loadAddon().info().hostIsa;
const levels = ISA_LEVELS.slice(0, ISA_LEVELS.indexOf(host) + 1);
const results = new Map<IsaLevel, Record<string, string>>();
const models = ['bf16-odd', 'f16-odd'].map((n) => join(dir.path, n));

before(() => {
  const shape = { architecture: 'llama' as const, dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: 1, vocabSize: 512, maxSeqLen: 128, tied: false, shards: 1, tokenizer: STORIES_TOK };
  writeSynthModel(models[0], { ...shape, dtype: 'BF16', seed: 31 });
  writeSynthModel(models[1], { ...shape, dtype: 'F16', seed: 32, tied: true });
  for (const level of levels) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'isa-probe.ts'), ...models], { cwd: ROOT, env: { ...process.env, MUTASCAN_ISA: level }, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, `${level}: ${r.stderr}`);
    const line = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
    assert.equal(line.level, level, 'the probe ran at the level asked for');
    results.set(level, line);
  }
  console.log(`# levels compared on this host (${host}): ${levels.join(', ')}`);
});

/** Asserts that `key` has one value over `among`, naming the level that differs. */
function sameOver(key: string, among: IsaLevel[]): void {
  const first = results.get(among[0])![key];
  assert.ok(first, `${key} was computed`);
  for (const l of among.slice(1)) assert.equal(results.get(l)![key], first, `${key}: ${l} differs from ${among[0]}`);
}

describe('one answer on every instruction-set level', () => {
  it('row-exact float32 products: the same bits on every level, one thread or two', () => {
    for (const k of ['f32-t1', 'f32-t2']) sameOver(k, levels);
    // the two thread counts multiply the same inputs
    assert.equal(results.get(levels[0])!['f32-t1'], results.get(levels[0])!['f32-t2']);
  });

  it('row-exact bf16 products: vdpbf16ps and its emulations give the same bits (subnormals and tiny products included); AMX its own', () => {
    const dp = levels.filter((l) => l !== 'amx');
    for (const k of ['bf16-t1', 'bf16-t2']) sameOver(k, dp);
    assert.equal(results.get(dp[0])!['bf16-t1'], results.get(dp[0])!['bf16-t2']);
    for (const l of dp) assert.equal(results.get(l)!.bf16, 'bf16-dp');
    if (levels.includes('amx')) assert.equal(results.get('amx')!.bf16, 'bf16-amx');
  });

  it('stories260K (fp32): logits and a sampled generation are the same on every level from AVX2 up', () => {
    const vector = levels.filter((l) => l !== 'portable');
    sameOver('stories260K-logits', vector);
    sameOver('stories260K-generation', vector);
  });

  it('a bf16 model of odd sizes: the same on every level from AVX2 up, AMX apart', () => {
    const vector = levels.filter((l) => l !== 'portable' && l !== 'amx');
    sameOver('bf16-odd-logits', vector);
    sameOver('bf16-odd-generation', vector);
  });

  it('an f16 model (tied embeddings): the same on every level from AVX2 up', () => {
    const vector = levels.filter((l) => l !== 'portable');
    sameOver('f16-odd-logits', vector);
    sameOver('f16-odd-generation', vector);
  });
});

describe('the native backend\'s tests at the AVX2 level', { skip: levels.indexOf('avx2') < 0 || host === 'avx2' ? 'this host runs at AVX2 already (the suite itself tests it)' : false }, () => {
  it('test/native-backend.test.ts passes with MUTASCAN_ISA=avx2', () => {
    // NODE_TEST_CONTEXT would make the child report to this runner instead of printing its results
    const env: Record<string, string | undefined> = { ...process.env, MUTASCAN_ISA: 'avx2' };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--test', '--import', 'tsx', join(ROOT, 'test', 'native-backend.test.ts')], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.match(r.stdout, /^# pass [1-9]/m, 'the child ran its tests');
    const summary = r.stdout.split('\n').filter((l) => /^# (tests|pass|fail|skipped)/.test(l));
    console.log(`# at avx2: ${summary.join(', ')}`);
    assert.equal(r.status, 0, r.stdout.split('\n').filter((l) => /not ok|Error|assert/i.test(l)).slice(0, 20).join('\n'));
  });
});
