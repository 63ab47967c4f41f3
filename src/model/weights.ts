/**
 * The weights of a Llama-family decoder. Matrices are stored [out_features, in_features], row-major,
 * exactly as in the checkpoint; bf16 stays bf16 (a Uint16Array of the raw bits), everything else is f32.
 */
export type DType = 'f32' | 'bf16';

export interface Matrix {
  /** Hugging Face tensor name, e.g. model.layers.2.mlp.down_proj.weight */
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly dtype: DType;
  readonly data: Float32Array | Uint16Array;
}

export interface LayerWeights {
  attnNorm: Float32Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  ffnNorm: Float32Array;
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

export function matrix(name: string, rows: number, cols: number, data: Float32Array | Uint16Array): Matrix {
  return { name, rows, cols, dtype: data instanceof Uint16Array ? 'bf16' : 'f32', data };
}

/** Every mutable matrix by its checkpoint name (lm_head only when untied). */
export function allMatrices(w: ModelWeights): Map<string, Matrix> {
  const out = new Map<string, Matrix>();
  out.set(w.embed.name, w.embed);
  w.layers.forEach((l) => LAYER_MATRICES.forEach((m) => out.set(l[m].name, l[m])));
  if (w.lmHead !== w.embed) out.set(w.lmHead.name, w.lmHead);
  return out;
}
