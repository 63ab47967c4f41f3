/**
 * The plain path: one full evaluation of every assay per mutant (mutate in place, run, restore). It is the
 * definition every faster path must equal.
 */
import { runPass, type GenerateRun, type Outcome } from '../assays/assay.js';
import type { GenerateAssay } from '../assays/generate.js';
import type { Assay } from '../assays/prepare.js';
import type { Transformer } from '../model/forward.js';
import { precisionOf, tieEpsilon, type Precision } from '../model/ties.js';
import { mutate, restore, type MatrixStats } from './mutate.js';
import type { Mutant } from './plan.js';

export interface Evaluator {
  /** Outcomes per mutant (in order), per assay (in order). Weights are back to their original bits afterwards. */
  evaluate(mutants: Mutant[]): Outcome[][];
  /** how many decisions fell within the tie epsilon and were re-checked on the plain path */
  readonly rechecks: number;
}

export class PlainEvaluator implements Evaluator {
  readonly rechecks = 0;
  private readonly precision: Precision;
  constructor(
    readonly tf: Transformer,
    readonly assays: Assay[],
    readonly stats: (m: Mutant) => MatrixStats,
  ) {
    this.precision = precisionOf(tf.weights);
  }

  /** Runs `fn` with the mutant's weights in place, and puts them back bit for bit whatever happens. */
  private withMutation<T>(m: Mutant, fn: () => T): T {
    const saved = m.target && m.unit && m.kind ? mutate(m.target.weights, m.unit, m.kind, this.stats(m)) : undefined;
    try {
      return fn();
    } finally {
      if (saved) restore(saved);
    }
  }

  private run(a: Assay, tie: boolean): Outcome {
    if (a.type === 'generate') return a.classify(a.run(this.tf), tie);
    const s = runPass(this.tf, a);
    return s.outcome(tie || s.margin() < tieEpsilon(this.precision, a.sampled));
  }

  /** One mutant, all assays, on the plain path. */
  one(m: Mutant, tie = false): Outcome[] {
    return this.withMutation(m, () => this.assays.map((a) => this.run(a, tie)));
  }

  /**
   * Several mutants applied together (a multi-mutant), all assays, on the plain path; max and min are each
   * unmutated matrix's, as for a single.
   */
  together(ms: Mutant[]): Outcome[] {
    const stats = ms.map((m) => this.stats(m));
    const saved: ReturnType<typeof mutate>[] = [];
    try {
      ms.forEach((m, i) => {
        if (m.target && m.unit && m.kind) saved.push(mutate(m.target.weights, m.unit, m.kind, stats[i]));
      });
      return this.assays.map((a) => this.run(a, false));
    } finally {
      for (const s of saved.reverse()) restore(s);
    }
  }

  /** One mutant, one assay, on the plain path. */
  oneAssay(m: Mutant, a: Assay, tie = false): Outcome {
    return this.withMutation(m, () => this.run(a, tie));
  }

  /** The raw plain-path generation of one mutant on one assay, with each step's decision margin. */
  trace(m: Mutant, a: GenerateAssay): GenerateRun {
    return this.withMutation(m, () => a.run(this.tf));
  }

  evaluate(mutants: Mutant[]): Outcome[][] {
    return mutants.map((m) => this.one(m));
  }
}
