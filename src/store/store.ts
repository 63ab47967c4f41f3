import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail } from '../errors.js';
import { canMigrate, damaged, guardDamage, migrate, refuseOrphanLog, refuseVersion, writeError } from './health.js';
import type { Outcome } from '../assays/assay.js';
import { DONE_LOG, NUMERICS, PAIRS, SCHEMA, SCHEMA_VERSION } from './schema.js';
import { VERSION } from '../version.js';

type DB = Database.Database;

export interface ScreenIdentity {
  specYaml: string;
  specHash: string;
  modelPath: string;
  /** the tokenizer file the screen named (llama2.c models), so that later commands load the model as the run did */
  tokenizerPath?: string;
  modelFingerprint: string;
  backend: string;
  /** what the results' bits depend on (Backend.numerics); a store of other numerics is refused */
  numerics?: string;
  totalMutants: number;
  /** the oldest store schema this screen can continue, and why (a store of an older one is refused, unchanged) */
  resumableFrom?: { schema: number; why: string };
}

/** What to do when two machines' numerics differ (the strings of nativeNumerics). */
export function numericsHint(want: string, have: string): string {
  if (want.includes('bf16-dp') && have.includes('bf16-amx')) return 'run this machine with MUTASCAN_ISA=avx512bf16 (it has AMX, whose bf16 products sum in another order)';
  if (want.includes('bf16-amx') && have.includes('bf16-dp')) return 'the screen was computed on AMX; continue it on AMX machines, or run every machine with MUTASCAN_ISA=avx512bf16 (or lower) from the start';
  if (want.includes('library') || have.includes('library')) return 'use the same MUTASCAN_KERNEL on every machine (the default, exact, gives the same bits on every CPU level)';
  if (want.includes('ops-scalar') || have.includes('ops-scalar')) return 'use machines with AVX2 (the portable level computes attention and SwiGLU with other bits)';
  return 'use the same backend and settings on every machine';
}

export interface AssayRow {
  name: string;
  type: string;
  settingsJson: string;
  /** a generate assay's prompt ids; for choice and likelihood assays, the ids of each question or text */
  promptIds: number[] | number[][];
  baseline: { ids: number[]; text: string };
}

export interface TargetRow {
  short: string;
  tensor: string;
  layer: number | null;
  matrix: string;
  rows: number;
  cols: number;
  max: number;
  min: number;
  /** what a mutant's (row, col) index: the rows as Hugging Face stores them, or llama2.c's pair order of q/k (model/layout.ts) */
  layout: string;
}

export interface MutantRow {
  id: number;
  key: string;
  target: string | null;
  row: number | null;
  col: number | null;
  rows: number | null;
  cols: number | null;
  kind: string;
  value: number | null;
}

export interface MutantResult {
  ordinal: number;
  /** in the order of the store's assays */
  outcomes: Outcome[];
}

function openDb(path: string, readonly: boolean): DB {
  let db: DB;
  try {
    // runs sharing a store wait for each other's commits (a claim or a batch) rather than fail after 5 s
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: 60_000 });
  } catch (e) {
    const msg = (e as Error).message;
    if (readonly) fail(`cannot open the store: ${msg}`, path, 'check the path');
    const dir = dirname(path);
    if (!existsSync(dir)) fail(`cannot create the store: the folder ${dir} does not exist`, path, 'create the folder or choose another --store path');
    fail(`cannot create the store: ${msg}`, path, 'choose a --store path in a folder you can write to');
  }
  // A store may come from someone else: views and triggers in its schema may not call functions that have
  // effects beyond it (SQLite's advice for databases from strangers).
  try {
    db.pragma('trusted_schema = OFF');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (e) {
    db.close();
    fail(`this file is not an SQLite database (${(e as Error).message}): it is not a store, or its first page is damaged beyond repair`, path, 'give --store a new file name, or the store of this screen');
  }
  return db;
}

/** One screen's results; a mutant's results and its done mark are written in one transaction. */
export class Store {
  private readonly phenotypeIds = new Map<string, number>();
  private assayIds: number[] = [];

  private constructor(
    readonly db: DB,
    readonly path: string,
  ) {}

  /** Opens an existing store read-only (status, export, report); an older schema is read as it is. */
  static open(path: string): Store {
    refuseOrphanLog(path);
    if (!existsSync(path)) fail('no such store', path, 'run `mutascan run screen.yaml --store FILE` first');
    const db = openDb(path, true);
    const s = new Store(db, path);
    guardDamage(path, () => {
      if (!s.hasScreen()) {
        const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
        if (tables === 0) fail('the store is empty: a run was stopped before it had created the screen', path, 'run the screen again with this --store (nothing was lost)');
        fail('this SQLite file is not a mutascan store (it has no screen table)', path);
      }
      const version = db.prepare('SELECT schema_version FROM screen WHERE id = 1').pluck().get() as number;
      if (version > SCHEMA_VERSION || version < 2) {
        db.close();
        refuseVersion(path, version);
      }
      s.assayIds = s.assays().map((a) => a.id);
    });
    return s;
  }

  /**
   * Opens the store for running `identity`: creates it, or resumes it when it holds the same screen.
   * A store of another screen file or model is refused, and nothing in it is changed.
   */
  static forRun(path: string, identity: ScreenIdentity, init: () => { assays: AssayRow[]; targets: TargetRow[]; mutants: Iterable<MutantRow> }): { store: Store; resumed: boolean; migratedFrom?: number } {
    refuseOrphanLog(path);
    const existed = existsSync(path);
    const db = openDb(path, false);
    const s = new Store(db, path);
    if (existed && guardDamage(path, () => s.hasScreen())) {
      const row = db.prepare('SELECT spec_hash, model_fingerprint, backend, schema_version FROM screen WHERE id = 1').get() as { spec_hash: string; model_fingerprint: string; backend: string; schema_version: number } | undefined;
      const refuse = (what: string, hint: string): never => {
        db.close();
        return fail(what, path, hint);
      };
      if (!row) return refuse('the store has its tables but no screen: its creation was interrupted (by mutascan before 0.2.0), so it holds no result', 'delete the file and run again');
      if (row.schema_version !== SCHEMA_VERSION && !canMigrate(row.schema_version)) {
        db.close();
        refuseVersion(path, row.schema_version);
      }
      if (identity.resumableFrom && row.schema_version < identity.resumableFrom.schema)
        refuse(`the store was written with schema ${row.schema_version}, and ${identity.resumableFrom.why}`, 'finish it with the mutascan version that began it, or run the screen into a new store');
      if (row.spec_hash !== identity.specHash) refuse('the store was made from another screen file (its targets, unit, kinds or assays differ)', 'use a new --store file for this screen, or run the screen file that made this store');
      if (row.model_fingerprint !== identity.modelFingerprint) refuse(`the store was made with another model (fingerprint ${row.model_fingerprint}, this one is ${identity.modelFingerprint})`, 'point the screen at the model the store was made with, or use a new --store file');
      if (row.backend !== identity.backend) refuse(`the store's results were computed with the ${row.backend} backend, not ${identity.backend}`, `resume with --backend ${row.backend} so every result comes from the same arithmetic`);
      if (identity.numerics) {
        const had = s.hasTable('numerics') ? (db.prepare('SELECT numerics FROM numerics WHERE id = 1').pluck().get() as string | undefined) : undefined;
        if (had !== undefined && had !== identity.numerics)
          refuse(
            `the store's results were computed with other numerics (${had}) than this machine computes (${identity.numerics})`,
            `${numericsHint(had, identity.numerics)}; \`mutascan info\` shows a machine's`,
          );
      }
      // A damaged page must stop the run here, before anything is written next to it.
      try {
        s.quickCheck();
      } catch (e) {
        db.close();
        throw e;
      }
      db.pragma('journal_mode = WAL');
      const migratedFrom = row.schema_version !== SCHEMA_VERSION ? row.schema_version : undefined;
      if (migratedFrom !== undefined) {
        migrate(db, migratedFrom);
        const set = db.prepare('UPDATE targets SET layout = ? WHERE short = ? AND layout IS NULL');
        db.transaction(() => {
          for (const t of init().targets) set.run(t.layout, t.short);
          db.prepare('UPDATE screen SET tokenizer_path = ? WHERE tokenizer_path IS NULL').run(identity.tokenizerPath ?? null);
        })();
      }
      // `mutascan repair` leaves out mutant rows it could not read: the plan makes them again, pending
      if ((db.prepare('SELECT count(*) FROM mutants').pluck().get() as number) < identity.totalMutants) {
        const { mutants } = init();
        const tid = new Map((db.prepare('SELECT short, id FROM targets').all() as { short: string; id: number }[]).map((t) => [t.short, t.id]));
        const im = db.prepare('INSERT OR IGNORE INTO mutants (id, key, target_id, row, col, rows, cols, kind, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
        db.transaction(() => {
          for (const m of mutants) im.run(m.id, m.key, m.target ? tid.get(m.target) : null, m.row, m.col, m.rows, m.cols, m.kind, m.value);
        })();
      }
      db.exec(DONE_LOG);
      db.exec(NUMERICS);
      if (identity.numerics) db.prepare('INSERT OR IGNORE INTO numerics VALUES (1, ?, ?)').run(identity.numerics, new Date().toISOString());
      s.assayIds = s.assays().map((a) => a.id);
      return { store: s, resumed: true, migratedFrom };
    }
    if (existed) {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      if (tables.n > 0) {
        db.close();
        fail('this SQLite file is not a mutascan store', path, 'give --store a new file name');
      }
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const data = init();
    // The tables and the plan in one transaction: a process killed while creating the store leaves an empty file,
    // which the next run creates again, never tables without their screen.
    db.transaction(() => {
      db.exec(SCHEMA);
      db.prepare('INSERT INTO screen VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(SCHEMA_VERSION, identity.specYaml, identity.specHash, identity.modelPath, identity.modelFingerprint, identity.backend, identity.totalMutants, new Date().toISOString(), VERSION, identity.tokenizerPath ?? null);
      if (identity.numerics) db.prepare('INSERT INTO numerics VALUES (1, ?, ?)').run(identity.numerics, new Date().toISOString());
      const ia = db.prepare('INSERT INTO assays (id, name, type, settings_json, prompt_ids_json) VALUES (?, ?, ?, ?, ?)');
      const ib = db.prepare('INSERT INTO baselines VALUES (?, ?, ?)');
      data.assays.forEach((a, i) => {
        ia.run(i + 1, a.name, a.type, a.settingsJson, JSON.stringify(a.promptIds));
        ib.run(i + 1, JSON.stringify(a.baseline.ids), a.baseline.text);
      });
      const it = db.prepare('INSERT INTO targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      const tid = new Map<string, number>();
      data.targets.forEach((t, i) => {
        it.run(i + 1, t.short, t.tensor, t.layer, t.matrix, t.rows, t.cols, t.max, t.min, t.layout);
        tid.set(t.short, i + 1);
      });
      const im = db.prepare('INSERT INTO mutants (id, key, target_id, row, col, rows, cols, kind, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const m of data.mutants) im.run(m.id, m.key, m.target ? tid.get(m.target) : null, m.row, m.col, m.rows, m.cols, m.kind, m.value);
    })();
    s.assayIds = s.assays().map((a) => a.id);
    return { store: s, resumed: false };
  }

  private doneLog?: boolean;
  /** whether the store has the done_log table (every store a run of 0.3.0 or later has opened) */
  private hasDoneLog(): boolean {
    return (this.doneLog ??= this.hasTable('done_log'));
  }

  /** Whether the store has this table: those added after schema 3 are created where missing, so readers ask. */
  hasTable(name: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
  }

  private hasScreen(): boolean {
    return this.hasTable('screen');
  }

  /** SQLite's quick check of every page (not of index contents): a damaged store is a StoreDamaged with its first problem. */
  quickCheck(): void {
    const problems = guardDamage(this.path, () => this.db.pragma('quick_check(5)', { simple: false }) as { quick_check: string }[]);
    const said = problems.map((p) => p.quick_check.replace(/\*\*\* in database \w+ \*\*\*\s*/g, '').replace(/\s*\n\s*/g, '; ')).filter(Boolean);
    if (said.length && said[0] !== 'ok') damaged(this.path, `SQLite's quick check: ${said.join('; ')}`);
  }

  screen(): ScreenIdentity & { createdAt: string; version: string } {
    const r = this.db.prepare('SELECT * FROM screen WHERE id = 1').get() as Record<string, string | number> | undefined;
    if (!r) damaged(this.path, 'its screen table has no row: the page that held it is lost, or the table was emptied by hand');
    return {
      specYaml: String(r.spec_yaml), specHash: String(r.spec_hash), modelPath: String(r.model_path), modelFingerprint: String(r.model_fingerprint),
      backend: String(r.backend), totalMutants: Number(r.total_mutants), createdAt: String(r.created_at), version: String(r.mutascan_version),
      ...(typeof r.tokenizer_path === 'string' ? { tokenizerPath: r.tokenizer_path } : {}),
    };
  }

  /** The numerics the results were computed with, where recorded (stores of 0.3.0 and later). */
  numerics(): string | undefined {
    return this.hasTable('numerics') ? (this.db.prepare('SELECT numerics FROM numerics WHERE id = 1').pluck().get() as string | undefined) : undefined;
  }

  assays(): (AssayRow & { id: number })[] {
    const rows = this.db.prepare('SELECT a.id, a.name, a.type, a.settings_json, a.prompt_ids_json, b.ids_json, b.text FROM assays a JOIN baselines b ON b.assay_id = a.id ORDER BY a.id').all() as Record<string, string | number>[];
    return rows.map((r) => ({
      id: Number(r.id), name: String(r.name), type: String(r.type), settingsJson: String(r.settings_json), promptIds: JSON.parse(String(r.prompt_ids_json)),
      baseline: { ids: JSON.parse(String(r.ids_json)), text: String(r.text) },
    }));
  }

  /** Ordinals of the mutants not done yet, in plan order. */
  pending(): number[] {
    return (this.db.prepare('SELECT id FROM mutants WHERE done = 0 ORDER BY id').pluck().all() as number[]);
  }

  countDone(): number {
    return this.db.prepare('SELECT count(*) FROM mutants WHERE done = 1').pluck().get() as number;
  }

  /** Writes a batch of mutants' results; each mutant is stored exactly once (a re-delivered one is skipped). Returns how many it stored. */
  save(batch: MutantResult[]): number {
    const db = this.db;
    const insR = db.prepare('INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // marks the mutant done unless it already was (then its results are stored and this copy is skipped)
    const markDone = db.prepare('UPDATE mutants SET done = 1 WHERE id = ? AND done = 0');
    const logDone = this.hasDoneLog() ? db.prepare('INSERT INTO done_log (ordinals) VALUES (?)') : undefined;
    return this.writeOutcomes(() => {
      let stored = 0;
      const marked: number[] = [];
      for (const m of batch) {
        if (markDone.run(m.ordinal).changes === 0) continue;
        stored++;
        marked.push(m.ordinal);
        m.outcomes.forEach((o, i) => this.insertOutcome(insR, m.ordinal, this.assayIds[i], o));
      }
      if (logDone && marked.length) logDone.run(Buffer.from(Int32Array.from(marked).buffer));
      return stored;
    });
  }

  /** Makes the pair tables where missing (a store written before pairs existed gets them on its first pair). */
  ensurePairs(): void {
    this.db.exec(PAIRS);
  }

  /** Writes a batch of pairs' results, each pair once, as `save` does for singles. */
  savePairs(batch: { pair: number; outcomes: Outcome[] }[]): number {
    const insR = this.db.prepare('INSERT INTO pair_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const markDone = this.db.prepare('UPDATE pairs SET done = 1 WHERE id = ? AND done = 0');
    return this.writeOutcomes(() => {
      let stored = 0;
      for (const p of batch) {
        if (markDone.run(p.pair).changes === 0) continue;
        stored++;
        p.outcomes.forEach((o, i) => this.insertOutcome(insR, p.pair, this.assayIds[i], o));
      }
      return stored;
    });
  }

  /** phenotype cache keys inserted by the transaction in progress (forgotten if it rolls back) */
  private fresh: string[] = [];
  private insP?: Database.Statement;

  private insertOutcome(insR: Database.Statement, id: number, assayId: number, o: Outcome): void {
    let pid: number | null = null;
    if (o.phenotype) {
      const k = `${assayId}:${o.phenotype.key}`;
      pid = this.phenotypeIds.get(k) ?? null;
      if (pid === null) {
        this.insP ??= this.db.prepare('INSERT INTO phenotypes (assay_id, hash, ids_json, text, diverge_at, diverge_end, baseline_end) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (assay_id, hash) DO UPDATE SET hash = excluded.hash RETURNING id').pluck();
        pid = this.insP.get(assayId, o.phenotype.key, JSON.stringify(o.phenotype.ids), o.phenotype.text, o.phenotype.divergeAt, o.phenotype.divergeEnd, o.phenotype.baselineEnd) as number;
        this.phenotypeIds.set(k, pid);
        this.fresh.push(k);
      }
    }
    const x = o.metrics ?? {};
    insR.run(id, assayId, o.silent ? 1 : 0, pid, o.firstDivergence, o.similarity, o.destructive ? 1 : 0, o.nTokens, o.tie ? 1 : 0,
      x.accuracy ?? null, x.accuracyChange ?? null, x.klMean ?? null, x.klMax ?? null, x.loglikChange ?? null, x.argmaxChanges ?? null);
  }

  /** Runs `fill` in one transaction; a failed write is the store-write error, with the phenotype cache put back. */
  private writeOutcomes(fill: () => number): number {
    this.fresh = [];
    try {
      return this.db.transaction(fill)();
    } catch (e) {
      // rolled back: the phenotype rows it inserted are gone, so are their cached ids
      for (const k of this.fresh) this.phenotypeIds.delete(k);
      throw writeError(this.path, e, () => this.bytesStillNeeded());
    } finally {
      this.fresh = [];
    }
  }

  /** The rest of the screen's results at the size per mutant so far. */
  bytesStillNeeded(): number {
    // what results take: their tables and the phenotype index (dbstat), not the plan's mutants table
    const size = this.db.prepare("SELECT sum(pgsize) FROM dbstat WHERE name IN ('results', 'phenotypes', 'sqlite_autoindex_phenotypes_1')").pluck().get() as number;
    const done = Math.max(1, this.countDone());
    const pending = this.db.prepare('SELECT count(*) FROM mutants WHERE done = 0').pluck().get() as number;
    return (size / done) * pending;
  }

  close(): void {
    this.db.close();
  }
}
