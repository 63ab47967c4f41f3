/**
 * `mutascan predict`: plans the screen (a new store) or opens its store, predicts every mutant of every generate
 * assay (predict.ts), stores the predictions, and, where mutants are already screened, measures how well the
 * predictions rank them (rank.ts).
 */
import { checkBaselines, openScreenStore, prepareScreen } from '../screen/runner.js';
import { savePredictions, screenedOutcomes } from '../store/predictions.js';
import { predictScreen, type Decisions } from './predict.js';
import { rankQuality, type RankQuality } from './rank.js';

export interface AssayPredictionSummary {
  assay: string;
  /** why it has no predictions (a likelihood assay) */
  skipped?: string;
  /** how many decisions were predicted, and what they are */
  steps?: number;
  decisions?: Decisions;
  mutants?: number;
  predictedNsms?: number;
  seconds?: number;
  /** against the mutants already screened */
  quality?: RankQuality;
}

export interface PredictSummary {
  created: boolean;
  total: number;
  assays: AssayPredictionSummary[];
  seconds: number;
}

export async function predictToStore(o: { specFile: string; storePath: string; backend?: string; threads?: number; onNote?(line: string): void }): Promise<PredictSummary> {
  const t0 = performance.now();
  const p = await prepareScreen(o.specFile, o.backend, o.threads);
  const { store, resumed } = openScreenStore(p, o.storePath);
  try {
    if (resumed) checkBaselines(p, store);
    const ids = store.assays().map((a) => a.id);
    const predictions = predictScreen(p.tf, p.plan, p.assays, {
      onAssay: (name, n, of) =>
        o.onNote?.(
          of === 'steps'
            ? `assay "${name}": ${n} steps, the gradients of their margins in batched backward passes`
            : `assay "${name}": ${n} questions, the gradient of each answer's margin in a backward pass of its own`,
        ),
    });
    const assays = p.assays.map((a, i): AssayPredictionSummary => {
      const pr = predictions[i];
      if (!pr) return { assay: a.name, skipped: `a ${a.type} assay (first-order predictions cover generate and choice assays)` };
      const mutants = savePredictions(store, ids[i], pr.margin, pr.step);
      let predictedNsms = 0;
      for (let k = 1; k < pr.margin.length; k++) if (pr.margin[k] < 0) predictedNsms++;
      const screened = screenedOutcomes(store, ids[i]);
      let quality: RankQuality | undefined;
      // the predictions just stored, from memory (a mutant no gradient reached has none: Infinity, ranked last)
      if (screened.ordinal.length) quality = rankQuality(Array.from(screened.ordinal, (k) => pr.margin[k]), Array.from(screened.nsm, Boolean));
      return { assay: a.name, steps: pr.baselineMargins.length, decisions: pr.decisions, mutants, predictedNsms, seconds: pr.seconds, quality };
    });
    return { created: !resumed, total: p.plan.total, assays, seconds: (performance.now() - t0) / 1000 };
  } finally {
    store.close();
  }
}
