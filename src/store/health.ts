/**
 * What can be wrong with a store file, said in words: a damaged page, a log left without its database, a
 * schema from another mutascan, a full disk. Every message names the store and what to do; results already
 * committed are never touched by these checks.
 */
import { existsSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { MutascanError, fail } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { freeBytes, mib } from '../util/output.js';

const sqliteCode = (e: unknown): string => String((e as { code?: unknown })?.code ?? '');

export function isDamage(e: unknown): boolean {
  const c = sqliteCode(e);
  return c.startsWith('SQLITE_CORRUPT') || c === 'SQLITE_NOTADB';
}

/** A store SQLite calls malformed: `status` answers it with what can still be read. */
export class StoreDamaged extends MutascanError {
  constructor(
    path: string,
    /** what SQLite said */
    readonly detail: string,
  ) {
    super(
      `the store is damaged (${detail})`,
      path,
      `\`mutascan status ${path}\` says what can still be read; \`mutascan repair ${path} --out fixed.sqlite\` keeps every readable result and re-queues the rest`,
    );
  }

  /** Whether `e` is SQLite saying a file is malformed (what this error is made from, where the store is known). */
  static isCause(e: unknown): boolean {
    return isDamage(e);
  }
}

export function damaged(path: string, detail: string): never {
  throw new StoreDamaged(path, detail);
}

/**
 * What SQLite calls malformed, stored JSON that no longer parses and a schema without the tables and columns
 * mutascan writes (a page damaged inside a value or the schema, or a store edited by hand): a store that is not
 * what mutascan wrote.
 */
function damageDetail(e: unknown): string | undefined {
  if (isDamage(e)) return (e as Error).message;
  if (e instanceof SyntaxError) return `a stored value is not valid JSON: ${e.message}`;
  // a schema damaged in place, or edited by hand: the tables are not the ones this mutascan wrote
  if (sqliteCode(e) === 'SQLITE_ERROR' && /^no such (column|table)/.test((e as Error).message)) return `its tables are not the ones mutascan writes: ${(e as Error).message}`;
  return undefined;
}

/** Runs `fn`, turning SQLite's "malformed" errors into the message above. */
export function guardDamage<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const detail = damageDetail(e);
    if (detail !== undefined) damaged(path, detail);
    throw writeError(path, e);
  }
}

/** The same for work that awaits: a damaged page may surface at any point of a run or a report. */
export async function guardDamageAsync<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    // (only SQLite's word here: the work may parse other files, whose errors are theirs)
    if (isDamage(e)) damaged(path, (e as Error).message);
    // a write that failed where no step said so itself (a full disk while a run registers, say)
    throw writeError(path, e);
  }
}

/** A write-ahead log without its database is half a store: opening it would start an empty one beside it. */
export function refuseOrphanLog(path: string): void {
  if (!existsSync(path) && existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0)
    fail(
      `the store's database file is missing, but its write-ahead log ${path}-wal is there (the store was moved or deleted without its log, or the other way round)`,
      path,
      `put the database file back beside its log; to start afresh instead, delete ${path}-wal and ${path}-shm`,
    );
}

export function canMigrate(from: number): boolean {
  let v = from;
  while (v < SCHEMA_VERSION) {
    if (!MIGRATIONS.some((m) => m.from === v)) return false;
    v++;
  }
  return v === SCHEMA_VERSION;
}

/** Brings an older store to this schema in one transaction (all or nothing). */
export function migrate(db: Database.Database, from: number): void {
  db.transaction(() => {
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS.find((m) => m.from === v)!.sql);
  }).immediate();
}

export function refuseVersion(path: string, version: number): never {
  if (version > SCHEMA_VERSION)
    return fail(`the store was written by a newer mutascan (store schema ${version}; this mutascan knows schema ${SCHEMA_VERSION} and older)`, path, 'use the mutascan version that wrote it, or a newer one');
  return fail(`the store has schema version ${version}, which this mutascan cannot migrate (it migrates schema 2 and newer)`, path, 'run the screen again into a new store');
}

/**
 * A failed write of the store said in words. `need` estimates the bytes the rest of the screen takes.
 * Errors that are not about writing are returned as they are.
 */
export function writeError(path: string, e: unknown, need?: () => number): unknown {
  const c = sqliteCode(e);
  const resume = 'every result committed so far is kept; run the same command to resume';
  if (c === 'SQLITE_FULL') {
    const free = freeBytes(path);
    let n: number | undefined;
    try {
      n = need?.();
    } catch {
      n = undefined;
    }
    return new MutascanError(
      `the disk holding the store is full${free !== undefined ? ` (${mib(free)} free)` : ''}`,
      path,
      `free ${n !== undefined ? `about ${mib(n * 1.25)} (the rest of the screen's results, with room for the log)` : 'some space'} or move the store to a larger disk; ${resume}`,
    );
  }
  if (c === 'SQLITE_READONLY' || c.startsWith('SQLITE_READONLY_') || c.startsWith('SQLITE_IOERR') || c === 'SQLITE_CANTOPEN')
    return new MutascanError(`cannot write the store (${(e as Error).message}; SQLite code ${c})`, path, `check that the file and its folder are writable and the disk is healthy; ${resume}`);
  if (isDamage(e)) return new StoreDamaged(path, (e as Error).message);
  return e;
}
