import type { Matrix } from '../model/weights.js';

/**
 * The one place the forward pass asks for heavy arithmetic. Everything else in the engine is
 * cheap per-element work that stays in TypeScript.
 */
export interface Backend {
  readonly name: 'ts' | 'native';
  /** out[r·W.rows + o] = Σ_j x[r·W.cols + j] · W[o, j], for r < rows; W is [out × in] as stored. */
  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void;
  /**
   * True when every product is a float32 dot product summed in index order with each step rounded,
   * as llama2.c's run.c does; such a backend reproduces run.c bit for bit.
   */
  readonly sequentialSums: boolean;
}
