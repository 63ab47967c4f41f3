/**
 * The predictions table (schema.ts PREDICTIONS): written by `mutascan predict`, read by `run --order
 * predicted`, `--budget`, status, export and the report.
 */
import { PREDICTIONS } from './schema.js';
import type { Store } from './store.js';

export interface StoredPrediction {
  ordinal: number;
  margin: number;
  step: number;
}

export function hasPredictions(store: Store): boolean {
  return store.hasTable('predictions') && !!store.db.prepare('SELECT 1 FROM predictions LIMIT 1').get();
}

/** Replaces one assay's predictions (`margin` and `step` indexed by ordinal; NaN = none) in one transaction. */
export function savePredictions(store: Store, assayId: number, margin: Float32Array, step: Int32Array): number {
  const db = store.db;
  db.exec(PREDICTIONS);
  const del = db.prepare('DELETE FROM predictions WHERE assay_id = ?');
  const ins = db.prepare('INSERT INTO predictions VALUES (?, ?, ?, ?)');
  let n = 0;
  db.transaction(() => {
    del.run(assayId);
    for (let i = 0; i < margin.length; i++) {
      const m = margin[i];
      if (Number.isNaN(m) || step[i] < 0) continue;
      // a mutant no step's gradient reaches keeps the baseline's lowest margin; ±Infinity is not a REAL SQLite stores
      ins.run(i, assayId, Number.isFinite(m) ? m : m > 0 ? 3.4e38 : -3.4e38, step[i]);
      n++;
    }
  })();
  return n;
}

/** One assay's predictions in plan order. */
function readPredictions(store: Store, assayId: number): StoredPrediction[] {
  if (!hasPredictions(store)) return [];
  return (store.db.prepare('SELECT mutant_id, predicted_margin, step FROM predictions WHERE assay_id = ? ORDER BY mutant_id').raw().all(assayId) as [number, number, number][]).map(([ordinal, margin, step]) => ({ ordinal, margin, step }));
}

/** Screened mutants of one assay and whether each is an NSM, in plan order. */
export function screenedOutcomes(store: Store, assayId: number): { ordinal: Int32Array; nsm: Uint8Array } {
  const rows = store.db.prepare('SELECT mutant_id, silent FROM results WHERE assay_id = ? AND mutant_id > 0 ORDER BY mutant_id').raw().all(assayId) as [number, number][];
  return { ordinal: Int32Array.from(rows, (r) => r[0]), nsm: Uint8Array.from(rows, (r) => (r[1] ? 0 : 1)) };
}

/** What a budgeted run missed (predict/estimate.ts computes it). */
export interface MissedEstimate {
  assay: string;
  /** NSMs found among the top mutants screened */
  foundTop: number;
  /** the random sample of the rest: its size and its NSMs */
  sample: number;
  sampleNsms: number;
  /** mutants neither in the top nor in the sample */
  unscreened: number;
  /** estimated NSMs among them, with a 95 % interval */
  missed: number;
  low: number;
  high: number;
}

/** Budgeted runs' estimates of the NSMs they missed (run --budget), created where missing. */
export const ESTIMATES = `
CREATE TABLE IF NOT EXISTS estimates (  -- budgeted runs (run --budget): the NSMs the budget missed, estimated from a random sample
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  assay_id INTEGER NOT NULL REFERENCES assays(id),
  budget INTEGER NOT NULL,          -- mutants screened because they ranked highest by predicted margin
  found INTEGER NOT NULL,           -- NSMs among them
  sample INTEGER NOT NULL,          -- a uniform random sample of the rest, screened too
  sample_nsms INTEGER NOT NULL,
  unscreened INTEGER NOT NULL,      -- mutants in neither
  missed REAL NOT NULL,             -- estimated NSMs among those, and the 95 % (Wilson) interval
  missed_low REAL NOT NULL,
  missed_high REAL NOT NULL
);
`;

export function saveEstimates(store: Store, rows: (MissedEstimate & { assayId: number; budget: number })[]): void {
  const db = store.db;
  db.exec(ESTIMATES);
  const ins = db.prepare('INSERT INTO estimates (at, assay_id, budget, found, sample, sample_nsms, unscreened, missed, missed_low, missed_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const at = new Date().toISOString();
  db.transaction(() => {
    for (const e of rows) ins.run(at, e.assayId, e.budget, e.foundTop, e.sample, e.sampleNsms, e.unscreened, e.missed, e.low, e.high);
  })();
}

/** The latest estimate per assay. */
export function readEstimates(store: Store): (MissedEstimate & { budget: number; at: string })[] {
  if (!store.hasTable('estimates')) return [];
  return store.db
    .prepare(
      `SELECT e.at, a.name AS assay, e.budget, e.found AS foundTop, e.sample, e.sample_nsms AS sampleNsms, e.unscreened, e.missed, e.missed_low AS low, e.missed_high AS high
       FROM estimates e JOIN assays a ON a.id = e.assay_id WHERE e.id IN (SELECT max(id) FROM estimates GROUP BY assay_id) ORDER BY a.id`,
    )
    .all() as (MissedEstimate & { budget: number; at: string })[];
}

/** One assay's predicted margins by ordinal (NaN where none), for ordering a run. */
export function predictionArray(store: Store, assayId: number, total: number): Float32Array {
  const out = new Float32Array(total).fill(NaN);
  for (const p of readPredictions(store, assayId)) if (p.ordinal < total) out[p.ordinal] = p.margin;
  return out;
}

/** Per generate assay: how many mutants are predicted, and how many predicted NSMs (for status). */
export function predictionCounts(store: Store): { assay: string; predicted: number; nsms: number }[] {
  if (!hasPredictions(store)) return [];
  return store.db
    .prepare('SELECT a.name AS assay, count(*) AS predicted, sum(p.predicted_margin < 0) AS nsms FROM predictions p JOIN assays a ON a.id = p.assay_id GROUP BY p.assay_id ORDER BY p.assay_id')
    .all() as { assay: string; predicted: number; nsms: number }[];
}
