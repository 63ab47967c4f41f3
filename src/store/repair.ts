/**
 * Salvage of a damaged store: every row SQLite can still read, table by table, reading key ranges and halving
 * a range that hits a damaged page until the unreadable keys are isolated. A mutant keeps its results only when
 * all of them (one per assay) and their phenotypes were read; every other mutant is pending again, and mutant
 * rows that could not be read are made again from the plan by the next `mutascan run`.
 *
 * `survey` only counts (status on a damaged store); `repair` writes a new store and checks it with SQLite's
 * integrity check. The damaged file is opened read-only and never changed.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { fail } from '../errors.js';
import { isDamage } from './health.js';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';

type DB = Database.Database;
type Row = Record<string, unknown>;

export interface Salvage {
  totalMutants: number;
  /** mutants done in the damaged store whose every result could be read */
  kept: number;
  /** mutants that were done and go back to pending (a result or phenotype unreadable) */
  requeued: number;
  /** mutant rows that could not be read (re-made by the next run) */
  lostMutantRows: number;
  lostResults: number;
  lostPhenotypes: number;
  /** what SQLite's quick check says of the damaged file (first lines) */
  problems: string[];
}

/** Reads `sql` (with ? ? as an inclusive key range) over [lo, hi], skipping the keys of damaged pages. */
function readRange(db: DB, sql: string, lo: number, hi: number): { rows: Row[]; lost: number[] } {
  const stmt = db.prepare(sql);
  const rows: Row[] = [];
  const lost: number[] = [];
  const visit = (a: number, b: number): void => {
    let got: Row[];
    try {
      got = stmt.all(a, b) as Row[];
    } catch (e) {
      if (!isDamage(e)) throw e;
      if (a === b) {
        lost.push(a);
        return;
      }
      const m = Math.floor((a + b) / 2);
      visit(a, m);
      visit(m + 1, b);
      return;
    }
    for (const r of got) rows.push(r);
  };
  for (let a = lo; a <= hi; a += 4096) visit(a, Math.min(hi, a + 4095));
  return { rows, lost };
}

function openDamaged(path: string): DB {
  if (!existsSync(path)) fail('no such store', path);
  let db: DB;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (e) {
    fail(`SQLite cannot read this file at all (${(e as Error).message}): its first page, which says where every table is, is damaged`, path, 'nothing can be salvaged from it; run the screen again into a new store');
  }
  return db;
}

function readSmall(db: DB, path: string, table: string): Row[] {
  try {
    return db.prepare(`SELECT * FROM ${table}`).all() as Row[];
  } catch (e) {
    if (!isDamage(e) && !/no such table/.test((e as Error).message)) throw e;
    return fail(`the store's ${table} table cannot be read (${(e as Error).message}): without it the screen cannot be told apart from another`, path, 'run the screen again into a new store');
  }
}

interface Read {
  screen: Row;
  small: Record<'assays' | 'baselines' | 'targets', Row[]>;
  parked: Row[];
  mutants: Row[];
  results: Row[];
  phenotypes: Row[];
  salvage: Salvage;
  keptIds: Set<number>;
}

function read(path: string): Read {
  const db = openDamaged(path);
  try {
    let problems: string[];
    try {
      problems = (db.pragma('quick_check(20)', { simple: false }) as { quick_check: string }[]).map((r) => r.quick_check);
    } catch (e) {
      problems = [(e as Error).message];
    }
    const [screen] = readSmall(db, path, 'screen');
    if (!screen) fail('the store has no screen row', path, 'run the screen again into a new store');
    const small = { assays: readSmall(db, path, 'assays'), baselines: readSmall(db, path, 'baselines'), targets: readSmall(db, path, 'targets') };
    let parked: Row[] = [];
    try {
      parked = db.prepare('SELECT * FROM parked').all() as Row[];
    } catch {
      // parked batches are tried again anyway when their mutants are pending
    }
    const total = Number(screen.total_mutants);
    const nAssays = small.assays.length;
    const m = readRange(db, 'SELECT id, key, target_id, row, col, rows, cols, kind, value, done FROM mutants WHERE id BETWEEN ? AND ?', 0, total - 1);
    const r = readRange(db, 'SELECT * FROM results WHERE mutant_id BETWEEN ? AND ?', 0, total - 1);
    const ph = readRange(db, 'SELECT * FROM phenotypes WHERE id BETWEEN ? AND ?', 1, total * Math.max(1, nAssays) + 1);
    const phenotypeIds = new Set(ph.rows.map((x) => Number(x.id)));
    const perMutant = new Map<number, Row[]>();
    for (const x of r.rows) {
      const id = Number(x.mutant_id);
      let l = perMutant.get(id);
      if (!l) perMutant.set(id, (l = []));
      l.push(x);
    }
    const keptIds = new Set<number>();
    let requeued = 0;
    for (const x of m.rows) {
      if (Number(x.done) !== 1) continue;
      const rs = perMutant.get(Number(x.id)) ?? [];
      if (rs.length === nAssays && rs.every((y) => y.phenotype_id === null || phenotypeIds.has(Number(y.phenotype_id)))) keptIds.add(Number(x.id));
      else requeued++;
    }
    const usedPhenotypes = new Set(r.rows.filter((x) => keptIds.has(Number(x.mutant_id)) && x.phenotype_id !== null).map((x) => Number(x.phenotype_id)));
    return {
      screen, small, parked,
      mutants: m.rows,
      results: r.rows.filter((x) => keptIds.has(Number(x.mutant_id))),
      phenotypes: ph.rows.filter((x) => usedPhenotypes.has(Number(x.id))),
      keptIds,
      salvage: {
        totalMutants: total, kept: keptIds.size, requeued, lostMutantRows: total - m.rows.length,
        // results of a damaged range of mutants, counted per assay; phenotypes only where a kept mutant needed one
        lostResults: r.lost.length * nAssays, lostPhenotypes: ph.lost.length, problems,
      },
    };
  } finally {
    db.close();
  }
}

/** What `repair` would keep, without writing anything. */
export function survey(path: string): Salvage {
  return read(path).salvage;
}

export function repair(path: string, out: string): Salvage {
  if (existsSync(out)) fail('the output file exists', out, 'give --out a new file name (repair never overwrites)');
  const x = read(path);
  const db = new Database(out);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    const insert = (table: string, rows: Row[]): void => {
      if (!rows.length) return;
      const cols = Object.keys(rows[0]);
      const st = db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      for (const r of rows) st.run(...cols.map((c) => r[c]));
    };
    db.transaction(() => {
      insert('screen', [{ ...x.screen, schema_version: SCHEMA_VERSION }]);
      insert('assays', x.small.assays);
      insert('baselines', x.small.baselines);
      insert('targets', x.small.targets);
      insert('parked', x.parked);
      insert('mutants', x.mutants.map((m) => ({ ...m, done: x.keptIds.has(Number(m.id)) ? 1 : 0 })));
      insert('phenotypes', x.phenotypes);
      insert('results', x.results);
    })();
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') fail(`the repaired store fails SQLite's integrity check (${check})`, out, 'this is a bug in mutascan; please report it');
  } finally {
    db.close();
  }
  return x.salvage;
}
