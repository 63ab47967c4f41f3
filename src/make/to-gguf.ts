/**
 * Any model mutascan opens, written as a GGUF file that llama.cpp (and Ollama) run: the same weights, the metadata
 * keys llama.cpp's converter writes, and the vocabulary (vocab-gguf.ts).
 *
 * Coordinates: llama.cpp's `llama` architecture rotates adjacent pairs, so a Hugging Face model's q/k rows
 * (halves) are permuted into pair order here, as llama.cpp's converter does (layout.ts, pairRowOfHfRow); a llama2.c
 * model already rotates pairs and is written as it is; the other architectures keep halves. Every other matrix
 * keeps its (row, col). Norm vectors are written as what RMSNorm multiplies by: Gemma's Hugging Face w − 1 becomes
 * llama.cpp's 1 + w.
 */
import { fail } from '../errors.js';
import { F16_TO_F32, f32ToBf16, f32ToF16 } from '../util/float.js';
import type { ModelConfig } from '../model/config.js';
import { writeGguf, type GgufEntry, type GgufTensorToWrite } from '../model/gguf.js';
import { NORM_SLOTS } from '../model/family.js';
import { family } from '../model/families/index.js';
import { pairRowOfHfRow, storedMatrices } from '../model/layout.js';
import type { Model } from '../model/model.js';
import { ggufTokenizerEntries } from '../model/vocab-gguf.js';
import { elementValue, type Matrix } from '../model/weights.js';

const FILE_TYPE = { F32: 0, F16: 1, BF16: 32 } as const;

/** The types the writers store matrices in (GGUF and Hugging Face alike). */
export type GgufMatrixType = keyof typeof FILE_TYPE;

/** The GGUF architecture a model is written as (Mistral as `llama`, as llama.cpp's converter writes it). */
export function ggufArchitectureOf(c: ModelConfig): string {
  return family(c.architecture).gguf;
}

/** The metadata llama.cpp reads for this config. */
function metadata(model: Model, dtype: GgufMatrixType, name: string): [string, GgufEntry][] {
  const c = model.config;
  const arch = ggufArchitectureOf(c);
  const u32 = (value: number): GgufEntry => ({ type: 'u32', value });
  const f32 = (value: number): GgufEntry => ({ type: 'f32', value });
  const md: [string, GgufEntry][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    [`${arch}.context_length`, u32(c.maxSeqLen)],
    [`${arch}.embedding_length`, u32(c.dim)],
    [`${arch}.block_count`, u32(c.nLayers)],
    [`${arch}.feed_forward_length`, u32(c.hiddenDim)],
    [`${arch}.attention.head_count`, u32(c.nHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.nKvHeads)],
    [`${arch}.attention.key_length`, u32(c.headDim)],
    [`${arch}.attention.value_length`, u32(c.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.normEps)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(c.ropeDim ?? c.headDim)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
  ];
  if (c.ropeScaling?.type === 'linear') md.push([`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' }], [`${arch}.rope.scaling.factor`, f32(c.ropeScaling.factor)]);
  if (c.slidingWindow) md.push([`${arch}.attention.sliding_window`, u32(c.slidingWindow)]);
  md.push(...ggufTokenizerEntries(model));
  for (const [key, entry] of family(c.architecture).toGguf(c)) md.push([`${arch}.${key}`, entry]);
  if (model.chatTemplate) md.push(['tokenizer.chat_template', { type: 'string', value: model.chatTemplate.source }]);
  return md;
}

/** Llama 3's scaling as llama.cpp's per-frequency factors (each frequency is divided by its factor). */
function ropeFactors(c: ModelConfig): Float32Array | undefined {
  const s = c.ropeScaling;
  if (s?.type === 'factors') return s.factors;
  if (s?.type !== 'llama3') return undefined;
  const half = c.headDim / 2;
  const out = new Float32Array(half);
  const low = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const high = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const freq = 1 / Math.pow(c.ropeTheta, (2 * i) / c.headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < high) out[i] = 1;
    else if (wavelen > low) out[i] = s.factor;
    else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

function bytesOf(a: Float32Array | Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A matrix's bytes in `dtype` (f32 → bf16 or f16 rounds to nearest even), rows permuted by `rowOf` if given. */
export function matrixBytes(m: Matrix, dtype: GgufMatrixType, rowOf?: (r: number) => number): Uint8Array {
  const n = m.rows * m.cols;
  let data: Float32Array | Uint16Array = m.data;
  if (dtype === 'F16' && m.dtype !== 'f16') {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = f32ToF16(elementValue(m, i));
    data = out;
  } else if (dtype === 'BF16' && m.dtype !== 'bf16') {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = f32ToBf16(elementValue(m, i));
    data = out;
  } else if (dtype === 'F32' && m.dtype === 'bf16') {
    const out = new Float32Array(n);
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = m.data[i] << 16;
    data = out;
  } else if (dtype === 'F32' && m.dtype === 'f16') data = Float32Array.from(m.data, (h) => F16_TO_F32[h]);
  if (rowOf) {
    const src = data;
    const out = new (src.constructor as typeof Float32Array | typeof Uint16Array)(n);
    for (let r = 0; r < m.rows; r++) out.set(src.subarray(r * m.cols, (r + 1) * m.cols), rowOf(r) * m.cols);
    data = out;
  }
  return bytesOf(data);
}

/** A layer matrix's rows in the order a writer stores them, where q and k may be permuted. */
export type StoredPart = [Matrix, ((r: number) => number)?];

/**
 * One stored tensor of one matrix or of several fused (their rows one after another, Phi-3's qkv_proj): its rows,
 * columns, and bytes made when the writer gets to it. Both writers use it; they differ only in how they list dims.
 */
export function storedTensor(parts: StoredPart[], dtype: GgufMatrixType): { rows: number; cols: number; data: () => Uint8Array } {
  return {
    rows: parts.reduce((a, [m]) => a + m.rows, 0),
    cols: parts[0][0].cols,
    data: () => (parts.length === 1 ? matrixBytes(parts[0][0], dtype, parts[0][1]) : Buffer.concat(parts.map(([m, rowOf]) => matrixBytes(m, dtype, rowOf)))),
  };
}

/** v + offset in float32 (a norm vector from one offset convention to another); v itself for 0. */
export function withOffset(v: Float32Array, offset: number): Float32Array {
  return offset ? v.map((x) => Math.fround(x + offset)) : v;
}

/** A vector (a q/k bias) with element i moved to rowOf(i), as its matrix's rows are; itself without rowOf. */
export function permuted(v: Float32Array, rowOf?: (r: number) => number): Float32Array {
  if (!rowOf) return v;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[rowOf(i)] = v[i];
  return out;
}

export interface GgufWriteOptions {
  /** the matrices' type in the file (default: the model's own; F16 rounds to nearest even and widens back exactly) */
  dtype?: GgufMatrixType;
  name?: string;
}

/** Writes `model` (its current weights, mutations included) as a GGUF file. */
export function writeModelGguf(model: Model, file: string, opts: GgufWriteOptions = {}): void {
  const c = model.config;
  const w = model.weights;
  const dtype = opts.dtype ?? ({ f32: 'F32', bf16: 'BF16', f16: 'F16' } as const)[w.embed.dtype];
  const arch = ggufArchitectureOf(c);
  const fam = family(c.architecture);
  if (c.ropeLayout === 'interleaved' && fam.ggufRopeLayout === 'halves') fail(`a ${c.architecture} model with interleaved RoPE cannot be written as GGUF ${arch}`, model.source.path);
  const permute = fam.ggufRopeLayout === 'interleaved' && c.ropeLayout === 'halves' ? (r: number) => pairRowOfHfRow(r, c.headDim) : undefined;
  const stored = (name: string, parts: StoredPart[]): GgufTensorToWrite => {
    const t = storedTensor(parts, dtype);
    return { name, type: dtype, dims: [t.cols, t.rows], data: t.data };
  };
  const mat = (name: string, m: Matrix): GgufTensorToWrite => stored(name, [[m]]);
  const vec = (name: string, v: Float32Array, rowOf?: (r: number) => number): GgufTensorToWrite => ({ name, type: 'F32', dims: [v.length], data: bytesOf(permuted(v, rowOf)) });
  // llama.cpp's files hold what RMSNorm multiplies by (Gemma's 1 + w)
  const norm = (name: string, v: Float32Array): GgufTensorToWrite => vec(name, withOffset(v, c.normOffset ?? 0));
  const tensors: GgufTensorToWrite[] = [mat('token_embd.weight', w.embed)];
  const factors = ropeFactors(c);
  if (factors) tensors.push(vec('rope_freqs.weight', factors));
  if (c.ropeScaling?.type === 'longrope') tensors.push(vec('rope_factors_long.weight', c.ropeScaling.long), vec('rope_factors_short.weight', c.ropeScaling.short));
  w.layers.forEach((l, i) => {
    const p = `blk.${i}`;
    for (const slot of NORM_SLOTS) {
      const v = l[slot];
      const n = fam.norms[slot];
      if (v && n) tensors.push(norm(`${p}.${n.gguf}.weight`, v));
    }
    for (const st of storedMatrices(fam)) tensors.push(stored(`${p}.${st.gguf}`, st.parts.map((k) => [l[k], k === 'q' || k === 'k' ? permute : undefined])));
    if (l.qBias) tensors.push(vec(`${p}.attn_q.bias`, l.qBias, permute));
    if (l.kBias) tensors.push(vec(`${p}.attn_k.bias`, l.kBias, permute));
    if (l.vBias) tensors.push(vec(`${p}.attn_v.bias`, l.vBias));
  });
  tensors.push(norm('output_norm.weight', w.finalNorm));
  if (w.lmHead !== w.embed) tensors.push(mat('output.weight', w.lmHead));
  writeGguf(file, metadata(model, dtype, opts.name ?? 'mutascan'), tensors);
}
