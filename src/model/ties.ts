/**
 * Float32 near-ties. Two correct implementations that sum in different orders (a BLAS kernel and the
 * sequential twin, a batched and an unbatched pass) can disagree on a decision whose margin is tiny.
 * Such decisions are ties: they are detected, counted and re-checked, never silently accepted.
 * A screen needs them only where its backend is not row-exact (Backend.rowExact): the TypeScript twin is, and so
 * is the native backend for bf16 matrices on CPUs with AVX-512 (native/src/bf16exact.cc); its fp32 products (BLAS) are not.
 *
 * The margin is the sampler's (sampler.ts): the top-2 logit gap for argmax, in logit units, or the coin's
 * distance to the nearest cumulative-probability boundary when sampling, in probability units.
 *
 * The epsilon depends on the model's precision, and sits above the largest differences between the native and
 * TypeScript backends that test/native-backend.test.ts measures and prints:
 * - fp32 matrices: logits differ by up to 4.0e-5 (stories260K's MMLU prompt), cumulative probabilities by up to
 *   4.0e-6 (a random fp32 model over 96 positions);
 * - bf16 matrices: each product rounds its input to bf16, and a last-bit difference upstream can move an
 *   activation across a bf16 rounding boundary, so logits differ by up to 0.13 and cumulative probabilities by
 *   up to 5.6e-3 (random bf16 models over 96 positions, the native AMX kernel against the twin; the AVX-512 BF16
 *   kernel had shown 4.4e-4, and one sampled decision 72 steps long differed with both margins at 5.1e-3).
 *   Long generations of flat random models make most decisions near-ties at this epsilon — the reason bf16
 *   screens want a row-exact kernel.
 */
import type { ModelWeights } from './weights.js';

export type Precision = 'f32' | 'bf16';

export interface TieEpsilon {
  /** for argmax decisions (top-2 logit gap) */
  logit: number;
  /** for sampled decisions (coin to boundary) */
  probability: number;
}

export const TIE_EPSILON: Record<Precision, TieEpsilon> = {
  f32: { logit: 1e-4, probability: 1e-5 },
  bf16: { logit: 0.25, probability: 1e-2 },
};

/** bf16 when any matrix multiplies in bf16. */
export function precisionOf(w: ModelWeights): Precision {
  const mats = [w.embed, w.lmHead, ...w.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])];
  return mats.some((m) => m.dtype === 'bf16') ? 'bf16' : 'f32';
}

export function tieEpsilon(precision: Precision, sampled: boolean): number {
  return sampled ? TIE_EPSILON[precision].probability : TIE_EPSILON[precision].logit;
}

export interface StepTrace {
  ids: readonly number[];
  margins: readonly number[];
}

export type Agreement =
  | { kind: 'same' }
  | { kind: 'tie'; step: number; margin: number }
  | { kind: 'different'; step: number; margin: number };

/** Compares two generations of the same prompt: same ids, a tie at the first difference, or a real difference. */
export function compareTraces(a: StepTrace, b: StepTrace, epsilon: number): Agreement {
  const n = Math.max(a.ids.length, b.ids.length);
  for (let i = 0; i < n; i++) {
    if (a.ids[i] === b.ids[i]) continue;
    const margin = Math.min(a.margins[i] ?? Infinity, b.margins[i] ?? Infinity);
    return margin < epsilon ? { kind: 'tie', step: i, margin } : { kind: 'different', step: i, margin };
  }
  return { kind: 'same' };
}
