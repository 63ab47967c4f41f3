/**
 * A model from a GGUF file: llama.cpp's metadata keys become a ModelConfig, its tensor names our weights, its
 * tokenizer arrays a tokenizer.
 *
 * Coordinates are Hugging Face's. llama.cpp's converter permutes the q/k rows of `llama` files into pair order
 * (layout.ts); they are put back into halves here, so a mutant's (row, col) names the same weight in a GGUF file
 * as in the Hugging Face folder it came from, and both compute the very same numbers. A matrix [rows × cols] is
 * stored as ggml dims [cols, rows], row-major: the same bytes as a safetensors [rows, cols] tensor.
 */
import { fail } from '../errors.js';
import { ChatTemplate } from './chat.js';
import type { ModelConfig } from './config.js';
import { NORM_SLOTS } from './family.js';
import { FAMILIES, familyOfGguf } from './families/index.js';
import { readGguf, readGgufTensor, readableType, type GgufTensor, type GgufValue } from './gguf.js';
import { mappingAvailable, mapTensors } from './mapped.js';
import type { TensorInfo } from './safetensors.js';
import type { Tokenizer } from './tokenizer.js';
import { readGgufTokenizer } from './vocab-gguf.js';
import { GGUF_LAYER_NAMES, pairsToHalves, partsOf, storedMatrices, storedRows } from './layout.js';
import { LAYER_MATRICES, layerShapes, matrix, normLength, type LayerMatrix, type LayerWeights, type Matrix, type ModelWeights } from './weights.js';


export interface GgufModel {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  chatTemplate?: ChatTemplate;
  mapped: boolean;
  /** tensors that were dequantized, with the bytes that cost */
  dequantized: { types: string[]; bytes: number };
}

export function loadGguf(file: string, opts: { map?: boolean } = {}): GgufModel {
  const g = readGguf(file);
  const md = g.metadata;
  const arch = md.get('general.architecture');
  if (typeof arch !== 'string') fail('the file has no general.architecture', file, 'the header is incomplete: was it written by llama.cpp?');
  const family = familyOfGguf(arch);
  if (!family) fail(`GGUF architecture "${arch}" is not supported`, file, `mutascan reads GGUF architectures: ${[...new Set(FAMILIES.map((f) => f.gguf))].join(', ')}`);

  const num = (key: string, fallback?: number): number => {
    const v = md.get(`${arch}.${key}`);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      fail(`the file has no ${arch}.${key}`, file, 'the header is incomplete');
    }
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) fail(`${arch}.${key} must be a number, got ${describe(v)}`, file, 'the header is corrupt');
    return n;
  };
  const posInt = (key: string, fallback?: number): number => {
    const n = num(key, fallback);
    if (!Number.isInteger(n) || n <= 0) fail(`${arch}.${key} must be a positive integer, got ${n}`, file, 'the header is corrupt');
    return n;
  };
  const tensor = (name: string): GgufTensor => {
    const t = g.tensors.get(name);
    if (!t) fail(`tensor ${name} is missing`, file, `a ${arch} model needs it`);
    return t;
  };

  const dim = posInt('embedding_length');
  const nHeads = posInt('attention.head_count');
  const nKvHeads = posInt('attention.head_count_kv', nHeads);
  if (nHeads % nKvHeads !== 0) fail(`${arch}.attention.head_count (${nHeads}) is not a multiple of head_count_kv (${nKvHeads})`, file);
  const headDim = posInt('attention.key_length', dim / nHeads);
  if (headDim % 2 !== 0) fail(`head size ${headDim} is odd; RoPE needs an even head size`, file);
  const ropeDims = posInt('rope.dimension_count', headDim);
  if (ropeDims !== headDim && !(family.partialRotary && ropeDims < headDim && ropeDims % 2 === 0))
    fail(`${arch}.rope.dimension_count is ${ropeDims}, the head size ${headDim}`, file, family.partialRotary ? 'it must be even and at most the head size' : 'partial rotary embeddings are not supported for this architecture');
  const embed = tensor('token_embd.weight');
  const vocabSize = posInt('vocab_size', embed.dims[1]);

  const config: ModelConfig = {
    architecture: family.name,
    dim,
    hiddenDim: posInt('feed_forward_length'),
    nLayers: posInt('block_count'),
    nHeads,
    nKvHeads,
    headDim,
    vocabSize,
    maxSeqLen: posInt('context_length', 2048),
    normEps: num('attention.layer_norm_rms_epsilon', 1e-5),
    ropeTheta: num('rope.freq_base', 10000),
    ropeLayout: 'halves',
    tiedEmbeddings: !g.tensors.has('output.weight'),
    qkvBias: family.qkvBias === 'always' || (family.qkvBias === 'config' && g.tensors.has('blk.0.attn_q.bias')),
    bosId: idOf(md, 'tokenizer.ggml.bos_token_id', 1),
    stopIds: [idOf(md, 'tokenizer.ggml.eos_token_id', 2)],
  };
  if (ropeDims !== headDim) config.ropeDim = ropeDims;
  const scaling = md.get(`${arch}.rope.scaling.type`);
  const factorsOf = (name: string): Float32Array => {
    const t = tensor(name);
    if (t.dims.length !== 1 || t.dims[0] !== ropeDims / 2) fail(`${name} has dims [${t.dims}], the rotated dimensions need [${ropeDims / 2}]`, file, 'the header is corrupt');
    return readGgufTensor(t, { widen: true }) as Float32Array;
  };
  if (g.tensors.has('rope_freqs.weight')) config.ropeScaling = { type: 'factors', factors: factorsOf('rope_freqs.weight') };
  else if (g.tensors.has('rope_factors_short.weight')) {
    const original = posInt('rope.scaling.original_context_length', config.maxSeqLen);
    config.ropeScaling = { type: 'longrope', short: factorsOf('rope_factors_short.weight'), long: factorsOf('rope_factors_long.weight'), attnFactor: num('rope.scaling.attn_factor', 1), originalMaxPositionEmbeddings: original };
    config.maxSeqLen = Math.min(config.maxSeqLen, original);
  } else if (scaling === 'linear') config.ropeScaling = { type: 'linear', factor: num('rope.scaling.factor') };
  else if (scaling !== undefined && scaling !== 'none') fail(`RoPE scaling "${describe(scaling)}" is not supported`, file, 'supported: linear, and per-frequency factors (rope_freqs.weight, as Llama 3 files have)');
  const window = md.get(`${arch}.attention.sliding_window`);
  if (typeof window === 'number' && window > 0) config.slidingWindow = window;
  family.fromGguf({ num, get: (key) => md.get(`${arch}.${key}`) }, config, file);

  // Matrices of F32, F16 and BF16 are mapped where they can be; quantized ones are dequantized into memory.
  const canMap = opts.map ?? mappingAvailable();
  // F16 stays F16 when every matrix is F16; beside other types it is widened to float32 with them
  const keepF16 = [...g.tensors.values()].filter((t) => t.dims.length === 2).every((t) => t.type === 'F16');
  const matrixTensors = [...g.tensors.values()].filter((t) => t.dims.length === 2 && (t.type === 'F32' || t.type === 'BF16' || (keepF16 && t.type === 'F16')));
  const mapped = canMap ? mapTensors(matrixTensors.map(asTensorInfo)) : new Map<string, Float32Array | Uint16Array>();
  const dequantized = { types: new Set<string>(), bytes: 0 };

  const mat = (name: string, rows: number, cols: number): Matrix => {
    const t = tensor(name);
    if (t.dims.length !== 2 || t.dims[0] !== cols || t.dims[1] !== rows)
      fail(`tensor ${name} has dims [${t.dims}] but the header implies [${cols}, ${rows}]`, file, 'the tensors do not match the metadata');
    if (!readableType(t.type)) readGgufTensor(t); // refuses, naming the type
    const f16 = keepF16 && t.type === 'F16';
    const data = mapped.get(name) ?? readGgufTensor(t, { widen: t.type === 'F16' && !f16 });
    if (t.type !== 'F32' && t.type !== 'BF16' && !f16) {
      dequantized.types.add(t.type);
      dequantized.bytes += rows * cols * 4 - t.byteLength;
    }
    return matrix(name, rows, cols, data, f16 ? 'f16' : undefined);
  };
  const vec = (name: string, n: number): Float32Array => {
    const t = tensor(name);
    if (t.dims.length !== 1 || t.dims[0] !== n) fail(`tensor ${name} has dims [${t.dims}] but the header implies [${n}]`, file, 'the tensors do not match the metadata');
    return readGgufTensor(t, { widen: true }) as Float32Array;
  };

  const c = config;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const shapes = layerShapes(c);
  const stored = storedMatrices(family);
  const embedM = mat('token_embd.weight', c.vocabSize, c.dim);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}`;
    const m = {} as Record<LayerMatrix, Matrix>;
    for (const st of stored) {
      const cols = shapes[st.parts[0]][1];
      const whole = mat(`${p}.${st.gguf}`, storedRows(st, (k) => shapes[k][0]), cols);
      for (const [k, view] of partsOf(whole.data, cols, st.parts, (k) => shapes[k][0], (k) => (st.parts.length > 1 ? `${p}.${GGUF_LAYER_NAMES[k]}.weight` : whole.name), whole.dtype)) m[k] = view;
    }
    const norms = Object.fromEntries(NORM_SLOTS.flatMap((slot) => {
      const n = family.norms[slot];
      return n ? [[slot, vec(`${p}.${n.gguf}.weight`, normLength(c, slot))]] : [];
    }));
    const biases = c.qkvBias ? { qBias: vec(`${p}.attn_q.bias`, qDim), kBias: vec(`${p}.attn_k.bias`, kvDim), vBias: vec(`${p}.attn_v.bias`, kvDim) } : {};
    if (family.ggufRopeLayout === 'interleaved') {
      for (const x of [m.q, m.k]) pairsToHalves(x.data, x.rows, x.cols, c.headDim);
      for (const b of [biases.qBias, biases.kBias]) if (b) pairsToHalves(b, b.length, 1, c.headDim);
    }
    layers.push({ ...norms, ...m, ...biases });
  }
  const weights: ModelWeights = {
    embed: embedM,
    layers,
    finalNorm: vec('output_norm.weight', c.dim),
    lmHead: c.tiedEmbeddings ? embedM : mat('output.weight', c.vocabSize, c.dim),
  };
  const dtypes = new Set([weights.embed, ...layers.flatMap((l) => LAYER_MATRICES.map((k) => l[k])), weights.lmHead].map((x) => x.dtype));
  if (dtypes.size > 1)
    fail(`the file mixes matrix types (${[...new Set(matrixTensors.map((t) => t.type))].join(', ')} with others)`, file, 'mutascan runs one working dtype: convert the model to a single type (F32 or BF16)');

  const tokenizer = readGgufTokenizer(g, c.vocabSize);
  const template = md.get('tokenizer.chat_template');
  let chatTemplate: ChatTemplate | undefined;
  if (typeof template === 'string') {
    const piece = (key: string): string => {
      const id = md.get(key);
      return typeof id === 'number' && id >= 0 && id < tokenizer.vocabSize ? tokenizer.tokenText(id) : '';
    };
    chatTemplate = new ChatTemplate(template, { bos_token: piece('tokenizer.ggml.bos_token_id'), eos_token: piece('tokenizer.ggml.eos_token_id') }, `${file}: tokenizer.chat_template`);
  }
  return { config, weights, tokenizer, chatTemplate, mapped: mapped.size > 0, dequantized: { types: [...dequantized.types], bytes: dequantized.bytes } };
}

function asTensorInfo(t: GgufTensor): TensorInfo {
  return { name: t.name, file: t.file, dtype: t.type as 'F32' | 'BF16', shape: [t.dims[1], t.dims[0]], start: t.start, byteLength: t.byteLength };
}

function describe(v: GgufValue | undefined): string {
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `an array of ${(v as ArrayLike<unknown>).length}`;
  return JSON.stringify(v);
}

function idOf(md: Map<string, GgufValue>, key: string, fallback: number): number {
  const v = md.get(key);
  return typeof v === 'number' && Number.isInteger(v) ? v : fallback;
}
