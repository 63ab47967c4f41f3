/**
 * How a family's files store a layer's matrices: one tensor per logical matrix (q_proj, …, down_proj), or fused
 * tensors whose rows hold several (Phi-3's qkv_proj and gate_up_proj). Loaders cut fused tensors into views, so
 * a mutant of `L.k` writes into the k rows of the fused tensor and targets keep their logical names on every
 * family; writers join the parts again.
 */
import type { Family } from './family.js';
import { hfMatrixName, LAYER_MATRICES, matrix, type LayerMatrix, type Matrix } from './weights.js';

/** llama.cpp's tensor name of each layer matrix (`blk.N.<name>.weight`). */
export const GGUF_LAYER_NAMES: Record<LayerMatrix, string> = {
  q: 'attn_q', k: 'attn_k', v: 'attn_v', o: 'attn_output', gate: 'ffn_gate', up: 'ffn_up', down: 'ffn_down',
};

/** One stored tensor of a layer: its names (HF after `model.layers.N.`, GGUF after `blk.N.`) and the logical matrices in its rows. */
export interface StoredMatrix {
  hf: string;
  gguf: string;
  parts: readonly LayerMatrix[];
}

/** The tensors a layer of this family stores its matrices in, fused ones where the family fuses. */
export function storedMatrices(fam: Family): StoredMatrix[] {
  const fused = fam.fused ?? [];
  const out: StoredMatrix[] = [];
  for (const m of LAYER_MATRICES) {
    const group = fused.find((f) => f.parts.includes(m as never));
    if (!group) out.push({ hf: hfMatrixName(0, m).replace('model.layers.0.', ''), gguf: `${GGUF_LAYER_NAMES[m]}.weight`, parts: [m] });
    else if (group.parts[0] === m) out.push({ hf: `${group.names.hf}.weight`, gguf: `${group.names.gguf}.weight`, parts: group.parts });
  }
  return out;
}

/**
 * A stored tensor's logical matrices as views of its data (no copy): part i is rows [Σ earlier rows, + its rows).
 * `rowsOf` gives each part's rows; `nameOf` the name each view carries.
 */
export function partsOf(data: Float32Array | Uint16Array, cols: number, parts: readonly LayerMatrix[], rowsOf: (m: LayerMatrix) => number, nameOf: (m: LayerMatrix) => string): Map<LayerMatrix, Matrix> {
  const out = new Map<LayerMatrix, Matrix>();
  let row = 0;
  for (const m of parts) {
    const rows = rowsOf(m);
    out.set(m, matrix(nameOf(m), rows, cols, data.subarray(row * cols, (row + rows) * cols)));
    row += rows;
  }
  return out;
}

/** The rows of a stored tensor: its parts' together. */
export function storedRows(s: StoredMatrix, rowsOf: (m: LayerMatrix) => number): number {
  return s.parts.reduce((a, m) => a + rowsOf(m), 0);
}
