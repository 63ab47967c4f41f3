/**
 * The likelihood assay: the mutant's next-token distributions over fixed texts against the unmutated model's.
 * It sees changes a sampled output can hide. Per mutant it stores the mean and max KL(baseline ‖ mutant) over
 * every position, the change in the texts' total log-likelihood, and how many positions' argmax changed. A
 * mutant is silent when no argmax changed and its KL statistic (max by default) is at most the threshold.
 */
import type { Transformer } from '../model/forward.js';
import type { Model } from '../model/model.js';
import { idsHash } from './classify.js';
import type { LikelihoodAssaySpec } from '../spec/spec.js';
import type { Outcome, PassAssay, PassState, Probe } from './assay.js';

/** log Σ exp(logits) of one row, from its largest entry (at `arg`), in float64. */
function logSumExp(logits: Float32Array, at: number, n: number, arg: number): number {
  const max = logits[at + arg];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[at + i] - max);
  return max + Math.log(sum);
}

/** Index of the largest logit and its gap to the second. */
function top2(logits: Float32Array, at: number, n: number): { arg: number; gap: number } {
  let a = 0;
  let b = -Infinity;
  for (let i = 1; i < n; i++) {
    const v = logits[at + i];
    if (v > logits[at + a]) {
      b = logits[at + a];
      a = i;
    } else if (v > b) b = v;
  }
  return { arg: a, gap: logits[at + a] - b };
}

export interface LikelihoodText {
  label: string;
  ids: number[];
  /**
   * the first position whose next-token distribution is scored (0: the whole text); a generate assay's baseline
   * is scored from the prompt's last position on, so that its scores measure the continuation only
   */
  from?: number;
}

export class LikelihoodAssay implements PassAssay {
  readonly type = 'likelihood' as const;
  readonly name: string;
  readonly notes: string[] = [];
  readonly sampled = false;
  readonly probes: Probe[];
  baselineIds: number[] = [];
  baselineText = '';
  /**
   * per probe, the unmutated model's logits and probabilities p [positions × vocab], and per position log Z and
   * Σ p: KL(p ‖ q) = Σ p·(baseline logit − mutant logit) + (log Z_mutant − log Z_baseline)·Σ p, one exponential
   * per entry of the mutant's logits, and exactly 0 where they equal the baseline's
   */
  private baseLogits: Float32Array[] = [];
  private baseProbs: Float64Array[] = [];
  private baseLogZ: Float64Array[] = [];
  private baseMass: Float64Array[] = [];
  private baseLoglik = 0;

  constructor(
    readonly spec: LikelihoodAssaySpec,
    private readonly model: Model,
    readonly texts: LikelihoodText[],
    tf: Transformer,
  ) {
    this.name = spec.name;
    this.probes = texts.map((t) => ({ ids: t.ids, from: t.from ?? 0 }));
    const vocab = model.config.vocabSize;
    this.probes.forEach((p) => {
      const logits = tf.forward([{ cache: tf.newCache(p.ids.length), tokens: p.ids }], { from: p.from }).slice();
      const rows = p.ids.length - p.from;
      const probs = new Float64Array(logits.length);
      const logZ = new Float64Array(rows);
      const mass = new Float64Array(rows);
      for (let t = 0; t < rows; t++) {
        logZ[t] = logSumExp(logits, t * vocab, vocab, top2(logits, t * vocab, vocab).arg);
        for (let j = t * vocab; j < (t + 1) * vocab; j++) {
          probs[j] = Math.exp(logits[j] - logZ[t]);
          mass[t] += probs[j];
        }
      }
      this.baseLogits.push(logits);
      this.baseProbs.push(probs);
      this.baseLogZ.push(logZ);
      this.baseMass.push(mass);
    });
    // the baseline's own evaluation: its argmax and log-likelihood (its KL is exactly 0)
    const s = this.begin();
    this.probes.forEach((_, i) => s.accept(i, this.baseLogits[i], 0));
    this.baselineIds = s.argmax;
    this.baselineText = this.idsText(s.argmax);
    this.baseLoglik = s.loglik();
  }

  get settingsJson(): string {
    return JSON.stringify({ texts: this.texts.map((t) => t.label), kl_threshold: this.spec.klThreshold, kl_stat: this.spec.klStat });
  }

  private idsText(ids: number[]): string {
    return ids.map((t) => this.model.tokenizer.tokenText(t)).join('|');
  }

  begin(): PassState & { argmax: number[]; loglik(): number } {
    const vocab = this.model.config.vocabSize;
    const offsets: number[] = [];
    let total = 0;
    for (const p of this.probes) {
      offsets.push(total);
      total += p.ids.length - p.from;
    }
    const argmax = new Array<number>(total).fill(-1);
    const kl = new Float64Array(total);
    let gap = Infinity;
    let loglik = 0;
    return {
      argmax,
      loglik: () => loglik,
      accept: (p: number, logits: Float32Array, at: number) => {
        const { ids, from } = this.probes[p];
        const rows = ids.length - from;
        // row t holds the distribution after position from + t
        for (let t = 0; t < rows; t++) {
          const o = at + t * vocab;
          const m = top2(logits, o, vocab);
          argmax[offsets[p] + t] = m.arg;
          gap = Math.min(gap, m.gap);
          const logZ = logSumExp(logits, o, vocab, m.arg);
          const probs = this.baseProbs[p];
          const baseLogits = this.baseLogits[p];
          let d = 0;
          for (let i = 0, j = t * vocab; i < vocab; i++, j++) d += probs[j] * (baseLogits[j] - logits[o + i]);
          if (from + t + 1 < ids.length) loglik += logits[o + ids[from + t + 1]] - logZ;
          // rounding may leave a KL of identical distributions a hair below 0
          kl[offsets[p] + t] = Math.max(0, d + (logZ - this.baseLogZ[p][t]) * this.baseMass[p][t]);
        }
      },
      margin: () => {
        const stat = this.stat(kl);
        return Math.min(gap, Math.abs(stat - this.spec.klThreshold));
      },
      outcome: (tie: boolean) => this.classify(argmax, kl, loglik, tie),
    };
  }

  private stat(kl: Float64Array): number {
    if (this.spec.klStat === 'mean') return kl.reduce((s, v) => s + v, 0) / Math.max(1, kl.length);
    return kl.reduce((s, v) => Math.max(s, v), 0);
  }

  classify(argmax: number[], kl: Float64Array, loglik: number, tie: boolean): Outcome {
    const base = this.baselineIds;
    let changes = 0;
    let first = -1;
    for (let i = 0; i < argmax.length; i++)
      if (argmax[i] !== base[i]) {
        changes++;
        if (first < 0) first = i;
      }
    const klMean = kl.reduce((s, v) => s + v, 0) / Math.max(1, kl.length);
    const klMax = kl.reduce((s, v) => Math.max(s, v), 0);
    const metrics = { klMean, klMax, loglikChange: loglik - this.baseLoglik, argmaxChanges: changes };
    const silent = changes === 0 && this.stat(kl) <= this.spec.klThreshold;
    if (silent) return { silent: true, firstDivergence: null, similarity: 1, destructive: false, nTokens: argmax.length, tie, metrics };
    if (first < 0) first = kl.indexOf(klMax);
    const text = this.idsText(argmax);
    const at = this.idsText(argmax.slice(0, first)).length + (first > 0 ? 1 : 0);
    return {
      silent: false,
      phenotype: {
        key: idsHash(argmax),
        ids: [...argmax],
        text,
        divergeAt: at,
        divergeEnd: at + this.model.tokenizer.tokenText(argmax[first]).length,
        baselineEnd: at + this.model.tokenizer.tokenText(base[first]).length,
      },
      firstDivergence: first,
      similarity: 1 - changes / argmax.length,
      destructive: false,
      nTokens: argmax.length,
      tie,
      metrics,
    };
  }
}
