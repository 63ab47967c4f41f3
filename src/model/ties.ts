/**
 * Near-ties. Two correct implementations that order their float operations differently (run.c and mutascan, the
 * TypeScript twin and the native kernels, oneDNN on two CPUs) can disagree on a decision whose margin is tiny.
 * Such decisions are ties: every output with one is flagged (Outcome.tie), and where the backend is not
 * row-exact (Backend.rowExact: MUTASCAN_KERNEL=library) the fast path re-checks it on the plain path. With the
 * default row-exact kernels the fast path gives the plain path's bits and a tie is only a flag: this output
 * could come out otherwise in another implementation.
 *
 * The margin is the sampler's (sampler.ts): the top-2 logit gap for argmax, in logit units; when sampling, in
 * probability units, the coin's distance to the nearest cumulative-probability boundary and, with top-p or top-k,
 * how near the sorted order, the nucleus's cut and the cutoff came to going another way.
 *
 * The epsilon depends on the model's precision and sits above the largest differences measured between
 * implementations (docs/numerics.md, "The tie flag's width"):
 * - fp32 matrices: against run.c, over 1,081 mutants of a sampled block-8 screen of stories260K, teacher-forced
 *   along run.c's own outputs (74,589 positions), logits differ by up to 1.26e-4 (the native kernels; the
 *   twin, 4.9e-5); probabilities by up to 1.1e-5, their cumulative sums by up to 1.9e-5 and the gaps between
 *   neighbours in the sorted order by up to 2.0e-5. The epsilon is about two and a half times these (3e-4,
 *   5e-5). Every mutant of that screen whose output departs from run.c's (5 of 10,800) departs at a decision
 *   within 1.2e-6;
 * - bf16 matrices: each product rounds its input to bf16, and a last-bit difference upstream can move an
 *   activation across a bf16 rounding boundary, so logits differ by up to 0.13 and cumulative probabilities by
 *   up to 5.6e-3 (random bf16 models over 96 positions, AMX against the twin). Long generations of flat random
 *   models make most decisions near-ties at this epsilon.
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
  f32: { logit: 3e-4, probability: 5e-5 },
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
