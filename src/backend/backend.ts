import type { Sampling } from '../model/sampler.js';
import type { DType, Matrix } from '../model/weights.js';
import type { AttentionShape } from './ts-ops.js';

export type { AttentionShape };

/**
 * The arithmetic the forward pass asks for. `matmul` is the heavy part; the rest is the per-position work,
 * here so that a backend can run it without leaving native code. All arrays are used in place.
 */
export interface Backend {
  readonly name: 'ts' | 'native';
  /**
   * True when a row's products with matrices of this dtype come out bit for bit the same whatever other rows
   * share the call, and `matmulInto` on a few replacement rows gives what the whole mutated matrix would: the
   * fast path then equals the plain path without tie re-checks. (The TypeScript twin sums in index order, as
   * run.c does; the native backend's kernels fix their order per output, see native/src/exact-order.h.)
   */
  rowExact(dtype: DType): boolean;
  /**
   * What the results' bits depend on besides the model and the inputs: equal strings mean the same bits
   * (docs/numerics.md). Stored with a screen's results; workers whose numerics differ from a screen's are refused.
   */
  numerics(): string;
  /** out[r·W.rows + o] = Σ_j x[r·W.cols + j] · W[o, j], for r < rows; W is [out × in] as stored. */
  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void;
  /** The same product written `ldo` apart: out[r·ldo + o]. Used for a mutant's few replaced rows of a matrix. */
  matmulInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Matrix): void;
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number, eps: number): void;
  /** RoPE over the first `rotDim` dimensions of each head (default: all of them); see ts-ops.ts */
  rope(vec: Float32Array, rows: number, heads: number, headDim: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean, rotDim?: number): void;
  /**
   * Writes each row's key and value into its cache: rows [rows × kvDim] of k and v go to kc/vc at
   * offset[r] + pos[r]·kvDim (the layout `attention` reads).
   */
  storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void;
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, shape: AttentionShape): void;
  swiglu(h1: Float32Array, h3: Float32Array): void;
  /** h1 ← gelu_tanh(h1) · h3 (Gemma's GeGLU) */
  geglu(h1: Float32Array, h3: Float32Array): void;
  add(x: Float32Array, y: Float32Array): void;
  /** out [W.cols × W.rows] = Wᵀ in float32 (a bf16 matrix widened): the backward pass multiplies by W itself. */
  transposeF32(out: Float32Array, w: Matrix): void;
  /**
   * A token for each of `rows` rows of logits ([rows × vocab], row r with coins[r]): exactly what sampler.ts's
   * `choose` gives each row (the same tokens and margins), written to tokens[r] and margins[r].
   */
  sampleRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, s: Sampling, coins: Float64Array): void;
}
