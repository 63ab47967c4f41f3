/**
 * A store read into the shape the report works on: per target, the grid of units, and per assay and kind the
 * outcome of every unit's mutant as one typed array, so that 3 million mutants stay a few arrays, not objects.
 */
import type { Store, TargetRow } from '../store/store.js';

/** Outcome codes in `Grid.outcome`: a phenotype id (≥ 1) for an NSM, or one of these. */
export const SILENT = 0;
export const PENDING = -1;

export interface ReportTarget extends Omit<TargetRow, 'max' | 'min'> {
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
}

export function loadReportData(store: Store): ReportData {
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
  const targetIndex = new Map(targets.map((t, i) => [t.id, i]));
  const kindIndex = new Map(kinds.map((k, i) => [k, i]));
  const assayIndex = new Map(assays.map((a, i) => [a.id, i]));
  const outcome = assays.map(() => kinds.map(() => targets.map((t) => new Int32Array(t.gridRows * t.gridCols).fill(PENDING))));
  const destructive = assays.map(() => kinds.map(() => targets.map((t) => new Uint8Array(t.gridRows * t.gridCols))));
  const values = assays.map((a) => (a.type === 'generate' ? null : kinds.map(() => targets.map((t) => new Float32Array(t.gridRows * t.gridCols).fill(NaN)))));

  // mutant id → (target, kind, unit), then results fill the arrays; raw() iteration keeps 3 M rows cheap.
  const total = db.prepare('SELECT max(id) FROM mutants').pluck().get() as number;
  const mTarget = new Int32Array(total + 1).fill(-1);
  const mKind = new Int8Array(total + 1);
  const mUnit = new Int32Array(total + 1);
  let done = 0;
  for (const r of db.prepare('SELECT id, target_id, row, col, kind, done FROM mutants WHERE id > 0').raw().iterate() as Iterable<[number, number, number, number, string, number]>) {
    const ti = targetIndex.get(r[1]);
    if (ti === undefined) continue;
    const t = targets[ti];
    mTarget[r[0]] = ti;
    mKind[r[0]] = kindIndex.get(r[4]) ?? 0;
    mUnit[r[0]] = Math.floor(r[2] / t.unitRows) * t.gridCols + Math.floor(r[3] / t.unitCols);
    done += r[5];
  }
  for (const r of db.prepare('SELECT mutant_id, assay_id, silent, phenotype_id, destructive, coalesce(accuracy_change, kl_mean) FROM results WHERE mutant_id > 0').raw().iterate() as Iterable<[number, number, number, number | null, number, number | null]>) {
    const ti = mTarget[r[0]];
    const ai = assayIndex.get(r[1]);
    if (ti < 0 || ai === undefined) continue;
    const k = mKind[r[0]];
    outcome[ai][k][ti][mUnit[r[0]]] = r[2] ? SILENT : (r[3] ?? SILENT);
    if (r[4]) destructive[ai][k][ti][mUnit[r[0]]] = 1;
    const v = values[ai];
    if (v && r[5] !== null) v[k][ti][mUnit[r[0]]] = r[5];
  }

  const phenotypes = new Map<number, ReportPhenotype>();
  const counts = new Map<number, number>();
  for (const r of db.prepare('SELECT phenotype_id, count(*) FROM results WHERE phenotype_id IS NOT NULL AND mutant_id > 0 GROUP BY phenotype_id').raw().iterate() as Iterable<[number, number]>) counts.set(r[0], r[1]);
  for (const r of db.prepare('SELECT id, assay_id, ids_json, text, diverge_at, diverge_end, baseline_end FROM phenotypes').raw().iterate() as Iterable<[number, number, string, string, number, number, number]>) {
    phenotypes.set(r[0], { id: r[0], assay: r[1], ids: JSON.parse(r[2]), text: r[3], divergeAt: r[4], divergeEnd: r[5], baselineEnd: r[6], count: counts.get(r[0]) ?? 0 });
  }
  return {
    path: store.path, specYaml: screen.specYaml, modelPath: screen.modelPath, backend: screen.backend, createdAt: screen.createdAt, version: screen.version,
    total: total, done, kinds, assays, targets, outcome, values, destructive, phenotypes,
  };
}

/** The layer-matrix types in the order the paper lists them. */
export const MATRIX_ORDER = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'embed', 'lm_head'];
