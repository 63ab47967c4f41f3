/**
 * The processes filling one store. A local run registers itself and claims the mutants it evaluates, so a
 * second `mutascan run` on the same store joins the first (each evaluates disjoint mutants) instead of
 * repeating its work; a distributed coordinator registers too, and a second run next to it is refused (its
 * workers are the way to add machines). A run that died leaves claims behind; the next run that looks finds
 * its process gone and takes them over.
 *
 * Alive means: on this host, the same process (pid, boot and start time) still exists; on another host (a
 * store on a shared file system), a heartbeat within STALE_MS.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { VERSION } from '../version.js';
import type { Store } from './store.js';

export type RunKind = 'local' | 'coordinator';

export interface RunRecord {
  id: number;
  kind: RunKind;
  host: string;
  pid: number;
  processKey: string;
  version: string;
  startedAt: string;
  heartbeatMs: number;
}

/** A run on another host that has not written a heartbeat for this long is taken for dead. */
export const STALE_MS = 10 * 60_000;
const HEARTBEAT_MS = 30_000;

/** Boot id and start time (clock ticks since boot) of a process, or '' where /proc cannot tell. */
function processKey(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `${boot}:${start}`;
  } catch {
    return '';
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isAlive(r: RunRecord, now = Date.now()): boolean {
  if (r.host !== hostname()) return now - r.heartbeatMs < STALE_MS;
  if (!processExists(r.pid)) return false;
  return r.processKey === '' || processKey(r.pid) === r.processKey;
}

export function describeRun(r: RunRecord): string {
  return `pid ${r.pid} on ${r.host}, mutascan ${r.version}, started ${r.startedAt}`;
}

function rowToRecord(x: Record<string, unknown>): RunRecord {
  return {
    id: Number(x.id), kind: x.kind as RunKind, host: String(x.host), pid: Number(x.pid), processKey: String(x.process_key), version: String(x.mutascan_version),
    startedAt: String(x.started_at), heartbeatMs: Number(x.heartbeat_ms),
  };
}

/** Runs registered and not ended, alive or not (read-only: status shows them). */
export function openRuns(store: Store): RunRecord[] {
  if (!store.hasTable('runs')) return [];
  return (store.db.prepare('SELECT * FROM runs WHERE ended_at IS NULL ORDER BY id').all() as Record<string, unknown>[]).map(rowToRecord);
}

export class RunRegistration {
  private readonly timer: NodeJS.Timeout;
  private readonly claimOne;
  private ended = false;

  private constructor(
    private readonly store: Store,
    readonly id: number,
  ) {
    this.claimOne = store.db.prepare('UPDATE mutants SET claim = ? WHERE id = ? AND done = 0 AND claim IS NULL');
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /**
   * Registers this process. Returns the other live runs (the caller decides whether to join or refuse) and
   * how many mutants it freed from runs found dead.
   */
  static begin(store: Store, kind: RunKind): { run: RunRegistration; others: RunRecord[]; freed: number; dead: RunRecord[] } {
    const db = store.db;
    return db.transaction(() => {
      const { live, dead, freed } = reap(store);
      const now = Date.now();
      const id = Number(
        db
          .prepare('INSERT INTO runs (kind, host, pid, process_key, mutascan_version, started_at, heartbeat_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(kind, hostname(), process.pid, processKey(process.pid), VERSION, new Date(now).toISOString(), now).lastInsertRowid,
      );
      return { run: new RunRegistration(store, id), others: live, freed, dead };
    }).immediate();
  }

  /** The ordinals of `ordinals` this run now holds (others are done or held by another run). */
  claim(ordinals: number[]): number[] {
    const got: number[] = [];
    this.store.db.transaction(() => {
      for (const o of ordinals) if (this.claimOne.run(this.id, o).changes) got.push(o);
    }).immediate();
    return got;
  }

  /**
   * Once this run's list is exhausted: frees the claims of runs that died meanwhile and returns the mutants
   * nobody holds, and the live runs still holding some.
   */
  leftovers(): { free: number[]; freed: number; holders: { run: RunRecord; mutants: number }[] } {
    const db = this.store.db;
    return db.transaction(() => {
      const { live, freed } = reap(this.store);
      const free = db.prepare('SELECT id FROM mutants WHERE done = 0 AND claim IS NULL ORDER BY id').pluck().all() as number[];
      const count = db.prepare('SELECT count(*) FROM mutants WHERE done = 0 AND claim = ?').pluck();
      const holders = live.filter((r) => r.id !== this.id).map((run) => ({ run, mutants: count.get(run.id) as number })).filter((h) => h.mutants > 0);
      return { free, freed, holders };
    }).immediate();
  }

  heartbeat(): void {
    if (this.ended) return;
    try {
      this.store.db.prepare('UPDATE runs SET heartbeat_ms = ? WHERE id = ?').run(Date.now(), this.id);
    } catch {
      // busy or full: the next beat tries again, and on this host liveness is the process itself
    }
  }

  /** Gives back what it holds and not done, and marks the run ended. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    const db = this.store.db;
    db.transaction(() => {
      db.prepare('UPDATE mutants SET claim = NULL WHERE claim = ? AND done = 0').run(this.id);
      db.prepare('UPDATE runs SET ended_at = ? WHERE id = ?').run(new Date().toISOString(), this.id);
    })();
  }
}

/** Marks runs found dead as ended and frees their claims (inside the caller's transaction). */
function reap(store: Store): { live: RunRecord[]; dead: RunRecord[]; freed: number } {
  const db = store.db;
  const open = openRuns(store);
  const live = open.filter((r) => isAlive(r));
  const dead = open.filter((r) => !live.includes(r));
  let freed = 0;
  const release = db.prepare('UPDATE mutants SET claim = NULL WHERE claim = ? AND done = 0');
  const endRun = db.prepare('UPDATE runs SET ended_at = ? WHERE id = ?');
  for (const r of dead) {
    freed += release.run(r.id).changes;
    endRun.run(`found dead ${new Date().toISOString()}`, r.id);
  }
  return { live, dead, freed };
}
