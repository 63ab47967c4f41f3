import type { Transformer } from '../model/forward.js';

/**
 * Numbers an assay measures beside its silent/NSM call, stored raw in the results table (NULL where an assay
 * does not measure them): accuracy for choice assays, divergences for likelihood assays.
 */
export interface Metrics {
  accuracy?: number;
  accuracyChange?: number;
  klMean?: number;
  klMax?: number;
  loglikChange?: number;
  argmaxChanges?: number;
}

/** What a mutant's assay result is turned into for the store. */
export interface Outcome {
  silent: boolean;
  /** the output itself, stored once per distinct output (NSMs only) */
  phenotype?: Phenotype;
  firstDivergence: number | null;
  similarity: number | null;
  destructive: boolean;
  nTokens: number;
  /**
   * some decision had a margin below the tie epsilon (ties.ts): the output is float-fragile. On backends that are
   * not row-exact the fast path re-checks such a mutant on the plain path, whose result is the one stored.
   */
  tie: boolean;
  metrics?: Metrics;
}

/** A distinct output of an assay, and where it parts from the baseline's (see the store's phenotypes table). */
export interface Phenotype {
  key: string;
  ids: number[];
  text: string;
  divergeAt: number;
  divergeEnd: number;
  baselineEnd: number;
}

/** The raw result of running a generate assay once. */
export interface GenerateRun {
  ids: number[];
  margins: number[];
}

/** A fixed test of the model, prepared for one model: prompt encoded, baseline known. */
export interface PreparedAssay {
  readonly name: string;
  readonly type: 'generate';
  readonly settingsJson: string;
  readonly promptIds: number[];
  readonly baseline: GenerateRun;
  readonly baselineText: string;
  /** The plain path: one full evaluation of the (possibly mutated) model. */
  run(tf: Transformer): GenerateRun;
  classify(r: GenerateRun, recheck?: boolean): Outcome;
}

/** One sequence a pass assay runs, and the first position whose next-token logits it reads. */
export interface Probe {
  ids: number[];
  from: number;
}

/** A mutant's evaluation of a pass assay in progress: fed each probe's logits once, in any order. */
export interface PassState {
  /** `logits` holds rows for positions probe.from … end of probe `p`, starting at offset `at` */
  accept(p: number, logits: Float32Array, at: number): void;
  /** the smallest distance of any decision from flipping (compared with the tie epsilon) */
  margin(): number;
  outcome(tie: boolean): Outcome;
}

/**
 * An assay answered by one forward pass per probe, with no decoding: multiple-choice questions, likelihoods of
 * texts. The fast path runs its probes from the mutated layer on, batched over mutants.
 */
export interface PassAssay {
  readonly name: string;
  readonly type: 'choice' | 'likelihood';
  readonly settingsJson: string;
  readonly probes: Probe[];
  /** the unmutated model's answer, as ids and as text (stored as the baseline) */
  readonly baselineIds: number[];
  readonly baselineText: string;
  /** whether its decisions are sampled (margins are then distances in cumulative probability, not logits) */
  readonly sampled: boolean;
  /** notes for the person running the screen (dropped shots, short subjects) */
  readonly notes: string[];
  /** a fresh evaluation for one mutant */
  begin(): PassState;
}

/** The plain path of a pass assay: every probe from scratch on the model as it is now. */
export function runPass(tf: Transformer, a: PassAssay): PassState {
  const s = a.begin();
  a.probes.forEach((p, i) => {
    const cache = tf.newCache(p.ids.length);
    s.accept(i, tf.forward([{ cache, tokens: p.ids }], { from: p.from }), 0);
  });
  return s;
}
