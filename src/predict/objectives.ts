/**
 * What a first-order prediction watches: each decision's margin as a function of the logits it reads, and its
 * gradient there — a generate assay's steps, a choice assay's answers (the same rules on the answer's logits,
 * `letters` scoring comparing the four letters only).
 *
 * - Greedy step: the chosen token's logit minus the best other's (the runner-up of the baseline). Below 0, the
 *   step picks another token.
 * - Sampled step (run.c's rule, sampler.ts): the coin's distance to the nearer edge of the chosen token's
 *   interval of cumulative probability (with the coin scaled by the kept mass under top-p / top-k). Below 0,
 *   the coin falls in another token's interval. Under top-p / top-k the sorted order and the kept set are
 *   decisions too, as the sampler counts them: the chosen token's probability against its neighbours' (a swap
 *   moves its interval), the kept mass against top-p; the margin is the smallest of these and its gradient that
 *   term's (the first-order view: within a term, a small change moves the edges, not the order).
 *
 * Margins here are computed in float64 from the recorded logits; they are the same decisions sampler.ts makes
 * up to float32 rounding, which a prediction does not need.
 */
import type { Objective } from '../model/backward.js';
import type { Sampling } from '../model/sampler.js';

export interface StepObjective extends Objective {
  /** the margin at the unmutated weights */
  margin: number;
}

/**
 * A choice assay's `letters` decision: the chosen letter's logit minus the best other candidate's (candidates:
 * the letters' distinct first tokens). Below 0, the question gets another answer.
 */
export function letterObjective(logits: Float32Array, at: number, vocab: number, token: number, candidates: readonly number[], position: number): StepObjective {
  const dlogits = new Float32Array(vocab);
  let other = -1;
  for (const v of candidates) if (v !== token && (other < 0 || logits[at + v] > logits[at + other])) other = v;
  dlogits[token] = 1;
  if (other >= 0) dlogits[other] = -1;
  return { position, dlogits, margin: other >= 0 ? logits[at + token] - logits[at + other] : Infinity };
}

/** The margin of choosing `token` from the logits at `at`, with its gradient. */
export function stepObjective(logits: Float32Array, at: number, vocab: number, token: number, s: Sampling, coin: number, position: number): StepObjective {
  const dlogits = new Float32Array(vocab);
  if (s.temperature === 0) {
    let other = -1;
    for (let v = 0; v < vocab; v++) if (v !== token && (other < 0 || logits[at + v] > logits[at + other])) other = v;
    dlogits[token] = 1;
    if (other >= 0) dlogits[other] = -1;
    return { position, dlogits, margin: other >= 0 ? logits[at + token] - logits[at + other] : Infinity };
  }
  const T = s.temperature;
  const p = new Float64Array(vocab);
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v] / T);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += p[v] = Math.exp(logits[at + v] / T - max);
  for (let v = 0; v < vocab; v++) p[v] /= sum;

  // The tokens in run.c's order and the ones kept (sampler.ts: sampleMult, or sampleSorted's cutoff and sort).
  const nucleus = s.topP > 0 && s.topP < 1;
  const topK = s.topK > 0 && s.topK < vocab ? s.topK : 0;
  let order: number[];
  let kept: number;
  let scaled: boolean;
  if (!nucleus && !topK) {
    order = Array.from({ length: vocab }, (_, v) => v);
    kept = vocab;
    scaled = false;
  } else {
    const cutoff = nucleus ? (1 - s.topP) / (vocab - 1) : 0;
    order = [];
    for (let v = 0; v < vocab; v++) if (p[v] >= cutoff) order.push(v);
    order.sort((a, b) => p[b] - p[a] || a - b);
    kept = topK ? Math.min(topK, order.length) : order.length;
    if (nucleus) {
      let cum = 0;
      for (let i = 0; i < kept; i++) {
        cum += p[order[i]];
        if (cum > s.topP) {
          kept = i + 1;
          break;
        }
      }
    }
    scaled = true;
  }
  let k = order.indexOf(token);
  if (k < 0 || k >= kept) k = kept - 1; // the baseline's token fell outside the kept set here (float rounding): its nearest kept place
  let mass = 0;
  for (let i = 0; i < kept; i++) mass += p[order[i]];
  let before = 0;
  for (let i = 0; i < k; i++) before += p[order[i]];
  const after = before + p[order[k]];
  const r = scaled ? coin * mass : coin;
  const lower = r - before <= after - r;

  // The margin is the smallest of the sampler's terms (sampler.ts: the coin's edges, then sortedMargin's order,
  // nucleus and cutoff terms); its gradient is the smallest term's. `a` holds ∂term/∂p for each token.
  const a = new Float64Array(vocab);
  let margin = lower ? r - before : after - r;
  let term: () => void = () => {
    for (let i = 0; i < kept; i++) {
      const inR = scaled ? coin : 0;
      a[order[i]] = lower ? inR - (i < k ? 1 : 0) : (i <= k ? 1 : 0) - inR;
    }
  };
  const consider = (value: number, grad: () => void): void => {
    if (value < margin) {
      margin = value;
      term = grad;
    }
  };
  if (scaled) {
    const pk = order[k];
    const diff = (hi: number, lo: number) => () => {
      a[hi] += 1;
      a[lo] -= 1;
    };
    if (k > 0) consider(p[order[k - 1]] - p[pk], diff(order[k - 1], pk));
    if (k < kept - 1) consider(p[pk] - p[order[k + 1]], diff(pk, order[k + 1]));
    const next = kept < order.length ? order[kept] : -1;
    if (k === kept - 1 && next >= 0) consider(p[pk] - p[next], diff(pk, next));
    const cut = nucleus && mass > s.topP;
    const massOf = (upTo: number, sign: number) => () => {
      for (let i = 0; i < upTo; i++) a[order[i]] += sign;
    };
    if (cut) {
      consider(mass - s.topP, massOf(kept, 1));
      consider(s.topP - (mass - p[order[kept - 1]]), massOf(kept - 1, -1));
    } else if (nucleus && next < 0) {
      const cutoff = (1 - s.topP) / (vocab - 1);
      for (let v = 0; v < vocab; v++) {
        const sign = p[v] >= cutoff ? 1 : -1;
        consider(sign * (p[v] - cutoff), () => {
          a[v] = sign;
        });
      }
    }
  }
  term();
  // through the softmax: ∂/∂z_v = p_v (a_v − Σ a·p) / T
  let ap = 0;
  for (let v = 0; v < vocab; v++) ap += a[v] * p[v];
  for (let v = 0; v < vocab; v++) dlogits[v] = (p[v] * (a[v] - ap)) / T;
  return { position, dlogits, margin };
}
