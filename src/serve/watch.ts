/**
 * A store watched while runs write it: the report's data kept in memory and brought up to date by polling, so
 * that the live page and its events come from the same arrays the static report is built from.
 *
 * Polling reads only what changed: SQLite's data_version says whether any other connection committed; new
 * results are the mutants of the commits logged since (the store's done_log), or, in a store without the log
 * (written by mutascan before 0.3.0), those done above the highest one seen done and the holes below it (see
 * `holes`); new phenotypes have ids above the last one seen. Each poll reads in one transaction, so a result and its
 * phenotype arrive together. The connection is read-only: watching never writes a store.
 */
import type { Store } from '../store/store.js';
import { applyResult, loadReportData, readPhenotypes, RESULT_SELECT, type ReportData, type ResultRow } from '../report/data.js';
import { describeRun, isAlive, openRuns } from '../store/runs.js';
import { readParked, readWorkers, type ParkedBatch } from '../store/summary.js';
import { stylerFor } from '../phenotypes/families.js';
import { pagePhenotype, type PagePhenotype } from '../report/page.js';

/** One process filling the store: a local run, a coordinator, or a worker of a distributed run. */
export interface LiveRun {
  name: string;
  kind: 'local' | 'coordinator' | 'worker';
  alive: boolean;
  /** mutants it has stored (a coordinator: all its workers') */
  mutants: number;
  /** mutants per second over the last minute, when measured */
  rate: number | null;
}

export interface LiveProgress {
  done: number;
  total: number;
  /** mutants per second over the last minute (null until two looks apart) */
  rate: number | null;
  /** seconds left at that rate */
  eta: number | null;
  runs: LiveRun[];
  parked: ParkedBatch[];
  /** Unix ms of this look */
  at: number;
}

export interface LiveUpdate {
  /** increases by one per update that carries results; a page asks for the updates after the one it holds */
  seq: number;
  /** base64 of an Int32Array of (assay, kind, target, unit, outcome) quintuples, in the page's indices */
  changes: string;
  phenotypes: Record<number, PagePhenotype>;
  progress: LiveProgress;
}

const WINDOW_MS = 60_000;

interface Sample {
  at: number;
  counts: Map<string, number>;
}

/** How often a watch with the done_log also counts the done mutants (see poll), by default. */
const RECOUNT_MS = 10_000;

export class StoreWatch {
  readonly data: ReportData;
  /** the last update's seq: the page built now holds everything up to it */
  seq = 0;
  private readonly styler: ((ids: readonly number[], text: string) => { styles: string[] })[];
  private lastPhenotype = 0;
  /**
   * Runs finish mutants roughly in plan order, so what a poll must look at is small: the mutants above the
   * highest one seen done, and the few below it still pending (the holes). Each poll reads those, not the screen.
   */
  private high = 0;
  private holes: number[] = [];
  /**
   * The last done_log row read (schema.ts DONE_LOG), or −1 where the store has no log: with one, each poll reads the
   * commits since, whatever order the runs take (`run --order predicted` finishes mutants all over the plan).
   */
  private logSeq = -1;
  private lastRecount = 0;
  /** commits seen since the last recount */
  private unverified = false;
  private dataVersion = -1;
  /** stored mutants per run id (from their claims), for the per-run throughput of local runs */
  private readonly perRun = new Map<number, number>();
  private samples: Sample[] = [];
  private progressNow: LiveProgress;

  /** `recountMs`: how often to count the done mutants besides reading the log (see poll) */
  constructor(
    readonly store: Store,
    private readonly recountMs = RECOUNT_MS,
  ) {
    const db = store.db;
    const assays = store.assays();
    this.styler = assays.map((a) => (a.type === 'generate' ? stylerFor(a) : () => ({ styles: [] })));
    let data!: ReportData;
    // read before the snapshot: a commit landing in between makes the first poll look again (polls read state,
    // so looking twice costs nothing, while missing a run's last commit would leave the page short of it)
    this.dataVersion = db.pragma('data_version', { simple: true }) as number;
    db.transaction(() => {
      data = loadReportData(store);
      if (store.hasTable('done_log')) this.logSeq = (db.prepare('SELECT max(seq) FROM done_log').pluck().get() as number | null) ?? 0;
      if (hasColumn(store, 'mutants', 'claim'))
        for (const [run, n] of db.prepare('SELECT claim, count(*) FROM mutants WHERE id > 0 AND done = 1 AND claim IS NOT NULL GROUP BY claim').raw().all() as [number, number][]) this.perRun.set(run, n);
    })();
    this.data = data;
    const mask = data.index.done;
    for (let m = 1; m < mask.length; m++) if (mask[m]) this.high = m;
    for (let m = 1; m < this.high; m++) if (!mask[m] && data.index.target[m] >= 0) this.holes.push(m);
    for (const id of data.phenotypes.keys()) this.lastPhenotype = Math.max(this.lastPhenotype, id);
    this.progressNow = this.look();
  }

  /** The page's phenotype record: the report's fields and its styles. */
  pagePhenotypeOf(id: number): PagePhenotype {
    const p = this.data.phenotypes.get(id)!;
    const ai = this.data.index.assay.get(p.assay) ?? 0;
    return pagePhenotype(p, { styles: this.styler[ai](p.ids, p.text).styles, cluster: null });
  }

  get progress(): LiveProgress {
    return this.progressNow;
  }

  /** Reads what was committed since the last poll; an update with seq when results arrived, else null. */
  poll(): LiveUpdate | null {
    const db = this.store.db;
    const version = db.pragma('data_version', { simple: true }) as number;
    let changes: number[] = [];
    const fresh: number[] = [];
    if (version !== this.dataVersion) this.unverified = true;
    const recount = this.logSeq >= 0 && this.unverified && performance.now() - this.lastRecount >= this.recountMs;
    if (version !== this.dataVersion || recount) {
      this.dataVersion = version;
      db.transaction(() => {
        const claimed = hasColumn(this.store, 'mutants', 'claim');
        const one = db.prepare(`SELECT done, ${claimed ? 'claim' : 'NULL'} FROM mutants WHERE id = ?`).raw();
        const above = db.prepare(`SELECT id, ${claimed ? 'claim' : 'NULL'} FROM mutants WHERE done = 1 AND id > ?`).raw();
        const result = db.prepare(`${RESULT_SELECT} WHERE mutant_id = ?`).raw();
        const mask = this.data.index.done;
        const newIds: number[] = [];
        const found = (id: number, claim: number | null) => {
          mask[id] = 1;
          newIds.push(id);
          if (claim !== null) this.perRun.set(claim, (this.perRun.get(claim) ?? 0) + 1);
        };
        if (this.logSeq < 0 && this.store.hasTable('done_log')) this.logSeq = 0; // a run of 0.3.0 resumed an older store
        if (this.logSeq >= 0) {
          // the commits since the last poll, from the log
          for (const [seq, blob] of db.prepare('SELECT seq, ordinals FROM done_log WHERE seq > ? ORDER BY seq').raw().iterate(this.logSeq) as Iterable<[number, Buffer]>) {
            const ids = new Int32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
            for (const id of ids) if (id > 0 && id < mask.length && !mask[id]) found(id, (one.get(id) as [number, number | null])[1]);
            this.logSeq = seq;
          }
          // A writer that does not log (mutascan before 0.3.0 sharing the store, a script) is caught by the count,
          // taken at most every recountMs after commits (it reads the done index, tens of ms on a 7B screen's
          // store), also on a later idle poll if the last commits came sooner: then one full look.
          if (recount) {
            this.lastRecount = performance.now();
            this.unverified = false;
            const done = db.prepare('SELECT count(*) FROM mutants WHERE done = 1 AND id > 0').pluck().get() as number;
            if (done > this.data.done + newIds.length)
              for (const [id, claim] of db.prepare(`SELECT id, ${claimed ? 'claim' : 'NULL'} FROM mutants WHERE done = 1 AND id > 0`).raw().iterate() as Iterable<[number, number | null]>)
                if (id < mask.length && !mask[id]) found(id, claim);
          }
        } else {
          // the holes left behind (mutants in flight elsewhere, parked batches), each by its key
          const holes: number[] = [];
          for (const id of this.holes) {
            const [done, claim] = one.get(id) as [number, number | null];
            if (done) found(id, claim);
            else holes.push(id);
          }
          // and everything past the furthest mutant seen done
          const high = this.high;
          for (const [id, claim] of above.iterate(high) as Iterable<[number, number | null]>) {
            if (id >= mask.length) break;
            found(id, claim);
            this.high = id;
          }
          for (let id = high + 1; id < this.high; id++) if (!mask[id]) holes.push(id);
          this.holes = holes;
        }
        for (const p of readPhenotypes(this.store, this.lastPhenotype)) {
          this.data.phenotypes.set(p.id, p);
          this.lastPhenotype = p.id;
          fresh.push(p.id);
        }
        for (const id of newIds)
          for (const r of result.all(id) as ResultRow[]) {
            const placed = applyResult(this.data, this.data.index, r);
            if (!placed) continue;
            changes.push(placed.assay, placed.kind, placed.target, placed.unit, placed.outcome);
            if (placed.outcome > 0) {
              const p = this.data.phenotypes.get(placed.outcome);
              if (p) p.count++;
            }
          }
        this.data.done += newIds.length;
      })();
    }
    this.progressNow = this.look();
    if (changes.length === 0 && fresh.length === 0) return null;
    const update: LiveUpdate = {
      seq: ++this.seq,
      changes: Buffer.from(new Int32Array(changes).buffer).toString('base64'),
      // a new phenotype's mutants are all among this update's changes, which the page counts as it places them
      phenotypes: Object.fromEntries(fresh.map((id) => [id, { ...this.pagePhenotypeOf(id), count: 0 }])),
      progress: this.progressNow,
    };
    changes = [];
    return update;
  }

  /** Progress, rates and the processes filling the store, as of now. */
  private look(): LiveProgress {
    const at = Date.now();
    const runs: LiveRun[] = [];
    const counts = new Map<string, number>([['', this.data.done]]);
    for (const r of openRuns(this.store)) {
      const name = `${r.kind} run, ${describeRun(r)}`;
      runs.push({ name, kind: r.kind, alive: isAlive(r, at), mutants: this.perRun.get(r.id) ?? 0, rate: null });
      counts.set(name, this.perRun.get(r.id) ?? 0);
    }
    for (const w of readWorkers(this.store)) {
      // a worker that has returned nothing for ten minutes is shown as gone (it may be evaluating a long batch)
      runs.push({ name: `worker ${w.name}`, kind: 'worker', alive: at - w.lastMs < 10 * 60_000, mutants: w.mutants, rate: null });
      counts.set(`worker ${w.name}`, w.mutants);
    }
    const parked = readParked(this.store);
    this.samples.push({ at, counts });
    while (this.samples.length > 2 && at - this.samples[1].at >= WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const span = (at - first.at) / 1000;
    const rateOf = (name: string): number | null => (span >= 1 && first.counts.has(name) ? (counts.get(name)! - first.counts.get(name)!) / span : null);
    for (const r of runs) r.rate = rateOf(r.name);
    const rate = rateOf('');
    const left = this.data.total - this.data.done;
    return { done: this.data.done, total: this.data.total, rate, eta: left === 0 ? 0 : rate ? left / rate : null, runs, parked, at };
  }
}

function hasColumn(store: Store, table: string, column: string): boolean {
  return (store.db.prepare(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`).pluck().get(table, column) as number) > 0;
}

