import type { Store } from './store.js';

export interface AssaySummary {
  assay: string;
  done: number;
  nsm: number;
  phenotypes: number;
  destructive: number;
  ties: number;
  byMatrix: { matrix: string; done: number; nsm: number; phenotypes: number }[];
}

/** Counts for `status`: per assay, and per matrix type within it (the null mutant excluded). */
export function summarize(store: Store): { total: number; done: number; assays: AssaySummary[] } {
  const db = store.db;
  const total = (db.prepare('SELECT count(*) FROM mutants WHERE id > 0').pluck().get() as number) ?? 0;
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
    return { assay: a.name, done: s.done ?? 0, nsm: s.nsm ?? 0, phenotypes: s.phenotypes ?? 0, destructive: s.destructive ?? 0, ties: s.ties ?? 0, byMatrix };
  });
  return { total, done, assays };
}
