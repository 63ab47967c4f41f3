/**
 * How a family's files store a layer's matrices: one tensor per logical matrix (q_proj, …, down_proj), or fused
 * tensors whose rows hold several (Phi-3's qkv_proj and gate_up_proj). Loaders cut fused tensors into views, so
 * a mutant of `L.k` writes into the k rows of the fused tensor and targets keep their logical names on every
 * family; writers join the parts again.
 */
import type { Family } from './family.js';
import { hfMatrixName, LAYER_MATRICES, matrix, type DType, type LayerMatrix, type Matrix } from './weights.js';

/** Which order a matrix's rows are given in: Hugging Face's, or llama2.c's pair order (q and k of its checkpoints). */
export type RowLayout = 'huggingface' | 'llama2c';

/**
 * RoPE's two orders of a head's q/k rows. llama2.c checkpoints and llama.cpp's `llama` GGUF files rotate adjacent
 * pairs (2i, 2i+1); Hugging Face checkpoints rotate halves (i, i + d/2). Within every head, Hugging Face row i is
 * pair row 2i and row i + d/2 is pair row 2i + 1; every other matrix, and the columns of q and k, are the same in
 * both. Permuted so, the two compute the very same numbers.
 */
export function hfRowOfPairRow(row: number, headDim: number): number {
  const head = Math.floor(row / headDim);
  const r = row % headDim;
  return head * headDim + (r % 2 === 0 ? r / 2 : headDim / 2 + (r - 1) / 2);
}

/** The inverse of hfRowOfPairRow: the pair-order row of a Hugging Face q/k row. */
export function pairRowOfHfRow(row: number, headDim: number): number {
  const head = Math.floor(row / headDim);
  const r = row % headDim;
  const half = headDim / 2;
  return head * headDim + (r < half ? 2 * r : 2 * (r - half) + 1);
}

/**
 * Rows of a q/k matrix (or bias: `cols` 1) in pair order put into Hugging Face's halves order, in place, one head
 * at a time. On a memory-mapped matrix this writes every page (they become private memory).
 */
export function pairsToHalves(data: Float32Array | Uint16Array, rows: number, cols: number, headDim: number): void {
  const head = data.slice(0, headDim * cols);
  for (let h = 0; h < rows / headDim; h++) {
    const base = h * headDim;
    head.set(data.subarray(base * cols, (base + headDim) * cols));
    for (let r = 0; r < headDim; r++) data.set(head.subarray(r * cols, (r + 1) * cols), hfRowOfPairRow(base + r, headDim) * cols);
  }
}

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
export function partsOf(data: Float32Array | Uint16Array, cols: number, parts: readonly LayerMatrix[], rowsOf: (m: LayerMatrix) => number, nameOf: (m: LayerMatrix) => string, dtype?: DType): Map<LayerMatrix, Matrix> {
  const out = new Map<LayerMatrix, Matrix>();
  let row = 0;
  for (const m of parts) {
    const rows = rowsOf(m);
    out.set(m, matrix(nameOf(m), rows, cols, data.subarray(row * cols, (row + rows) * cols), dtype));
    row += rows;
  }
  return out;
}

/** The rows of a stored tensor: its parts' together. */
export function storedRows(s: StoredMatrix, rowsOf: (m: LayerMatrix) => number): number {
  return s.parts.reduce((a, m) => a + rowsOf(m), 0);
}
