/**
 * Exports: one row per mutant × assay. Columns (documented in the README):
 * mutant_id, key, target, tensor, row, col, rows, cols, kind, value, assay, silent, phenotype, first_divergence,
 * similarity, destructive, n_tokens, tie, text, accuracy, accuracy_change, kl_mean, kl_max, loglik_change,
 * argmax_changes, predicted_margin, predicted_step, layout. `text` is the phenotype's output (empty when silent); accuracy …
 * argmax_changes are empty where the assay does not measure them (choice assays: accuracy; likelihood assays: the
 * rest). A store with predictions (`mutascan predict`) lists every predicted mutant, screened or not: the outcome
 * columns of one not screened yet are empty. `layout` says in which order (row, col) counts the target's rows:
 * `huggingface` (as Hugging Face stores the matrix, also for GGUF files) or `llama2c` (q and k of llama2.c
 * checkpoints, in their pair order); empty for stores written before it was recorded.
 */
import { rmSync } from 'node:fs';
import { outputFailure, writeWhole } from '../util/output.js';
import { parquetWriteFile } from 'hyparquet-writer';
import { fail, MutascanError } from '../errors.js';
import type { MutantRow, Store } from './store.js';
import { replicateSeeds, SCORE_COLUMNS, scoreRows } from './scores.js';

/** A mutant (as the store keeps it, its id as mutant_id and its target's tensor name added) and one assay's outcome. */
export interface ExportRow extends Omit<MutantRow, 'id'> {
  mutant_id: number;
  tensor: string | null;
  assay: string;
  /** null: not screened yet (a predicted mutant) */
  silent: boolean | null;
  phenotype: number | null;
  first_divergence: number | null;
  similarity: number | null;
  destructive: boolean | null;
  n_tokens: number | null;
  tie: boolean | null;
  text: string;
  accuracy: number | null;
  accuracy_change: number | null;
  kl_mean: number | null;
  kl_max: number | null;
  loglik_change: number | null;
  argmax_changes: number | null;
  /** mutascan predict: the lowest first-order predicted margin over the steps (below 0 = predicted NSM), its step */
  predicted_margin: number | null;
  predicted_step: number | null;
  layout: string | null;
}

export const EXPORT_COLUMNS: (keyof ExportRow)[] = ['mutant_id', 'key', 'target', 'tensor', 'row', 'col', 'rows', 'cols', 'kind', 'value', 'assay', 'silent', 'phenotype', 'first_divergence', 'similarity', 'destructive', 'n_tokens', 'tie', 'text', 'accuracy', 'accuracy_change', 'kl_mean', 'kl_max', 'loglik_change', 'argmax_changes', 'predicted_margin', 'predicted_step', 'layout'];

export function exportRows(store: Store): ExportRow[] {
  return [...iterateExportRows(store)];
}

/** The same rows one at a time, read as they are needed (a store of millions of mutants never sits in memory). */
export function* iterateExportRows(store: Store): Generator<ExportRow> {
  const predicted = store.hasTable('predictions');
  // with predictions: every (mutant, assay) that has a result or a prediction; else the results
  const keys = predicted ? 'SELECT mutant_id, assay_id FROM results UNION SELECT mutant_id, assay_id FROM predictions' : 'SELECT mutant_id, assay_id FROM results';
  const rows = store.db
    .prepare(
      `SELECT m.id AS mutant_id, m.key, t.short AS target, t.tensor, m.row, m.col, m.rows, m.cols, m.kind, m.value, a.name AS assay,
              r.silent, r.phenotype_id AS phenotype, r.first_divergence, r.similarity, r.destructive, r.n_tokens, r.tie, coalesce(p.text, '') AS text,
              r.accuracy, r.accuracy_change, r.kl_mean, r.kl_max, r.loglik_change, r.argmax_changes,
              ${predicted ? 'pr.predicted_margin, pr.step AS predicted_step' : 'NULL AS predicted_margin, NULL AS predicted_step'}, t.layout
       FROM (${keys}) k JOIN mutants m ON m.id = k.mutant_id JOIN assays a ON a.id = k.assay_id
       LEFT JOIN results r ON r.mutant_id = k.mutant_id AND r.assay_id = k.assay_id
       ${predicted ? 'LEFT JOIN predictions pr ON pr.mutant_id = k.mutant_id AND pr.assay_id = k.assay_id' : ''}
       LEFT JOIN targets t ON t.id = m.target_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id
       ORDER BY m.id, a.id`,
    )
    .iterate() as Iterable<Record<string, unknown>>;
  const flag = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === 1);
  for (const r of rows) yield { ...r, silent: flag(r.silent), destructive: flag(r.destructive), tie: flag(r.tie) } as ExportRow;
}

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The score table (docs/scores.md): MaveDB's layout, one row per mutant and assay (replicates together), then a
 * `seed_<s>` column per seed with the score under that replicate.
 */
export function writeScoreTable(store: Store, out: string, o: { assay?: string; score?: string } = {}): number {
  const seeds = replicateSeeds(store, o.assay);
  const lines = [[...SCORE_COLUMNS, ...seeds.map((s) => `seed_${s}`)].join(',')];
  for (const r of scoreRows(store, o)) {
    const bySeed = new Map(r.group.members.map((m, i) => [m.seed, r.replicates[i]]));
    lines.push([...SCORE_COLUMNS.map((c) => csvCell(r[c])), ...seeds.map((s) => (r.group.members.length > 1 ? csvCell(bySeed.get(s)) : ''))].join(','));
  }
  try {
    writeWhole(out, lines.join('\n') + '\n', 'export', 'run the export again');
  } catch (e) {
    if (e instanceof MutascanError) throw e;
    outputFailure(e, out, 'export', 'run the export again');
  }
  return lines.length - 1;
}

export function writeExport(store: Store, format: string, out: string, o: { assay?: string; score?: string } = {}): number {
  if (format === 'scores') return writeScoreTable(store, out, o);
  if (format !== 'csv' && format !== 'parquet') fail(`unknown export format "${format}"`, '--format', 'use csv, parquet or scores');
  const rows = exportRows(store);
  try {
    if (format === 'csv') {
      const lines = [EXPORT_COLUMNS.join(',')];
      for (const r of rows) lines.push(EXPORT_COLUMNS.map((c) => csvCell(r[c])).join(','));
      writeWhole(out, lines.join('\n') + '\n', 'export', 'run the export again');
      return rows.length;
    } else {
      const col = <K extends keyof ExportRow>(name: K, type: 'INT32' | 'DOUBLE' | 'STRING' | 'BOOLEAN') => ({ name, data: rows.map((r) => r[name]), type });
      parquetWriteFile({
        filename: out,
        columnData: [
          col('mutant_id', 'INT32'), col('key', 'STRING'), col('target', 'STRING'), col('tensor', 'STRING'), col('row', 'INT32'), col('col', 'INT32'),
          col('rows', 'INT32'), col('cols', 'INT32'), col('kind', 'STRING'), col('value', 'DOUBLE'), col('assay', 'STRING'), col('silent', 'BOOLEAN'),
          col('phenotype', 'INT32'), col('first_divergence', 'INT32'), col('similarity', 'DOUBLE'), col('destructive', 'BOOLEAN'), col('n_tokens', 'INT32'),
          col('tie', 'BOOLEAN'), col('text', 'STRING'), col('accuracy', 'DOUBLE'), col('accuracy_change', 'DOUBLE'), col('kl_mean', 'DOUBLE'),
          col('kl_max', 'DOUBLE'), col('loglik_change', 'DOUBLE'), col('argmax_changes', 'INT32'), col('predicted_margin', 'DOUBLE'), col('predicted_step', 'INT32'),
          col('layout', 'STRING'),
        ],
      });
    }
  } catch (e) {
    if (e instanceof MutascanError) throw e;
    rmSync(out, { force: true });
    outputFailure(e, out, 'export', 'run the export again');
  }
  return rows.length;
}
