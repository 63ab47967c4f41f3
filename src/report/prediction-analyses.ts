/**
 * Predicted against observed (a store with `mutascan predict`'s predictions and screened outcomes): per assay and
 * matrix, how well the predicted margins rank the NSMs (AUROC, recall of the top 1 % and 10 %), the gain curve
 * (NSMs found against mutants screened in predicted order) and the distributions of the predicted margins of NSMs
 * and of silent mutants.
 */
import { rankQuality } from '../predict/rank.js';
import { hasPredictions } from '../store/predictions.js';
import type { Store } from '../store/store.js';

export interface PredictionRow {
  assay: string;
  /** a target's short name, or `all` */
  target: string;
  mutants: number;
  nsm: number;
  auroc: number;
  recall_top1: number;
  recall_top10: number;
  /** mutants predicted NSM (margin < 0) and the share of them that are */
  predicted_nsm: number;
  precision: number;
}

export interface GainPoint { assay: string; screened: number; found: number; curve: string }
/** A point of the distribution of predicted margins among NSMs or silent mutants: `share` of them lie below `margin`. */
export interface MarginQuantile { assay: string; outcome: 'NSM' | 'silent'; margin: number; share: number }

export interface PredictionAnalyses {
  rows: PredictionRow[];
  gain: GainPoint[];
  margins: MarginQuantile[];
}

export function predictionAnalyses(store: Store): PredictionAnalyses | undefined {
  if (!hasPredictions(store)) return undefined;
  const rows: PredictionRow[] = [];
  const gain: GainPoint[] = [];
  const margins: MarginQuantile[] = [];
  for (const a of store.assays()) {
    const got = store.db
      .prepare(
        `SELECT t.short, p.predicted_margin, r.silent FROM predictions p JOIN results r ON r.mutant_id = p.mutant_id AND r.assay_id = p.assay_id
         JOIN mutants m ON m.id = p.mutant_id JOIN targets t ON t.id = m.target_id WHERE p.assay_id = ? ORDER BY p.mutant_id`,
      )
      .raw()
      .all(a.id) as [string, number, number][];
    if (!got.length) continue;
    const row = (target: string, list: [string, number, number][]): PredictionRow => {
      const score = list.map((x) => x[1]);
      const nsm = list.map((x) => x[2] === 0);
      const q10 = rankQuality(score, nsm, 0.1);
      const q1 = rankQuality(score, nsm, 0.01);
      return { assay: a.name, target, mutants: list.length, nsm: q10.nsms, auroc: q10.auroc, recall_top1: q1.recall, recall_top10: q10.recall, predicted_nsm: q10.predictedNsms, precision: q10.predictedNsms ? q10.predictedRight / q10.predictedNsms : NaN };
    };
    rows.push(row('all', got));
    const byTarget = new Map<string, [string, number, number][]>();
    for (const x of got) (byTarget.get(x[0]) ?? byTarget.set(x[0], []).get(x[0])!).push(x);
    for (const [t, list] of byTarget) rows.push(row(t, list));

    // gain curve: share of NSMs found after screening each share of mutants in predicted order
    const order = got.map((_, i) => i).sort((i, j) => got[i][1] - got[j][1] || i - j);
    const total = order.length;
    const nsms = got.filter((x) => x[2] === 0).length;
    let found = 0;
    const steps = 100;
    let next = 0;
    gain.push({ assay: a.name, screened: 0, found: 0, curve: 'predicted order' });
    order.forEach((i, k) => {
      if (got[i][2] === 0) found++;
      if (k + 1 >= ((next + 1) * total) / steps) {
        next++;
        gain.push({ assay: a.name, screened: (k + 1) / total, found: nsms ? found / nsms : 0, curve: 'predicted order' });
      }
    });
    gain.push({ assay: a.name, screened: 0, found: 0, curve: 'random order' }, { assay: a.name, screened: 1, found: 1, curve: 'random order' });

    // the distribution of predicted margins among NSMs and among silent mutants, at 200 quantiles each
    for (const outcome of ['NSM', 'silent'] as const) {
      const vals = got.filter((x) => (x[2] === 0) === (outcome === 'NSM')).map((x) => x[1]).sort((x, y) => x - y);
      if (!vals.length) continue;
      for (let q = 0; q <= 200; q++) margins.push({ assay: a.name, outcome, margin: vals[Math.round((q / 200) * (vals.length - 1))], share: q / 200 });
    }
  }
  return rows.length ? { rows, gain, margins } : undefined;
}
