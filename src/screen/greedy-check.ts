/**
 * Teacher-forced greedy steps checked without the whole classifier.
 *
 * A greedy step is silent when the baseline's token is still the argmax. The classifier's input y′ (the final
 * norm's output) of a mutant is usually close to the baseline's y, and the baseline's logits z are known, so by
 * Cauchy–Schwarz every other token's logit is at most z_j + ‖w_j‖·‖y′ − y‖ (plus the rounding of two dot
 * products, bounded by γ_n·‖w_j‖·‖y‖). Only the tokens whose bound comes within `guard` of the baseline token's
 * own logit are computed; the rest cannot win. Tokens are visited in the baseline's order of z, so a step
 * usually looks at a handful of rows of the classifier instead of all of them.
 *
 * The decision equals the argmax of the full row computed the same way (same kernel, same order per output).
 * The margin returned is a lower bound of the top-2 gap, never above it, so a tie is never missed: on backends
 * that are not row-exact the step is re-checked on the plain path when the bound is below the tie epsilon,
 * and `guard` (≥ that epsilon) keeps tokens near the top exact so the bound is not needlessly small.
 * When the baseline token loses, or too many tokens come near, the caller computes the whole row.
 */
import type { Backend } from '../backend/backend.js';
import { dotF32 } from '../backend/ts-backend.js';
import { elementValue, type Matrix } from '../model/weights.js';
import { BF16_TO_F32, f32ToBf16 } from '../util/float.js';

export interface GreedyStep {
  token: number;
  margin: number;
}

/** Visiting more than this share of the vocabulary costs more than one row of the full product. */
const MAX_VISITED = 1 / 16;

export class GreedyCheck {
  private readonly wNorm: Float64Array;
  private readonly wNormMax: number;
  /** per step: token ids by the baseline's logit, highest first */
  private readonly order: Int32Array[];
  /** the baseline's classifier input per step, as the product sees it (bf16-rounded for bf16 weights) */
  private readonly base: Float64Array<ArrayBufferLike>[];
  private readonly baseNorm: Float64Array;
  private readonly gamma: number;
  private readonly dim: number;
  private readonly vocab: number;
  private readonly one = new Float32Array(1);
  private readonly ym: Float64Array<ArrayBufferLike>;

  constructor(
    private readonly backend: Backend,
    private readonly head: Matrix,
    /** the baseline's classifier inputs, [steps × dim] */
    baseInput: Float32Array,
    /** the baseline's logits from them, [steps × vocab] */
    private readonly baseLogits: Float32Array,
    steps: number,
    private readonly guard: number,
  ) {
    const dim = (this.dim = head.cols);
    const vocab = (this.vocab = head.rows);
    this.wNorm = new Float64Array(vocab);
    let wMax = 0;
    for (let j = 0; j < vocab; j++) {
      let s = 0;
      for (let i = 0; i < dim; i++) {
        const w = elementValue(head, j * dim + i);
        s += w * w;
      }
      this.wNorm[j] = Math.sqrt(s) * (1 + 1e-12);
      wMax = Math.max(wMax, this.wNorm[j]);
    }
    this.wNormMax = wMax;
    // Any summation order of n float32 products: |error| ≤ γ_n Σ|w_i y_i| ≤ γ_n ‖w‖‖y‖, γ_n ≈ n·2⁻²⁴; doubled.
    this.gamma = (2 * (dim + 2)) / 2 ** 24;
    this.order = [];
    this.base = [];
    this.baseNorm = new Float64Array(steps);
    for (let s = 0; s < steps; s++) {
      const z = baseLogits.subarray(s * vocab, (s + 1) * vocab);
      this.order.push(Int32Array.from({ length: vocab }, (_, j) => j).sort((a, b) => z[b] - z[a] || a - b));
      const y = this.asMultiplied(baseInput, s * dim);
      this.base.push(y);
      this.baseNorm[s] = norm(y);
    }
    this.ym = new Float64Array(dim);
  }

  /** The vector the product multiplies: bf16 weights multiply bf16-rounded activations, fp32 and f16 the activations. */
  private asMultiplied(y: Float32Array, at: number, out: Float64Array<ArrayBufferLike> = new Float64Array(this.dim)): Float64Array<ArrayBufferLike> {
    for (let i = 0; i < this.dim; i++) out[i] = this.head.dtype !== 'bf16' ? y[at + i] : BF16_TO_F32[f32ToBf16(y[at + i])];
    return out;
  }

  /**
   * Token j's logit for the classifier input at y[at…], by the backend's product on that one weight row (for
   * fp32 the twin's order, as its patch rows are; for bf16 the row-exact kernel).
   */
  private logit(y: Float32Array, at: number, j: number): number {
    const { dim, head: h } = this;
    // fp32 rows are summed in index order by both backends' matmulInto: the twin's dot product here, without a
    // call into the backend per token (a step can need a dozen of them)
    if (h.dtype === 'f32') return dotF32(h.data, j * dim, y, at, dim);
    this.backend.matmulInto(this.one, 1, y.subarray(at, at + dim), 1, { name: h.name, rows: 1, cols: dim, dtype: h.dtype, data: h.data.subarray(j * dim, (j + 1) * dim) });
    return this.one[0];
  }

  /**
   * Step `s` with classifier input y[at…]: the argmax and a lower bound of its margin when the baseline token
   * `token` still wins; null when it does not, or cannot be told cheaply (the caller computes the whole row).
   */
  check(y: Float32Array, at: number, s: number, token: number): GreedyStep | null {
    const yb = this.base[s];
    // bf16 weights multiply the bf16-rounded input; fp32 weights the input itself
    const ym = this.head.dtype !== 'bf16' ? undefined : this.asMultiplied(y, at, this.ym);
    let d2 = 0;
    let n2 = 0;
    for (let i = 0; i < this.dim; i++) {
      const v = ym ? ym[i] : y[at + i];
      const d = v - yb[i];
      d2 += d * d;
      n2 += v * v;
    }
    const reach = Math.sqrt(d2) * (1 + 1e-12) + this.gamma * Math.max(this.baseNorm[s], Math.sqrt(n2));
    const z = this.baseLogits;
    const zo = s * this.vocab;
    // First without a single dot product: the baseline token's logit is at least z − ‖w‖·reach, and when no other
    // token's bound comes within the guard of that, the step is decided.
    const low = z[zo + token] - this.wNorm[token] * reach;
    const cheap = this.scan(s, token, reach, low - this.guard, undefined);
    if (typeof cheap === 'number') return { token, margin: low - cheap };
    const own = this.logit(y, at, token);
    const second = this.scan(s, token, reach, own - this.guard, { y, at, own });
    return typeof second === 'number' ? { token, margin: own - second } : null;
  }

  /**
   * The tokens other than `token`, in the baseline's order, against `floor`: the largest of their bounds (and,
   * with `exact`, of the logits computed for those whose bound reaches the floor). Without `exact`, undefined as
   * soon as one bound reaches the floor; with it, null when a token beats `exact.own` or too many need computing.
   */
  private scan(s: number, token: number, reach: number, floor: number, exact: { y: Float32Array; at: number; own: number } | undefined): number | null | undefined {
    const z = this.baseLogits;
    const zo = s * this.vocab;
    const order = this.order[s];
    const limit = Math.ceil(this.vocab * MAX_VISITED);
    const far = this.wNormMax * reach;
    let second = -Infinity;
    for (let k = 0; k < this.vocab; k++) {
      const j = order[k];
      const zj = z[zo + j];
      // Every token from here on has z ≤ zj: none can come within the guard.
      if (zj + far < floor) return Math.max(second, zj + far);
      if (j === token) continue;
      const bound = zj + this.wNorm[j] * reach;
      if (bound < floor) {
        second = Math.max(second, bound);
        continue;
      }
      if (!exact) return undefined;
      if (k >= limit) return null;
      const lj = this.logit(exact.y, exact.at, j);
      // argmax keeps the first of equal values
      if (lj > exact.own || (lj === exact.own && j < token)) return null;
      second = Math.max(second, lj);
    }
    return second;
  }
}

function norm(v: Float64Array<ArrayBufferLike>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}
