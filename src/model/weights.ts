/**
 * The weights of a Llama-family decoder. Matrices are stored [out_features, in_features], row-major,
 * exactly as in the checkpoint; bf16 and f16 stay as they are (a Uint16Array of the raw bits), everything else
 * is f32. An f16 matrix multiplies as the float32 matrix it widens to, exactly (f16 values are f32 values).
 */
import { widening } from '../util/float.js';
import type { NormSlot } from './family.js';

export type DType = 'f32' | 'bf16' | 'f16';

export interface Matrix {
  /** Hugging Face tensor name, e.g. model.layers.2.mlp.down_proj.weight */
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly dtype: DType;
  readonly data: Float32Array | Uint16Array;
  /**
   * Norm vectors held as targets (1 × n) of a family whose files store w where RMSNorm multiplies by offset + w
   * (Gemma's Hugging Face files: 1): mutations act on that factor, whatever the file stores.
   */
  readonly offset?: number;
}

/** One layer. Norm weights are float32 as the file stores them (Gemma's HF files: w − 1, see ModelConfig.normOffset). */
export interface LayerWeights {
  /** the attention block's input norm (absent in OLMo 2) */
  attnNorm?: Float32Array;
  /** the attention block's output norm, before the residual add (Gemma 2/3, OLMo 2) */
  attnOutNorm?: Float32Array;
  /** query and key norms before RoPE ([headDim] per head, or the whole projection) */
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  /** the feed-forward block's input norm (absent in OLMo 2) */
  ffnNorm?: Float32Array;
  /** the feed-forward block's output norm (Gemma 2/3, OLMo 2) */
  ffnOutNorm?: Float32Array;
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

export interface ModelWeights {
  embed: Matrix;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** The same object as `embed` when embeddings are tied. */
  lmHead: Matrix;
}

export const LAYER_MATRICES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LayerMatrix = (typeof LAYER_MATRICES)[number];

/** A layer's norm vectors as screen targets name them (`3.attn_norm`, …), by the slot that holds them. */
export const NORM_TARGETS = {
  attnNorm: 'attn_norm', qNorm: 'q_norm', kNorm: 'k_norm', attnOutNorm: 'attn_out_norm', ffnNorm: 'ffn_norm', ffnOutNorm: 'ffn_out_norm',
} as const satisfies Record<NormSlot, string>;
export type LayerNorm = (typeof NORM_TARGETS)[NormSlot];

/** What a layer holds, in the order its forward pass reads it: the canonical order of a screen's targets. */
export const LAYER_PARTS: readonly (LayerMatrix | LayerNorm)[] = ['attn_norm', 'q', 'k', 'v', 'q_norm', 'k_norm', 'o', 'attn_out_norm', 'ffn_norm', 'gate', 'up', 'down', 'ffn_out_norm'];

const HF_SUFFIX: Record<LayerMatrix, string> = {
  q: 'self_attn.q_proj.weight',
  k: 'self_attn.k_proj.weight',
  v: 'self_attn.v_proj.weight',
  o: 'self_attn.o_proj.weight',
  gate: 'mlp.gate_proj.weight',
  up: 'mlp.up_proj.weight',
  down: 'mlp.down_proj.weight',
};

export function hfMatrixName(layer: number, m: LayerMatrix): string {
  return `model.layers.${layer}.${HF_SUFFIX[m]}`;
}

/** The [rows, cols] of each layer matrix of a model of this config. */
export function layerShapes(c: { dim: number; hiddenDim: number; nHeads: number; nKvHeads: number; headDim: number }): Record<LayerMatrix, [number, number]> {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  return {
    q: [qDim, c.dim], k: [kvDim, c.dim], v: [kvDim, c.dim], o: [c.dim, qDim],
    gate: [c.hiddenDim, c.dim], up: [c.hiddenDim, c.dim], down: [c.dim, c.hiddenDim],
  };
}

/** The length of a layer's norm vector in this slot. */
export function normLength(c: { dim: number; nHeads: number; nKvHeads: number; headDim: number; qkNorm?: 'head' | 'whole' }, slot: NormSlot): number {
  if (slot === 'qNorm') return c.qkNorm === 'whole' ? c.nHeads * c.headDim : c.headDim;
  if (slot === 'kNorm') return c.qkNorm === 'whole' ? c.nKvHeads * c.headDim : c.headDim;
  return c.dim;
}

/** A matrix over `data`: float32, or the bits of a 16-bit type (bf16 unless `dtype` says f16). */
export function matrix(name: string, rows: number, cols: number, data: Float32Array | Uint16Array, dtype?: DType): Matrix {
  return { name, rows, cols, dtype: data instanceof Uint16Array ? (dtype === 'f16' ? 'f16' : 'bf16') : 'f32', data };
}

/** Element i of m as a float32 value (a 16-bit type widened exactly). */
export function elementValue(m: Matrix, i: number): number {
  return m.dtype === 'f32' ? m.data[i] : widening(m.dtype)[m.data[i]];
}

/** Every mutable matrix by its checkpoint name (lm_head only when untied). */
export function allMatrices(w: ModelWeights): Map<string, Matrix> {
  const out = new Map<string, Matrix>();
  out.set(w.embed.name, w.embed);
  w.layers.forEach((l) => LAYER_MATRICES.forEach((m) => out.set(l[m].name, l[m])));
  if (w.lmHead !== w.embed) out.set(w.lmHead.name, w.lmHead);
  return out;
}
