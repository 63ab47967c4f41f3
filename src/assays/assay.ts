import type { Transformer } from '../model/forward.js';

/** What a mutant's assay result is turned into for the store. */
export interface Outcome {
  silent: boolean;
  /** the output itself, stored once per distinct output (NSMs only) */
  phenotype?: { key: string; ids: number[]; text: string };
  firstDivergence: number | null;
  similarity: number | null;
  destructive: boolean;
  nTokens: number;
  /** the decision at the first difference was a float32 near-tie (re-checked on the plain path) */
  tie: boolean;
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
  classify(r: GenerateRun, tie?: boolean): Outcome;
}
