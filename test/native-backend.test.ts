/**
 * The native backend (OpenBLAS / oneDNN) against run.c and against its TypeScript twin. BLAS sums in another
 * order, so a decision whose margin is below TIE_EPSILON may flip: such steps are counted and reported as ties;
 * any other difference fails. The test suite requires the addon (scripts/install.sh builds it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { loadNativeBackend } from '../src/backend/native-backend.js';
import { TsBackend } from '../src/backend/ts-backend.js';
import { Transformer } from '../src/model/forward.js';
import { generate, generateIds } from '../src/model/generate.js';
import { loadHfFolder } from '../src/model/load-hf.js';
import { loadModel } from '../src/model/model.js';
import { choose, softmaxScaled, type Sampling } from '../src/model/sampler.js';
import { compareTraces, precisionOf, TIE_EPSILON, tieEpsilon } from '../src/model/ties.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { matrix } from '../src/model/weights.js';
import { matrixStats, mutate, restore } from '../src/screen/mutate.js';
import { EXPECTED, expectCleanError, readJson, readJsonl, ROOT, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

interface GenCase { prompt: string; prompt_ids: number[]; steps: number; temperature: number; topp: number; seed: number; ids: number[]; text: string }
const cases = readJsonl<GenCase>(`${EXPECTED}/generate.jsonl`);
const native = loadNativeBackend();
const ts = new TsBackend();
const ties: string[] = [];
const gaps: string[] = [];
after(() => console.log(`# native vs TS, max |Δlogit|:\n#   ${gaps.join('\n#   ')}`));
after(() => console.log(`# native/TS ties (decision margin below ${JSON.stringify(TIE_EPSILON)}): ${ties.length}${ties.length ? `\n#   ${ties.join('\n#   ')}` : ''}`));

function cpuHas(flag: string): boolean {
  return new RegExp(`\\b${flag}\\b`).test(readFileSync('/proc/cpuinfo', 'utf8'));
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('native backend on stories260K (run.c fixtures)', () => {
  const model = loadModel(STORIES_BIN);
  const tf = new Transformer(model.config, model.weights, native);
  const twin = new Transformer(model.config, model.weights, ts);

  for (const c of cases)
    it(`generate ${JSON.stringify(c.prompt)} T=${c.temperature} seed=${c.seed} matches run.c`, () => {
      const s = { temperature: c.temperature, topP: c.topp, topK: 0, seed: c.seed, maxLength: c.steps };
      const g = generate(model, tf, c.prompt, s);
      assert.deepEqual(g.promptIds, c.prompt_ids);
      const eps = tieEpsilon('f32', c.temperature > 0);
      const agreement = compareTraces({ ids: g.ids, margins: g.margins }, { ids: c.ids, margins: g.margins }, eps);
      if (agreement.kind === 'tie') ties.push(`run.c ${JSON.stringify(c.prompt)} T=${c.temperature}: step ${agreement.step}, margin ${agreement.margin}`);
      else assert.deepEqual(g.ids, c.ids);
      if (agreement.kind === 'same') assert.equal(g.text, c.text);
      // …and agrees with the TypeScript twin, tie for tie.
      const t = generate(model, twin, c.prompt, s);
      const a2 = compareTraces({ ids: g.ids, margins: g.margins }, { ids: t.ids, margins: t.margins }, eps);
      assert.notEqual(a2.kind, 'different', JSON.stringify(a2));
      if (a2.kind === 'tie') ties.push(`twin ${JSON.stringify(c.prompt)} T=${c.temperature}: step ${a2.step}, margin ${a2.margin}`);
    });

  for (const name of ['once', 'lily', 'mmlu'])
    it(`logits-${name}.json within 1e-4, and within 5e-5 of the TypeScript twin`, () => {
      const d = readJson<{ prompt_ids: number[]; logits: number[][] }>(`${EXPECTED}/logits-${name}.json`);
      const got = tf.forward([{ cache: tf.newCache(d.prompt_ids.length), tokens: d.prompt_ids }], 'all');
      assert.ok(maxAbs(d.logits.flat(), got) < 1e-4);
      const twinLogits = twin.forward([{ cache: twin.newCache(d.prompt_ids.length), tokens: d.prompt_ids }], 'all');
      assert.ok(maxAbs(twinLogits, got) < 5e-5, `native vs ts ${maxAbs(twinLogits, got)}`);
      gaps.push(`stories260K logits-${name}: ${maxAbs(twinLogits, got).toExponential(2)}`);
    });

  it('mutating a weight in place and restoring it gives back the same bits (native backend in use)', () => {
    const m = model.weights.layers[2].gate;
    const before = new Uint32Array((m.data as Float32Array).slice().buffer);
    const ids = cases[0].prompt_ids;
    const run = (): Float32Array => tf.forward([{ cache: tf.newCache(ids.length), tokens: ids }], 'all');
    const clean = run();
    const stats = matrixStats(m);
    for (const kind of [{ type: 'max' as const }, { type: 'min' as const }, { type: 'negate' as const }, { type: 'scale' as const, factor: 3.5 }]) {
      const saved = mutate(m, { row: 40, col: 12, rows: 16, cols: 16 }, kind, stats);
      const mutated = run();
      assert.ok(maxAbs(mutated, clean) > 1e-3, `${kind.type}: the native kernels must see the mutation (no stale packed copy)`);
      restore(saved);
      assert.deepEqual(new Uint32Array((m.data as Float32Array).buffer), before, `${kind.type}: weights restored bit for bit`);
      assert.deepEqual(run(), clean, `${kind.type}: outputs after restore are bit-identical`);
    }
  });
});

const shapes: { name: string; spec: Partial<SynthSpec> }[] = [
  { name: 'dim 42, 3 heads (head 14), 1 kv head, hidden 77, vocab 301, f32', spec: { dim: 42, nHeads: 3, nKvHeads: 1, hiddenDim: 77, vocabSize: 301 } },
  { name: 'dim 90, 5 heads, hidden 131, vocab 517, untied, bf16', spec: { dim: 90, nHeads: 5, nKvHeads: 5, hiddenDim: 131, vocabSize: 517, tied: false, dtype: 'BF16' } },
  { name: 'qwen2 dim 60, 6 heads, 2 kv, hidden 203, vocab 1009, bf16, 2 shards', spec: { architecture: 'qwen2', dim: 60, nHeads: 6, nKvHeads: 2, hiddenDim: 203, vocabSize: 1009, dtype: 'BF16', shards: 2 } },
];

describe('native vs TypeScript on random models of odd shapes', () => {
  const dir = tempDir('native-shapes');
  before(() => shapes.forEach((s, i) => writeSynthModel(join(dir.path, String(i)), { architecture: 'llama', dim: 0, hiddenDim: 0, nLayers: 4, nHeads: 1, nKvHeads: 1, vocabSize: 0, maxSeqLen: 128, tied: true, dtype: 'F32', shards: 1, seed: 50 + i, ...s.spec } as SynthSpec)));
  after(() => dir.remove());

  shapes.forEach((s, i) =>
    it(`${s.name}: same tokens (ties reported), logits within the precision's tolerance`, () => {
      const f = loadHfFolder(join(dir.path, String(i)));
      const precision = precisionOf(f.weights);
      // fp32: BLAS order only; bf16: a last-bit difference can flip an activation's bf16 rounding (see ties.ts).
      const tolerance = TIE_EPSILON[precision].logit;
      const backends: Backend[] = [native, ts];
      const [a, b] = backends.map((be) => new Transformer(f.config, f.weights, be));
      const prompt = Array.from({ length: 9 }, (_, k) => 1 + ((k * 131) % (f.config.vocabSize - 1)));
      // Logits over 96 positions: differences grow with the sequence (longer sums, more bf16 roundings).
      const long = Array.from({ length: 96 }, (_, k) => 1 + ((k * 131) % (f.config.vocabSize - 1)));
      const la = a.forward([{ cache: a.newCache(96), tokens: long }], 'all');
      const lb = b.forward([{ cache: b.newCache(96), tokens: long }], 'all');
      assert.ok(maxAbs(la, lb) < tolerance, `max |Δlogit| ${maxAbs(la, lb)}`);
      // …and the largest difference of a cumulative probability (what a sampled decision compares with its coin).
      let cdfGap = 0;
      const V = f.config.vocabSize;
      for (let r = 0; r < 96; r++) {
        const pa = softmaxScaled(la, r * V, V, 1);
        const pb = softmaxScaled(lb, r * V, V, 1);
        let ca = 0;
        let cb = 0;
        for (let i = 0; i < V; i++) cdfGap = Math.max(cdfGap, Math.abs((ca += pa[i]) - (cb += pb[i])));
      }
      gaps.push(`${s.name}: ${maxAbs(la, lb).toExponential(2)} (cumulative probability ${cdfGap.toExponential(2)})`);
      for (const settings of [
        { temperature: 0, topP: 0, topK: 0, seed: 1 },
        { temperature: 1, topP: 0.9, topK: 0, seed: 7 },
        { temperature: 0.7, topP: 0, topK: 40, seed: 3 },
      ]) {
        const s2 = { ...settings, maxLength: 80 };
        const ga = generateIds(a, prompt, s2, []);
        const gb = generateIds(b, prompt, s2, []);
        assert.equal(ga.ids.length, 72);
        const ag = compareTraces(ga, gb, tieEpsilon(precision, settings.temperature > 0));
        assert.notEqual(ag.kind, 'different', `${JSON.stringify(settings)}: ${JSON.stringify(ag)}`);
        if (ag.kind === 'tie') ties.push(`${s.name} ${JSON.stringify(settings)}: step ${ag.step}, margin ${ag.margin}`);
      }
    }),
  );
});

describe('native rmsnorm, RoPE and transposes give the TypeScript twin\'s bits', () => {
  let seed = 11;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  it('rmsnorm: 8 rows side by side and the rows left over, widths 64, 77, 576', () => {
    for (const [rows, n] of [[37, 64], [8, 77], [3, 576], [1, 64], [53, 77], [16, 576], [200, 64], [33, 5]]) {
      const x = Float32Array.from({ length: rows * n }, () => rnd() * 5);
      const w = Float32Array.from({ length: n }, () => rnd() + 1);
      const a = new Float32Array(rows * n);
      const b = new Float32Array(rows * n);
      native.rmsnorm(a, x, w, rows, n, 1e-5);
      ts.rmsnorm(b, x, w, rows, n, 1e-5);
      assert.deepEqual(a, b, `rows ${rows}, width ${n}`);
    }
  });
  it('RoPE: interleaved (llama2.c) and half-split (Hugging Face) layouts, vectorised and scalar head sizes', () => {
    for (const [heads, hd, interleaved] of [[8, 8, true], [8, 8, false], [4, 16, false], [9, 64, false], [3, 14, true], [2, 12, false]] as const) {
      const rows = 50;
      const half = hd / 2;
      const v = Float32Array.from({ length: rows * heads * hd }, () => rnd() * 3);
      const cos = Float32Array.from({ length: 64 * half }, () => rnd());
      const sin = Float32Array.from({ length: 64 * half }, () => rnd());
      const pos = Int32Array.from({ length: rows }, (_, i) => i);
      const a = v.slice();
      const b = v.slice();
      native.rope(a, rows, heads, hd, pos, cos, sin, interleaved);
      ts.rope(b, rows, heads, hd, pos, cos, sin, interleaved);
      assert.deepEqual(a, b, `heads ${heads}, head size ${hd}, interleaved ${interleaved}`);
    }
  });
  it('transposeF32 (the backward pass\'s Wᵀ): f32 and bf16 with every bit pattern, shapes off the 64-wide tiles, one thread and several', () => {
    for (const [rows, cols] of [[1, 1], [3, 70], [64, 64], [65, 129], [130, 7], [1000, 1100]]) {
      const bits = Uint32Array.from({ length: rows * cols }, () => Math.floor((rnd() + 0.5) * 2 ** 32));
      const f32 = matrix('w', rows, cols, new Float32Array(bits.buffer));
      const bf16 = matrix('w', rows, cols, Uint16Array.from(bits, (b) => b >>> 16));
      for (const m of [f32, bf16]) {
        const a = new Float32Array(rows * cols);
        const b = new Float32Array(rows * cols);
        native.transposeF32(a, m);
        ts.transposeF32(b, m);
        const ua = new Uint32Array(a.buffer);
        assert.deepEqual(ua, new Uint32Array(b.buffer), `${m.dtype} ${rows}×${cols}`);
        // by definition: column j of W is row j of the result (bf16: its bits in the high half)
        for (let o = 0; o < rows; o += 7)
          for (let j = 0; j < cols; j += 5) assert.equal(ua[j * rows + o], m.dtype === 'f32' ? bits[o * cols + j] : (bits[o * cols + j] >>> 16) * 65536);
      }
    }
  });
});

describe('AVX-512 kernels give their AVX2 twins\' bits', { skip: (!cpuHas('avx512f') && 'this CPU lacks AVX-512') || (process.env.MUTASCAN_ISA === 'avx2' && 'this run is capped at AVX2') }, () => {
  // The same computations in a process using AVX-512 and in one told to keep to AVX2, compared bit for bit.
  const run = (script: string, env: Record<string, string>): string => {
    const prelude = `
      import { loadNativeBackend } from './src/backend/native-backend.ts';
      const be = loadNativeBackend();
      let seed = 3;
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
      const emit = (a) => process.stdout.write(Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') + '\\n');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', prelude + script], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const same = (script: string): void => {
    const wide = run(script, { MUTASCAN_ISA: 'auto' });
    const narrow = run(script, { MUTASCAN_ISA: 'avx2' });
    assert.ok(wide.length > 10000);
    assert.equal(wide, narrow);
  };

  it('SwiGLU (exp, sigmoid and products on 16 lanes instead of 8), arguments from -400 to 400 and a ragged tail', () => {
    same(`
      const n = 100003;
      const h1 = Float32Array.from({ length: n }, (_, i) => rnd() * (i % 9 === 0 ? 800 : 24));
      const h3 = Float32Array.from({ length: n }, () => rnd() * 4);
      be.swiglu(h1, h3);
      emit(h1);`);
  });

  it('attention, two positions of a sequence at once: sequences of 1 to 40 rows, 8 and 16 heads, sliding windows', () => {
    same(`
      for (const s of [{ nHeads: 8, nKvHeads: 4, headDim: 8, window: 0 }, { nHeads: 16, nKvHeads: 8, headDim: 16, window: 0 }, { nHeads: 8, nKvHeads: 8, headDim: 8, window: 6 }, { nHeads: 16, nKvHeads: 2, headDim: 8, window: 1 }]) {
        const qDim = s.nHeads * s.headDim, kvDim = s.nKvHeads * s.headDim;
        const lengths = [1, 2, 3, 7, 40, 13];
        const rows = lengths.reduce((a, b) => a + b, 0);
        const q = Float32Array.from({ length: rows * qDim }, () => rnd() * 6);
        const k = Float32Array.from({ length: rows * kvDim }, () => rnd() * 6);
        const v = Float32Array.from({ length: rows * kvDim }, () => rnd() * 6);
        const offset = new Float64Array(rows), pos = new Int32Array(rows);
        let r = 0, start = 0;
        for (const n of lengths) { for (let i = 0; i < n; i++, r++) { offset[r] = start * kvDim; pos[r] = i; } start += n; }
        const out = new Float32Array(rows * qDim);
        be.attention(out, q, k, v, offset, pos, rows, s);
        emit(out);
      }`);
  });
});

describe('native attention: close to the twin, and a row\'s bits do not depend on the rest of the call', () => {
  let seed = 5;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  // heads in lanes (8 and 16 heads of 8 or 16), small heads with transposed keys, the general vector kernel, the
  // scalar one, and a sliding window
  const shapes = [
    { nHeads: 8, nKvHeads: 4, headDim: 8, window: 0 },
    { nHeads: 16, nKvHeads: 16, headDim: 16, window: 0 },
    { nHeads: 8, nKvHeads: 2, headDim: 8, window: 5 },
    { nHeads: 6, nKvHeads: 3, headDim: 8, window: 0 },
    { nHeads: 3, nKvHeads: 1, headDim: 64, window: 0 },
    { nHeads: 2, nKvHeads: 2, headDim: 12, window: 7 },
  ];
  for (const s of shapes) {
    it(`${s.nHeads} heads of ${s.headDim}, ${s.nKvHeads} key/value heads${s.window ? `, window ${s.window}` : ''}`, () => {
      const seqs = 3, n = 21;
      const qDim = s.nHeads * s.headDim, kvDim = s.nKvHeads * s.headDim;
      const rows = seqs * n;
      const q = Float32Array.from({ length: rows * qDim }, () => rnd() * 4);
      const k = Float32Array.from({ length: rows * kvDim }, () => rnd() * 4);
      const v = Float32Array.from({ length: rows * kvDim }, () => rnd() * 4);
      const offset = Float64Array.from({ length: rows }, (_, r) => Math.floor(r / n) * n * kvDim);
      const pos = Int32Array.from({ length: rows }, (_, r) => r % n);
      const a = new Float32Array(rows * qDim);
      const b = new Float32Array(rows * qDim);
      native.attention(a, q, k, v, offset, pos, rows, s);
      ts.attention(b, q, k, v, offset, pos, rows, s);
      assert.ok(maxAbs(a, b) < 1e-5, `max |native − twin| = ${maxAbs(a, b)}`);
      // each row alone, in reverse order (so no row finds its sequence's keys already laid out)
      for (let r = rows - 1; r >= 0; r -= 4) {
        const one = new Float32Array(qDim);
        native.attention(one, q.subarray(r * qDim), k, v, offset.subarray(r), pos.subarray(r), 1, s);
        assert.deepEqual(one, a.subarray(r * qDim, (r + 1) * qDim), `row ${r} alone`);
      }
    });
  }
});

describe('row-exact products, fp32 and bf16 (what lets the fast path skip tie re-checks)', () => {
  const rand = (n: number, seed: number): Float32Array => {
    const x = new Float32Array(n);
    let s = seed;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      x[i] = s / 2 ** 32 - 0.5;
    }
    return x;
  };
  const bits = (x: Float32Array): Uint16Array => Uint16Array.from(new Uint32Array(x.buffer), (u) => (u + 0x7fff + ((u >>> 16) & 1)) >>> 16);

  it('a row gives the same bits alone, anywhere in a batch, and through a patch of replaced rows', () => {
    // odd sizes: inputs not a multiple of 32 (the masked tail), outputs not a multiple of the tile
    for (const [rows, m, n, f32] of [[37, 101, 77, 0], [9, 250, 1100, 0], [130, 7, 2050, 0], [37, 101, 77, 1], [9, 250, 1100, 1], [130, 7, 2050, 1]]) {
      assert.ok(native.rowExact(f32 ? 'f32' : 'bf16'));
      const w = matrix('w', m, n, f32 ? rand(m * n, m) : bits(rand(m * n, m)));
      const x = rand(rows * n, n);
      const batch = new Float32Array(rows * m);
      native.matmul(batch, x, rows, w);
      for (const r of [0, Math.floor(rows / 2), rows - 1]) {
        const alone = new Float32Array(m);
        native.matmul(alone, x.subarray(r * n, (r + 1) * n), 1, w);
        assert.deepEqual(alone, batch.subarray(r * m, (r + 1) * m), `row ${r} of ${rows}, ${m}×${n}`);
      }
      // rows 3…5 of W replaced: recomputed into a copy of the output, they equal the batch's own rows 3…5
      const patch = matrix('rows', 3, n, w.data.slice(3 * n, 6 * n));
      const out = new Float32Array(rows * m);
      native.matmulInto(out.subarray(3), m, x, rows, patch);
      for (let r = 0; r < rows; r++) assert.deepEqual(out.subarray(r * m + 3, r * m + 6), batch.subarray(r * m + 3, r * m + 6));
    }
  });
});

describe('native sampling gives the TypeScript sampler\'s tokens and margins', () => {
  it('fdlibm exp: exp(p − max) as float equals Math.fround(Math.exp(…)) on 2 million arguments and the range edges', () => {
    const edges = [0, -0, -1e-9, -3.7e-9, -0.34657359, -0.3465736, -1.0397207, -1.03972077, -1.5, -87.3, -103.27, -103.28, -103.9, -104, -104.1, -745.2, -Infinity, NaN];
    let seed = 99;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const n = 2_000_000;
    const p = new Float32Array(n + edges.length);
    for (let i = 0; i < n; i++) p[i] = -rnd() * [0.4, 2, 20, 120][i % 4];
    p.set(edges, n);
    const out = new Float32Array(p.length);
    native.addon.expTerms(out, p, 0);
    let bad = 0;
    for (let i = 0; i < p.length; i++) if (!Object.is(out[i], Math.fround(Math.exp(Math.fround(p[i] - 0))))) bad++;
    assert.equal(bad, 0);
  });

  it('sampleRows = choose row by row: vocabularies 2 to 32,000, flat and peaked rows, equal probabilities, top-p, top-k, both', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const settings: Sampling[] = [
      { temperature: 0.7, topP: 0.9, topK: 0, seed: 0 },
      { temperature: 0.7, topP: 0, topK: 50, seed: 0 },
      { temperature: 1, topP: 0.5, topK: 3, seed: 0 },
      { temperature: 1.3, topP: 0.99, topK: 0, seed: 0 },
      { temperature: 0.7, topP: 1, topK: 0, seed: 0 },
      { temperature: 0, topP: 0, topK: 0, seed: 0 },
    ];
    let rowsCompared = 0;
    for (const V of [2, 5, 32, 512, 1000, 32000])
      for (let trial = 0; trial < (V > 5000 ? 20 : 150); trial++) {
        const rows = 5;
        const lg = new Float32Array(rows * V);
        const scale = [0.5, 3, 10, 30, 200][trial % 5];
        for (let i = 0; i < lg.length; i++) lg[i] = Math.fround((rnd() - 0.5) * scale * (trial % 7 === 0 ? Math.round(rnd() * 3) : 1));
        if (trial % 11 === 0) lg.fill(1.5, 0, V);
        for (const s of settings) {
          const coins = Float64Array.from({ length: rows }, () => Math.floor(rnd() * 2 ** 24) / 2 ** 24);
          const tokens = new Int32Array(rows);
          const margins = new Float64Array(rows);
          native.sampleRows(tokens, margins, lg, rows, V, s, coins);
          for (let r = 0; r < rows; r++, rowsCompared++) {
            const c = choose(lg, s, coins[r], r * V, V);
            assert.equal(tokens[r], c.token, `vocab ${V}, ${JSON.stringify(s)}, row ${r}`);
            assert.ok(Object.is(margins[r], c.margin), `vocab ${V}, ${JSON.stringify(s)}, row ${r}: margin ${margins[r]} vs ${c.margin}`);
          }
        }
      }
    assert.ok(rowsCompared > 20000);
  });
});

describe('choosing the backend', () => {
  const gen = (extra: string[], env: Record<string, string> = {}) =>
    runCli(['generate', STORIES_BIN, '--tokenizer', STORIES_TOK, '--prompt', 'Zoo', '--max-length', '12', '--temperature', '0', '--json', ...extra], { env });

  it('automatic choice uses the native backend silently when it is built', () => {
    const r = gen([]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('a missing addon: one clear line and the TypeScript backend, unless native was asked for', () => {
    const missing = { MUTASCAN_ADDON: '/nonexistent/mutascan_native.node' };
    const auto = gen([], missing);
    assert.equal(auto.status, 0, auto.stderr);
    assert.match(auto.stderr, /^mutascan: native backend unavailable \(the addon is not built .*\); using the TypeScript backend\. Build it with `npm run build:native`\.\n$/);
    assert.deepEqual(JSON.parse(auto.stdout).ids, JSON.parse(gen(['--backend', 'ts']).stdout).ids);
    expectCleanError(gen(['--backend', 'native'], missing), /the native backend is not available: the addon is not built.*npm run build:native/);
    expectCleanError(gen([], { ...missing, MUTASCAN_BACKEND: 'native' }), /the native backend is not available/);
  });

  it('MUTASCAN_BACKEND=ts and --threads are honoured', () => {
    const r = gen(['--threads', '1'], { MUTASCAN_BACKEND: 'ts', MUTASCAN_ADDON: '/nonexistent' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'ts was asked for: the addon is not even looked at');
    expectCleanError(gen(['--threads', '0']), /--threads must be a whole number ≥ 1, got "0"/);
  });
});
