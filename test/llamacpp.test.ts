/**
 * mutascan against llama.cpp (node-llama-cpp's CPU build), an engine nobody here wrote, on the same GGUF files:
 * the one llama.cpp's own tools wrote (stories260K.gguf) and the ones `mutascan convert` and `mutascan mutate`
 * write from synthesized Hugging Face models of every architecture, F32 and BF16, odd sizes, several seeds.
 *
 * Tolerances, and why:
 * - F32 models: 5e-5 in log-probability. llama.cpp sums its products in another order (and in blocks of its own),
 *   so each logit differs by a few ulps of the partial sums; measured up to 1.0e-5 here.
 * - BF16 models: 2e-2. Both engines round the activations to BF16 before a BF16 product (ggml's vec_dot_type for
 *   BF16 is BF16; mutascan's row-exact kernels follow vdpbf16ps), so an activation that the other engine's summation
 *   order puts on the other side of a BF16 rounding boundary moves by 2^-9 of itself; measured up to 8.6e-3 on the
 *   unmutated models, 1.3e-2 on a mutant that also rewrites elements of its norm vectors.
 * - F16 models: 2e-2. mutascan multiplies the f16 weights widened exactly, with float32 activations; llama.cpp's
 *   CPU product rounds the activations to F16 first (ggml's vec_dot_type for F16 is F16); measured 5.0e-3.
 *   (mutascan reading the GGUF computes the very bits it computes from the folder it came from: the q/k rows
 *   llama.cpp's converter permutes are put back on loading.)
 * Log-probabilities are compared down to e^-60, scaled by the logits' size: random tied models put a token's own
 * logit near |e|² (about 130 here), where an ulp is larger.
 * - Greedy continuations: llama.cpp's tokens fed back to mutascan; a step where mutascan's argmax differs must be
 *   a near-tie within the tolerance (counted and printed).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { selectBackend } from '../src/backend/select.js';
import type { Backend } from '../src/backend/backend.js';
import { readGguf, readGgufTensor, writeGguf, type GgufEntry, type GgufTensorToWrite, type GgufValue } from '../src/model/gguf.js';
import { hfRowOfPairRow, pairsToHalves } from '../src/model/layout.js';
import { loadModel, type Model } from '../src/model/model.js';
import type { Matrix } from '../src/model/weights.js';
import { writeSynthModel } from '../src/make/synth.js';
import { f16ToF32, f32ToF16 } from '../src/util/float.js';
import { kQuantize, type KQuant } from './reference/kquants.js';
import { runCli, SHARED, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';
import { greedyAgreement as greedyIn, logitsOf as logitsIn, worstLogprob } from './reference/compare.js';
import { assertAgrees, checkFamily, familyRow, forced, PROMPT } from './reference/family-check.js';
import { llamaCppLogprobs } from './reference/llamacpp.js';

const STORIES_GGUF = join(SHARED, 'models', 'stories260K-gguf', 'stories260K.gguf');
const TOL = { F32: 5e-5, F16: 2e-2, BF16: 2e-2 } as const;

let backend: Backend;
before(async () => {
  backend = await selectBackend('native', 2);
});

const logitsOf = (model: Model, ids: number[]): Float32Array => logitsIn(backend, model, ids);
const greedyAgreement = (file: string, model: Model, prompt: number[], n: number) => greedyIn(backend, file, model, prompt, n);


describe('stories260K.gguf, written by llama.cpp\'s own converter', () => {
  it('holds the weights of stories260K.bin bit for bit (q/k rows in Hugging Face order), and mutascan and llama.cpp agree on it', async () => {
    const gguf = loadModel(STORIES_GGUF);
    const bin = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    assert.equal(gguf.source.format, 'gguf');
    // llama.cpp's pair order is put back into halves on loading: coordinates are Hugging Face's
    assert.equal(gguf.config.ropeLayout, 'halves');
    assert.equal(bin.config.ropeLayout, 'interleaved');
    const hd = bin.config.headDim;
    const inHfOrder = (m: Matrix): Float32Array => {
      const out = new Float32Array(m.rows * m.cols);
      for (let r = 0; r < m.rows; r++) out.set((m.data as Float32Array).subarray(r * m.cols, (r + 1) * m.cols), hfRowOfPairRow(r, hd) * m.cols);
      return out;
    };
    const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[bin.weights.embed.data, gguf.weights.embed.data], [bin.weights.finalNorm, gguf.weights.finalNorm]];
    bin.weights.layers.forEach((l, i) => {
      const g = gguf.weights.layers[i];
      for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) pairs.push([k === 'q' || k === 'k' ? inHfOrder(l[k]) : l[k].data, g[k].data]);
      pairs.push([l.attnNorm!, g.attnNorm!], [l.ffnNorm!, g.ffnNorm!]);
    });
    pairs.forEach(([x, y], i) => assert.ok(Buffer.from(Float32Array.from(x).buffer).equals(Buffer.from(Float32Array.from(y).buffer)), `tensor ${i} differs`));
    const text = 'Once upon a time, Lily met a "big" dog.\nThe end!';
    assert.deepEqual(gguf.tokenizer.encode(text), bin.tokenizer.encode(text));

    const ids = forced(60, 1);
    const worst = worstLogprob(logitsOf(gguf, ids), gguf.config.vocabSize, await llamaCppLogprobs(STORIES_GGUF, ids));
    console.log(`# stories260K.gguf: max |Δ log p| vs llama.cpp ${worst.toExponential(2)} over ${ids.length} positions`);
    assert.ok(worst < TOL.F32, `max |Δ log p| ${worst}`);
    const g = await greedyAgreement(STORIES_GGUF, gguf, PROMPT, 64);
    assert.equal(g.differ, 0, `greedy differs at ${g.differ} steps`);
  });

  it('converted by mutascan (from the .bin) into a GGUF that llama.cpp reads with the same results', async () => {
    const dir = tempDir('gguf-stories');
    try {
      const out = join(dir.path, 's.gguf');
      const r = runCli(['convert', STORIES_BIN, '--tokenizer', STORIES_TOK, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const ids = forced(40, 2);
      const a = await llamaCppLogprobs(out, ids);
      const b = await llamaCppLogprobs(STORIES_GGUF, ids);
      a.forEach((m, pos) => {
        for (const [t, v] of m) assert.equal(v, b[pos].get(t), `position ${pos}, token ${t}`);
      });
    } finally {
      dir.remove();
    }
  });
});

interface Case {
  name: string;
  architecture: 'llama' | 'mistral' | 'qwen2';
  dtype: 'F32' | 'F16' | 'BF16';
  seed: number;
  nKvHeads: number;
  tied: boolean;
  attentionBias?: boolean;
}
const CASES: Case[] = [
  { name: 'llama F32, GQA 5:1, untied', architecture: 'llama', dtype: 'F32', seed: 1, nKvHeads: 1, tied: false },
  { name: 'llama BF16, MHA, tied', architecture: 'llama', dtype: 'BF16', seed: 2, nKvHeads: 5, tied: true },
  { name: 'llama F32 with q/k/v bias', architecture: 'llama', dtype: 'F32', seed: 3, nKvHeads: 5, tied: false, attentionBias: true },
  { name: 'mistral BF16, GQA', architecture: 'mistral', dtype: 'BF16', seed: 4, nKvHeads: 1, tied: false },
  { name: 'qwen2 F32, GQA', architecture: 'qwen2', dtype: 'F32', seed: 5, nKvHeads: 1, tied: true },
  { name: 'qwen2 BF16', architecture: 'qwen2', dtype: 'BF16', seed: 6, nKvHeads: 5, tied: false },
  { name: 'llama F16, GQA, untied', architecture: 'llama', dtype: 'F16', seed: 7, nKvHeads: 1, tied: false },
];

describe('synthesized models of every architecture, converted to GGUF, against llama.cpp', () => {
  const dir = tempDir('gguf-families');
  after(() => dir.remove());
  const rows: string[] = [];
  after(() => console.log(`# ${rows.join('\n# ')}`));

  for (const c of CASES) {
    it(`${c.name}: logits, greedy 64 tokens, and a mutant written by \`mutate\``, async () => {
      const r = await checkFamily(backend, dir.path, `${c.architecture}-${c.seed}`, { architecture: c.architecture, dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: c.nKvHeads, tied: c.tied, attentionBias: c.attentionBias, dtype: c.dtype, seed: c.seed });
      rows.push(familyRow(c.name, r));
      assertAgrees(r, TOL[c.dtype]);
    });
  }
});

/**
 * ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref), for blocks of 32: the bytes of one
 * block and the values they stand for.
 * - Q8_0: an f16 scale d = amax / 127, then round(x / d) as int8 (roundf: halves away from zero).
 * - Q4_0: d = (the value of largest magnitude) / −8, then min(15, trunc(x / d + 8.5)) as nibbles, element j in
 *   the low nibble of byte j and element j + 16 in its high nibble; the value is (q − 8) · d.
 */
const QUANTIZERS = {
  Q8_0: { bytes: 34, block(x: Float32Array, out: Buffer, at: number, deq: Float32Array): void {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]));
    const d = Math.fround(amax / 127);
    const id = Math.fround(d ? 1 / d : 0);
    const h = f32ToF16(d);
    out.writeUInt16LE(h, at);
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[j] * id);
      const q = (Math.sign(v) * Math.round(Math.abs(v))) | 0; // an int8 has no -0
      out.writeInt8(q, at + 2 + j);
      deq[j] = Math.fround(f16ToF32(h) * q);
    }
  } },
  Q4_0: { bytes: 18, block(x: Float32Array, out: Buffer, at: number, deq: Float32Array): void {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) if (Math.abs(x[j]) > amax) {
      amax = Math.abs(x[j]);
      max = x[j];
    }
    const d = max / -8;
    const id = Math.fround(d ? 1 / d : 0);
    const h = f32ToF16(d);
    out.writeUInt16LE(h, at);
    const q = (v: number): number => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) {
      const lo = q(x[j]);
      const hi = q(x[j + 16]);
      out.writeUInt8(lo | (hi << 4), at + 2 + j);
      deq[j] = Math.fround(f16ToF32(h) * (lo - 8));
      deq[j + 16] = Math.fround(f16ToF32(h) * (hi - 8));
    }
  } },
} as const;

// llama.cpp multiplies quantized weights with activations quantized to Q8_0 (the vec_dot_type of both types),
// mutascan the dequantized weights with float32 activations: larger gaps than F32's, and larger for Q4_0.
const QUANT_TOL = { Q8_0: 0.1, Q4_0: 0.15 } as const;

for (const type of ['Q8_0', 'Q4_0'] as const)
  describe(`a ${type} GGUF (quantized by the test as ggml does)`, () => {
    it('is dequantized exactly, with a note of the memory, and mutascan agrees with llama.cpp on it', async () => {
      const dir = tempDir('gguf-quant');
      try {
        const src = join(dir.path, 'f32.gguf');
        assert.equal(runCli(['convert', STORIES_BIN, '--tokenizer', STORIES_TOK, '--out', src]).status, 0);
        const g = readGguf(src);
        // every layer matrix whose rows hold whole blocks (ffn_down's 172 columns do not: it stays F32)
        const expected = new Map<string, Float32Array>();
        const qz = QUANTIZERS[type];
        const tensors: GgufTensorToWrite[] = [...g.tensors.values()].map((t) => {
          const values = readGgufTensor(t) as Float32Array;
          if (!t.name.startsWith('blk.') || t.dims.length !== 2 || t.dims[0] % 32 !== 0) return { name: t.name, type: 'F32', dims: t.dims, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
          const blocks = values.length / 32;
          const out = Buffer.alloc(blocks * qz.bytes);
          const deq = new Float32Array(values.length);
          for (let b = 0; b < blocks; b++) qz.block(values.subarray(b * 32, b * 32 + 32), out, b * qz.bytes, deq.subarray(b * 32, b * 32 + 32));
          expected.set(t.name, deq);
          return { name: t.name, type, dims: t.dims, data: new Uint8Array(out) };
        });
        const md: [string, GgufEntry][] = [];
        for (const [k, v] of g.metadata) if (k !== 'general.alignment') md.push([k, asEntry(v, g.metadataTypes.get(k)!)]);
        const file = join(dir.path, `${type}.gguf`);
        writeGguf(file, md, tensors);
        const model = loadModel(file);
        model.weights.layers.forEach((l, i) => {
          for (const [k, name] of [['q', 'attn_q'], ['gate', 'ffn_gate']] as const) {
            const want = expected.get(`blk.${i}.${name}.weight`)!.slice();
            // the file's q rows are in llama.cpp's pair order, mutascan's in Hugging Face's
            if (k === 'q') pairsToHalves(want, l.q.rows, l.q.cols, model.config.headDim);
            assert.deepEqual(l[k].data, want, `blk.${i}.${name}`);
          }
        });
        const r = runCli(['generate', file, '--prompt', 'Once upon a time', '--max-new-tokens', '4', '--temperature', '0']);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`note: ${type} matrices dequantized to float32 \\([\\d.]+ MiB more than the file\\)`));
        const ids = forced(40, 3);
        const worst = worstLogprob(logitsOf(model, ids), model.config.vocabSize, await llamaCppLogprobs(file, ids));
        const gr = await greedyAgreement(file, model, PROMPT, 64);
        console.log(`# stories260K as ${type}: max |Δ log p| vs llama.cpp ${worst.toExponential(2)}, greedy 64: ${64 - gr.differ} identical`);
        assert.ok(worst < QUANT_TOL[type], `max |Δ log p| ${worst}`);
        assert.ok(gr.differ === 0 || gr.worstGap < 2 * QUANT_TOL[type], `greedy: ${gr.differ} steps differ (gap ${gr.worstGap})`);
      } finally {
        dir.remove();
      }
    });
  });

describe('K-quants (Q4_K, Q5_K, Q6_K: a Q4_K_M-like mix)', () => {
  it('are dequantized as ggml does, with a note of the memory, and mutascan agrees with llama.cpp on them', async () => {
    const dir = tempDir('gguf-kquant');
    try {
      // rows of 256 and 512 values: K-quants hold super-blocks of 256
      const hf = join(dir.path, 'model');
      writeSynthModel(hf, { architecture: 'llama', dim: 256, hiddenDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 2, tied: false, dtype: 'F32', seed: 9, vocabSize: 512, maxSeqLen: 256, shards: 1, tokenizer: STORIES_TOK });
      const src = join(dir.path, 'f32.gguf');
      assert.equal(runCli(['convert', hf, '--out', src]).status, 0);
      const g = readGguf(src);
      // as llama-quantize's Q4_K_M mixes them: most matrices Q4_K, v and down Q6_K; one layer's up as Q5_K
      const typeOf = (name: string): KQuant | undefined =>
        !name.startsWith('blk.') || !name.endsWith('.weight') || !/attn_|ffn_(gate|up|down)/.test(name) || name.includes('norm') ? undefined
          : /attn_v|ffn_down/.test(name) ? 'Q6_K' : name === 'blk.1.ffn_up.weight' ? 'Q5_K' : 'Q4_K';
      const expected = new Map<string, Float32Array>();
      const tensors: GgufTensorToWrite[] = [...g.tensors.values()].map((t) => {
        const values = readGgufTensor(t) as Float32Array;
        const type = typeOf(t.name);
        if (!type) return { name: t.name, type: 'F32', dims: t.dims, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
        const q = kQuantize(type, values);
        expected.set(t.name, q.values);
        return { name: t.name, type, dims: t.dims, data: q.bytes };
      });
      const md: [string, GgufEntry][] = [];
      for (const [k, v] of g.metadata) if (k !== 'general.alignment') md.push([k, asEntry(v, g.metadataTypes.get(k)!)]);
      const file = join(dir.path, 'kquant.gguf');
      writeGguf(file, md, tensors);
      const model = loadModel(file);
      model.weights.layers.forEach((l, i) => {
        for (const [k, name] of [['v', 'attn_v'], ['gate', 'ffn_gate'], ['up', 'ffn_up']] as const)
          assert.deepEqual(l[k].data, expected.get(`blk.${i}.${name}.weight`), `blk.${i}.${name}`);
      });
      const r = runCli(['generate', file, '--prompt', 'Once upon a time', '--max-new-tokens', '4', '--temperature', '0']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /note: Q4_K, Q6_K, Q5_K matrices dequantized to float32 \([\d.]+ MiB more than the file\)/);
      // the dequantized values as an F32 file: llama.cpp on it must agree with mutascan as on any F32 model, which
      // ties the dequantization to llama.cpp; on the quantized file llama.cpp also quantizes each product's
      // activations to 8 bits per block of 256 (Q8_K, the K-quants' vec_dot_type), which alone moves it as far
      const deqFile = join(dir.path, 'dequantized.gguf');
      writeGguf(deqFile, md, tensors.map((t) => (expected.has(t.name) ? { name: t.name, type: 'F32', dims: t.dims, data: new Uint8Array(expected.get(t.name)!.buffer) } : t)));
      const ids = forced(40, 4);
      const ours = logitsOf(model, ids);
      const exact = worstLogprob(ours, model.config.vocabSize, await llamaCppLogprobs(deqFile, ids));
      const worst = worstLogprob(ours, model.config.vocabSize, await llamaCppLogprobs(file, ids));
      const gr = await greedyAgreement(file, model, PROMPT, 64);
      console.log(`# a Q4_K/Q5_K/Q6_K mix: max |Δ log p| vs llama.cpp on the dequantized weights ${exact.toExponential(2)}; on the quantized file ${worst.toExponential(2)} (llama.cpp's 8-bit activations), greedy 64: ${64 - gr.differ} identical`);
      assert.ok(exact < TOL.F32, `dequantized: max |Δ log p| ${exact}`);
      assert.ok(worst < 0.25, `max |Δ log p| ${worst}`);
      assert.ok(gr.differ === 0 || gr.worstGap < 0.5, `greedy: ${gr.differ} steps differ (gap ${gr.worstGap})`);
    } finally {
      dir.remove();
    }
  });
});

/** A metadata value read back, as the writer's entry of the same GGUF type. */
function asEntry(v: GgufValue, type: string): GgufEntry {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (v instanceof Float32Array) return { type: 'f32s', value: v };
  if (v instanceof Int32Array) return { type: 'i32s', value: v };
  if (Array.isArray(v)) return { type: 'strings', value: v as string[] };
  if (type === 'u32' || type === 'i32' || type === 'f32' || type === 'u64') return { type, value: Number(v) };
  throw new Error(`no writer entry for a ${type}`);
}

describe('GGUF files that mutascan refuses, with a message', () => {
  const dir = tempDir('gguf-bad');
  after(() => dir.remove());
  const good = (): Buffer => readFileSync(STORIES_GGUF);

  const cases: [string, () => Buffer, RegExp][] = [
    ['bad magic', () => Buffer.concat([Buffer.from('GGUX'), good().subarray(4)]), /not a GGUF file/],
    ['a newer version', () => { const b = good(); b.writeUInt32LE(99, 4); return b; }, /GGUF version 99 is not supported/],
    ['truncated in the header', () => good().subarray(0, 5000), /ends inside the header/],
    ['truncated in the data', () => good().subarray(0, good().length - 1000), /past the file's end|truncated/],
    ['a tensor count beyond the file', () => { const b = good(); b.writeBigUInt64LE(1n << 40n, 8); return b; }, /more than .* bytes can hold/],
    ['an unknown architecture', () => replaceString(good(), 'llama', 'llamX', 1), /GGUF architecture "llamX" is not supported/],
    ['an unknown tensor type', () => setTensorType(good(), 'blk.0.attn_q.weight', 77), /tensor type 77 is not a ggml type/],
    ['a quantized type mutascan does not read', () => setTensorType(good(), 'blk.0.attn_q.weight', 11), /stored as Q3_K, which mutascan cannot read/],
  ];
  for (const [name, make, message] of cases)
    it(name, () => {
      const file = join(dir.path, `${name.replaceAll(' ', '-')}.gguf`);
      writeFileSync(file, make());
      const r = runCli(['generate', file, '--prompt', 'Once', '--max-new-tokens', '2', '--temperature', '0']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, r.stderr);
    });
});

/** The first `nth` occurrence of `from` in the file's metadata strings replaced by `to` (same length). */
function replaceString(b: Buffer, from: string, to: string, nth: number): Buffer {
  const key = Buffer.from('general.architecture');
  let at = b.indexOf(key);
  for (let i = 1; i < nth; i++) at = b.indexOf(key, at + 1);
  const v = b.indexOf(Buffer.from(from), at + key.length);
  b.write(to, v, 'latin1');
  return b;
}

/** The type field of a tensor info: after its name, dimension count and dimensions. */
function setTensorType(b: Buffer, tensor: string, type: number): Buffer {
  const name = Buffer.from(tensor);
  const at = b.indexOf(name);
  const nd = b.readUInt32LE(at + name.length);
  b.writeUInt32LE(type, at + name.length + 4 + 8 * nd);
  return b;
}
