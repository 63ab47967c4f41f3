import type { Store } from './store.js';

export interface AssaySummary {
  assay: string;
  type: string;
  /** choice: baseline accuracy and the mean and lowest accuracy of the mutants done */
  accuracy?: { baseline: number; mean: number; min: number };
  /** likelihood: mean and largest KL(baseline ‖ mutant) statistics of the mutants done */
  kl?: { mean: number; max: number };
  done: number;
  nsm: number;
  phenotypes: number;
  destructive: number;
  ties: number;
  byMatrix: { matrix: string; done: number; nsm: number; phenotypes: number }[];
}

/** Counts for `status`: per assay, and per matrix type within it (the null mutant excluded). */
export interface ParkedBatch {
  batch: string;
  first: number;
  count: number;
  attempts: number;
  error: string;
}

/**
 * Which mutants a parked batch holds, for people: a plan-order batch's range, or a guided run's batch (id g…),
 * whose scattered mutants of one target are stored as its first and its size only.
 */
export function describeParkedMutants(b: Pick<ParkedBatch, 'batch' | 'first' | 'count'>): string {
  return b.batch.startsWith('g') ? `${b.count} mutants from ${b.first}` : `mutants ${b.first}–${b.first + b.count - 1}`;
}

/** A worker of a distributed run, as the coordinator recorded it. */
export interface WorkerRecord {
  name: string;
  batches: number;
  mutants: number;
  /** time it spent evaluating them */
  seconds: number;
  firstMs: number;
  lastMs: number;
}

export function readWorkers(store: Store): WorkerRecord[] {
  if (!store.hasTable('workers')) return []; // made before 0.3.0, or never distributed
  return store.db.prepare('SELECT name, batches, mutants, seconds, first_ms AS firstMs, last_ms AS lastMs FROM workers ORDER BY name').all() as WorkerRecord[];
}

export function readParked(store: Store): ParkedBatch[] {
  return store.db.prepare('SELECT batch, first, count, attempts, error FROM parked ORDER BY first').all() as ParkedBatch[];
}

export function summarize(store: Store): { total: number; done: number; assays: AssaySummary[]; parked: ParkedBatch[]; workers: WorkerRecord[] } {
  const db = store.db;
  // from the screen, not the mutants table: a repaired store may lack rows that the next run re-creates
  const total = (db.prepare('SELECT total_mutants - 1 FROM screen WHERE id = 1').pluck().get() as number) ?? 0;
  const done = (db.prepare('SELECT count(*) FROM mutants WHERE id > 0 AND done = 1').pluck().get() as number) ?? 0;
  const assays = store.assays().map((a) => {
    const s = db
      .prepare('SELECT count(*) AS done, sum(silent = 0) AS nsm, count(DISTINCT phenotype_id) AS phenotypes, sum(destructive) AS destructive, sum(tie) AS ties FROM results WHERE assay_id = ? AND mutant_id > 0')
      .get(a.id) as Record<string, number | null>;
    const byMatrix = db
      .prepare(
        `SELECT t.matrix, count(*) AS done, sum(r.silent = 0) AS nsm, count(DISTINCT r.phenotype_id) AS phenotypes
         FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN targets t ON t.id = m.target_id
         WHERE r.assay_id = ? GROUP BY t.matrix ORDER BY min(t.id)`,
      )
      .all(a.id) as { matrix: string; done: number; nsm: number; phenotypes: number }[];
    const m = db
      .prepare('SELECT avg(accuracy) AS acc, min(accuracy) AS accMin, avg(accuracy - accuracy_change) AS base, avg(kl_mean) AS kl, max(kl_max) AS klMax FROM results WHERE assay_id = ? AND mutant_id > 0')
      .get(a.id) as Record<string, number | null>;
    const extra: Pick<AssaySummary, 'accuracy' | 'kl'> = {};
    if (a.type === 'choice' && m.acc !== null) extra.accuracy = { baseline: m.base ?? 0, mean: m.acc, min: m.accMin ?? 0 };
    if (a.type === 'likelihood' && m.kl !== null) extra.kl = { mean: m.kl, max: m.klMax ?? 0 };
    return { assay: a.name, type: a.type, ...extra, done: s.done ?? 0, nsm: s.nsm ?? 0, phenotypes: s.phenotypes ?? 0, destructive: s.destructive ?? 0, ties: s.ties ?? 0, byMatrix };
  });
  return { total, done, assays, parked: readParked(store), workers: readWorkers(store) };
}
