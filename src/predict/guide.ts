/**
 * What a guided run (`run --order predicted`, `--budget N`) asks of the predictions: made and stored if the
 * store has none yet, turned into the run's selection (order.ts), and after a budgeted run, its estimate of the
 * NSMs missed (estimate.ts), stored.
 */
import type { Assay } from '../assays/prepare.js';
import { fail } from '../errors.js';
import type { Transformer } from '../model/forward.js';
import type { Plan } from '../screen/plan.js';
import { hasPredictions, predictionArray, saveEstimates, savePredictions, screenedOutcomes, type MissedEstimate } from '../store/predictions.js';
import type { Store } from '../store/store.js';
import { estimateMissed } from './estimate.js';
import { predictedRanks, selectMutants } from './order.js';
import type { RunGuide, RunSelection } from '../screen/runner.js';
import { predictable, predictScreen } from './predict.js';

export interface Guidance {
  /** default: the screen file's `order` */
  order?: 'plan' | 'predicted';
  /** screen only this many (the most likely NSMs), plus a sample of the rest; default: the file's select.top */
  budget?: number;
  /** default: select.sample, else a tenth of the budget, at least 200 */
  sample?: number;
}

/** The guide `mutascan run` hands the runner: the command's options, else the screen file's `order` and `select`. */
export function runGuide(g: Guidance): RunGuide {
  return {
    select(p, store, note) {
      const budget = g.budget ?? p.spec.select?.top;
      if ((g.order ?? p.spec.order) !== 'predicted' && budget === undefined) return undefined;
      const s = guidedSelection(p.tf, p.plan, p.assays, store, budget, g.sample ?? p.spec.select?.sample, note);
      note(
        s.budget
          ? `budget: the ${s.budget.top.length.toLocaleString('en-US')} mutants most likely to be NSMs by their predicted margins, then a random sample of ${s.budget.sample.length.toLocaleString('en-US')} of the other ${s.budget.rest.toLocaleString('en-US')} to estimate the NSMs the budget misses`
          : 'order: most likely NSMs first, by predicted margin',
      );
      return s;
    },
    finish: (store, s) => recordEstimates(store, s.budget!),
  };
}

/** The run's selection; predicts first (and says so) when the store holds no predictions. */
export function guidedSelection(tf: Transformer, plan: Plan, assays: readonly Assay[], store: Store, budget: number | undefined, sample: number | undefined, note: (line: string) => void): RunSelection {
  const ids = store.assays().map((a) => a.id);
  const predicted = assays.map((a, i) => [a, i] as const).filter(([a]) => predictable(a));
  if (!predicted.length)
    fail(`${budget !== undefined ? 'a budget' : 'the predicted order'} needs predictions, and they cover generate and choice assays only; this screen has neither`, store.path, 'screen it in plan order (drop --budget / --order predicted, or order/select from the file), or add a generate or choice assay');
  if (!hasPredictions(store)) {
    const t0 = performance.now();
    const pr = predictScreen(tf, plan, assays);
    pr.forEach((x, i) => x && savePredictions(store, ids[i], x.margin, x.step));
    note(`predicted every mutant first (mutascan predict; ${((performance.now() - t0) / 1000).toFixed(1)} s): the run follows the predictions`);
  }
  const ranks = predictedRanks(plan.total, predicted.map(([, i]) => predictionArray(store, ids[i], plan.total)));
  return selectMutants(plan.total, ranks, (o) => plan.targetIndexOf(o), budget, sample);
}

/** After a budgeted run: per assay, the NSMs found in its top and sample, and the estimate of those it missed. */
export function recordEstimates(store: Store, budget: NonNullable<RunSelection['budget']>): MissedEstimate[] {
  const out: (MissedEstimate & { assayId: number; budget: number })[] = [];
  const top = new Set(budget.top);
  const sample = new Set(budget.sample);
  for (const a of store.assays()) {
    const { ordinal, nsm } = screenedOutcomes(store, a.id);
    let foundTop = 0;
    let sampleNsms = 0;
    let sampled = 0;
    ordinal.forEach((o, i) => {
      if (top.has(o)) foundTop += nsm[i];
      else if (sample.has(o)) {
        sampled++;
        sampleNsms += nsm[i];
      }
    });
    out.push({ ...estimateMissed(a.name, foundTop, sampled, sampleNsms, budget.rest - budget.sample.length), assayId: a.id, budget: budget.top.length });
  }
  saveEstimates(store, out);
  return out;
}
