import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = resolve(ROOT, '..', 'shared');
export const STORIES = join(SHARED, 'models', 'stories260K');
export const STORIES_BIN = join(STORIES, 'stories260K.bin');
export const STORIES_TOK = join(STORIES, 'tok512.bin');
export const EXPECTED = join(STORIES, 'expected');
export const LLAMA2_TOK = join(SHARED, 'tokenizers', 'llama2');

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  const raw = readFileSync(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const CLI = join(ROOT, 'bin', 'mutascan.js');
/** Debian's python3 (the one with python3-torch, python3-scipy and python3-jinja2). */
export const PYTHON = '/usr/bin/python3';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: opts.input, env: { ...process.env, ...opts.env }, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `mutascan-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs the independent PyTorch reference on (folder, ids) jobs; returns logits per job. */
export function torchReference(jobs: { model: string; ids: number[] }[]): number[][][] {
  const r = spawnSync(PYTHON, [join(ROOT, 'test', 'reference', 'llama_reference.py')], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[][][];
}

/** Asserts a CLI failure that a person can read: exit code, the message, and no stack trace. */
export function expectCleanError(r: CliResult, pattern: RegExp): void {
  if (r.status === 0) throw new Error(`expected failure, got success: ${r.stdout.slice(0, 200)}`);
  if (!pattern.test(r.stderr)) throw new Error(`stderr does not match ${pattern}:\n${r.stderr}`);
  if (/\n\s+at .+:\d+:\d+/.test(r.stderr)) throw new Error(`stderr shows a stack trace:\n${r.stderr}`);
}

/** Mutants marked done in a store another process may be writing; 0 while it does not exist yet. */
export function storedCount(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    try {
      return db.prepare('SELECT count(*) FROM mutants WHERE done = 1').pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

/** Every result of a store as comparable rows (key, assay, outcome, phenotype ids and text), in plan order. */
export function storeRows(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db
      .prepare(`SELECT m.key, r.assay_id, r.silent, r.first_divergence, r.similarity, r.destructive, r.n_tokens, p.ids_json, p.text
                FROM results r JOIN mutants m ON m.id = r.mutant_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id ORDER BY m.id, r.assay_id`)
      .all() as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  } finally {
    db.close();
  }
}

/** Every result of a store (mutant key, assay, silent/NSM call, divergence, phenotype ids), one JSON line each, in mutant order. */
export function resultRows(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db
      .prepare(`SELECT m.key, r.assay_id, r.silent, r.first_divergence, r.n_tokens, p.ids_json FROM results r JOIN mutants m ON m.id = r.mutant_id
                LEFT JOIN phenotypes p ON p.id = r.phenotype_id ORDER BY m.id, r.assay_id`)
      .all() as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  } finally {
    db.close();
  }
}
