/**
 * A store read into the shape the report works on: per target, the grid of units, and per assay and kind the
 * outcome of every unit's mutant as one typed array, so that 3 million mutants stay a few arrays, not objects.
 */
import type { Store, TargetRow } from '../store/store.js';

/** Outcome codes in `Grid.outcome`: a phenotype id (≥ 1) for an NSM, or one of these. */
export const SILENT = 0;
export const PENDING = -1;

export interface ReportTarget extends Omit<TargetRow, 'max' | 'min' | 'layout'> {
  id: number;
  /** the unit's shape; edge units may be smaller */
  unitRows: number;
  unitCols: number;
  gridRows: number;
  gridCols: number;
}

export interface ReportPhenotype {
  id: number;
  assay: number;
  ids: number[];
  text: string;
  divergeAt: number;
  divergeEnd: number;
  baselineEnd: number;
  /** mutants showing it */
  count: number;
}

export interface ReportAssay {
  id: number;
  name: string;
  type: string;
  baselineText: string;
  baselineIds: number[];
}

export interface ReportData {
  path: string;
  specYaml: string;
  modelPath: string;
  backend: string;
  createdAt: string;
  version: string;
  total: number;
  done: number;
  kinds: string[];
  assays: ReportAssay[];
  targets: ReportTarget[];
  /** outcome[assayIndex][kindIndex][targetIndex][unit], unit = gridRow * gridCols + gridCol */
  outcome: Int32Array[][][];
  /**
   * The value an assay measures per mutant, NaN where not run: accuracy change (choice) or mean KL
   * (likelihood); null for generate assays. values[assayIndex]?.[kindIndex][targetIndex][unit]
   */
  values: (Float32Array[][] | null)[];
  /** destructive[assayIndex][kindIndex][targetIndex][unit] = 1 when that NSM's output is destructive */
  destructive: Uint8Array[][][];
  phenotypes: Map<number, ReportPhenotype>;
  index: MutantIndex;
}

/** The store as one snapshot (one read transaction), so that a run writing meanwhile cannot split a mutant's results from its done mark. */
export function loadReportData(store: Store): ReportData {
  return store.db.transaction(() => readReportData(store))();
}

function readReportData(store: Store): ReportData {
  const db = store.db;
  const screen = store.screen();
  const assays = store.assays().map((a) => ({ id: a.id, name: a.name, type: a.type, baselineText: a.baseline.text, baselineIds: a.baseline.ids }));
  const kinds = (db.prepare("SELECT kind FROM mutants WHERE id > 0 GROUP BY kind ORDER BY min(id)").pluck().all() as string[]);
  const targetRows = db.prepare('SELECT id, short, tensor, layer, matrix, rows, cols FROM targets ORDER BY id').all() as Omit<ReportTarget, 'unitRows' | 'unitCols' | 'gridRows' | 'gridCols'>[];
  // The first unit of a target has the full unit shape (edge units come later in row-major order).
  const firstUnit = db.prepare('SELECT rows, cols FROM mutants WHERE target_id = ? ORDER BY id LIMIT 1');
  const targets: ReportTarget[] = targetRows.map((t) => {
    const u = firstUnit.get(t.id) as { rows: number; cols: number } | undefined;
    const unitRows = u?.rows ?? 1;
    const unitCols = u?.cols ?? 1;
    return { ...t, unitRows, unitCols, gridRows: Math.ceil(t.rows / unitRows), gridCols: Math.ceil(t.cols / unitCols) };
  });
  const outcome = assays.map(() => kinds.map(() => targets.map((t) => new Int32Array(t.gridRows * t.gridCols).fill(PENDING))));
  const destructive = assays.map(() => kinds.map(() => targets.map((t) => new Uint8Array(t.gridRows * t.gridCols))));
  const values = assays.map((a) => (a.type === 'generate' ? null : kinds.map(() => targets.map((t) => new Float32Array(t.gridRows * t.gridCols).fill(NaN)))));

  const index = indexMutants(store, targets, kinds, assays);
  const grids = { outcome, destructive, values };
  for (const r of db.prepare(`${RESULT_SELECT} WHERE mutant_id > 0`).raw().iterate() as Iterable<ResultRow>) applyResult(grids, index, r);
  const phenotypes = new Map<number, ReportPhenotype>();
  const counts = new Map<number, number>();
  for (const r of db.prepare('SELECT phenotype_id, count(*) FROM results WHERE phenotype_id IS NOT NULL AND mutant_id > 0 GROUP BY phenotype_id').raw().iterate() as Iterable<[number, number]>) counts.set(r[0], r[1]);
  for (const p of readPhenotypes(store, 0)) phenotypes.set(p.id, { ...p, count: counts.get(p.id) ?? 0 });
  const total = index.target.length - 1;
  let done = 0;
  for (let m = 1; m < index.done.length; m++) done += index.done[m];
  return {
    path: store.path, specYaml: screen.specYaml, modelPath: screen.modelPath, backend: screen.backend, createdAt: screen.createdAt, version: screen.version,
    total: total, done, kinds, assays, targets, outcome, values, destructive, phenotypes, index,
  };
}

/** Where each planned mutant sits in the report's grids, so that a result is placed without a lookup in the store. */
export interface MutantIndex {
  /** per mutant id: its target's index in `targets` (-1 for the null mutant), its kind's index, its unit */
  target: Int32Array;
  kind: Int8Array;
  unit: Int32Array;
  /** assay id → index in `assays` */
  assay: Map<number, number>;
  /** per mutant id: 1 once its results are stored (as read; a live view keeps it current) */
  done: Uint8Array;
}

function indexMutants(store: Store, targets: ReportTarget[], kinds: string[], assays: ReportAssay[]): MutantIndex {
  const db = store.db;
  const targetIndex = new Map(targets.map((t, i) => [t.id, i]));
  const kindIndex = new Map(kinds.map((k, i) => [k, i]));
  const max = (db.prepare('SELECT max(id) FROM mutants').pluck().get() as number | null) ?? 0;
  const target = new Int32Array(max + 1).fill(-1);
  const kind = new Int8Array(max + 1);
  const unit = new Int32Array(max + 1);
  const done = new Uint8Array(max + 1);
  // raw() iteration keeps 3 M rows cheap
  for (const r of db.prepare('SELECT id, target_id, row, col, kind, done FROM mutants WHERE id > 0').raw().iterate() as Iterable<[number, number, number, number, string, number]>) {
    const ti = targetIndex.get(r[1]);
    if (ti === undefined) continue;
    const t = targets[ti];
    target[r[0]] = ti;
    kind[r[0]] = kindIndex.get(r[4]) ?? 0;
    unit[r[0]] = Math.floor(r[2] / t.unitRows) * t.gridCols + Math.floor(r[3] / t.unitCols);
    done[r[0]] = r[5];
  }
  return { target, kind, unit, assay: new Map(assays.map((a, i) => [a.id, i])), done };
}

/** The columns of a result the report places: mutant, assay, silent, phenotype, destructive, measured value. */
export const RESULT_SELECT = 'SELECT mutant_id, assay_id, silent, phenotype_id, destructive, coalesce(accuracy_change, kl_mean) FROM results';
export type ResultRow = [mutant: number, assay: number, silent: number, phenotype: number | null, destructive: number, value: number | null];

/** A placed result: assay, kind and target indices, unit, and the outcome code written there. */
export interface PlacedResult {
  assay: number;
  kind: number;
  target: number;
  unit: number;
  outcome: number;
}

/** Writes one stored result into the grids; returns where it went, or null for a result the plan does not place. */
export function applyResult(grids: Pick<ReportData, 'outcome' | 'destructive' | 'values'>, index: MutantIndex, r: ResultRow): PlacedResult | null {
  const ti = r[0] < index.target.length ? index.target[r[0]] : -1;
  const ai = index.assay.get(r[1]);
  if (ti < 0 || ai === undefined) return null;
  const k = index.kind[r[0]];
  const u = index.unit[r[0]];
  const outcome = r[2] ? SILENT : (r[3] ?? SILENT);
  grids.outcome[ai][k][ti][u] = outcome;
  if (r[4]) grids.destructive[ai][k][ti][u] = 1;
  const v = grids.values[ai];
  if (v && r[5] !== null) v[k][ti][u] = r[5];
  return { assay: ai, kind: k, target: ti, unit: u, outcome };
}

/** Phenotypes with ids above `after`, in id order (their mutant counts left at 0 for the caller to fill). */
export function readPhenotypes(store: Store, after: number): ReportPhenotype[] {
  const out: ReportPhenotype[] = [];
  for (const r of store.db.prepare('SELECT id, assay_id, ids_json, text, diverge_at, diverge_end, baseline_end FROM phenotypes WHERE id > ? ORDER BY id').raw().iterate(after) as Iterable<[number, number, string, string, number, number, number]>)
    out.push({ id: r[0], assay: r[1], ids: JSON.parse(r[2]), text: r[3], divergeAt: r[4], divergeEnd: r[5], baselineEnd: r[6], count: 0 });
  return out;
}

/** The target types in the order the paper lists them, the norm vectors (which it did not screen) after them. */
export const MATRIX_ORDER = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'attn_norm', 'q_norm', 'k_norm', 'attn_out_norm', 'ffn_norm', 'ffn_out_norm', 'embed', 'final_norm', 'lm_head'];
