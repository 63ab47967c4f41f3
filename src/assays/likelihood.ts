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

/** Natural-log softmax of one row, in float64. */
function logSoftmax(logits: Float32Array, at: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[at + i] > max) max = logits[at + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[at + i] - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = logits[at + i] - logZ;
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
  /** per probe, the unmutated model's log-probabilities, [positions × vocab] */
  private baseLogProbs: Float64Array[] = [];
  private baseLoglik = 0;

  constructor(
    readonly spec: LikelihoodAssaySpec,
    private readonly model: Model,
    readonly texts: LikelihoodText[],
    tf: Transformer,
  ) {
    this.name = spec.name;
    this.probes = texts.map((t) => ({ ids: t.ids, from: t.from ?? 0 }));
    const s = this.begin(true);
    this.probes.forEach((p, i) => s.accept(i, tf.forward([{ cache: tf.newCache(p.ids.length), tokens: p.ids }], { from: p.from }), 0));
    this.baselineIds = s.argmax;
    this.baselineText = this.idsText(s.argmax);
    this.baseLoglik = s.loglik();
    this.baseLogProbs = s.logProbs;
  }

  get settingsJson(): string {
    return JSON.stringify({ texts: this.texts.map((t) => t.label), kl_threshold: this.spec.klThreshold, kl_stat: this.spec.klStat });
  }

  private idsText(ids: number[]): string {
    return ids.map((t) => this.model.tokenizer.tokenText(t)).join('|');
  }

  begin(): PassState;
  begin(keep: true): PassState & { argmax: number[]; logProbs: Float64Array[]; loglik(): number };
  begin(keep = false): PassState & { argmax: number[]; logProbs: Float64Array[]; loglik(): number } {
    const vocab = this.model.config.vocabSize;
    const offsets: number[] = [];
    let total = 0;
    for (const p of this.probes) {
      offsets.push(total);
      total += p.ids.length - p.from;
    }
    const argmax = new Array<number>(total).fill(-1);
    const kl = new Float64Array(total);
    const logProbs: Float64Array[] = [];
    let gap = Infinity;
    let loglik = 0;
    const row = new Float64Array(vocab);
    return {
      argmax,
      logProbs,
      loglik: () => loglik,
      accept: (p: number, logits: Float32Array, at: number) => {
        const { ids, from } = this.probes[p];
        const rows = ids.length - from;
        const lp = keep ? new Float64Array(rows * vocab) : undefined;
        // row t holds the distribution after position from + t
        for (let t = 0; t < rows; t++) {
          const o = at + t * vocab;
          const m = top2(logits, o, vocab);
          argmax[offsets[p] + t] = m.arg;
          gap = Math.min(gap, m.gap);
          logSoftmax(logits, o, vocab, row);
          if (from + t + 1 < ids.length) loglik += row[ids[from + t + 1]];
          if (lp) lp.set(row, t * vocab);
          else {
            const base = this.baseLogProbs[p];
            let d = 0;
            for (let i = 0; i < vocab; i++) {
              const b = base[t * vocab + i];
              d += Math.exp(b) * (b - row[i]);
            }
            kl[offsets[p] + t] = d;
          }
        }
        if (lp) logProbs[p] = lp;
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
