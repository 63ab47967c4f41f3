import Database from 'better-sqlite3';
import { readJsonl } from './helpers.js';

export interface FixtureMutant {
  target: string;
  row: number;
  col: number;
  rows: number;
  cols: number;
  kind: string;
  value: number;
  silent: boolean;
  ids?: number[];
}

export interface FixtureScreen {
  baseline: { prompt: string; prompt_ids: number[]; steps: number; temperature: number; topp: number; seed: number; block: number; ids: number[] };
  mutants: FixtureMutant[];
}

export function loadFixtureScreen(file: string): FixtureScreen {
  const lines = readJsonl<Record<string, unknown>>(file);
  return { baseline: lines[0] as unknown as FixtureScreen['baseline'], mutants: lines.slice(1) as unknown as FixtureMutant[] };
}

export const fixtureKey = (m: FixtureMutant): string => `${m.target}:${m.row},${m.col}+${m.rows}x${m.cols}:${m.kind}`;

export interface StoredMutant {
  silent: boolean;
  ids: number[] | null;
  tie: boolean;
}

export function storedResults(path: string, assay = 1): Map<string, StoredMutant> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare('SELECT m.key, r.silent, r.tie, p.ids_json FROM results r JOIN mutants m ON m.id = r.mutant_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id WHERE r.assay_id = ? AND m.id > 0')
      .all(assay) as { key: string; silent: number; tie: number; ids_json: string | null }[];
    return new Map(rows.map((r) => [r.key, { silent: r.silent === 1, tie: r.tie === 1, ids: r.ids_json ? (JSON.parse(r.ids_json) as number[]) : null }]));
  } finally {
    db.close();
  }
}

/** Mutants whose classification or NSM ids differ from run.c's (keys), and how many were compared. */
export function compareWithFixture(stored: Map<string, StoredMutant>, fixture: FixtureMutant[]): { compared: number; missing: string[]; different: string[] } {
  const missing: string[] = [];
  const different: string[] = [];
  let compared = 0;
  for (const m of fixture) {
    const s = stored.get(fixtureKey(m));
    if (!s) {
      missing.push(fixtureKey(m));
      continue;
    }
    compared++;
    const same = s.silent === m.silent && (m.silent || !m.ids || JSON.stringify(s.ids) === JSON.stringify(m.ids));
    if (!same) different.push(fixtureKey(m));
  }
  return { compared, missing, different };
}

/** Where a generation departs from run.c's answer for `f`, and its decision margin there (undefined when identical). */
export function departure(ours: { ids: number[]; margins: number[] }, f: FixtureMutant, baseline: number[]): { step: number; margin: number } | undefined {
  const expected = f.silent ? baseline : f.ids!;
  const n = Math.max(ours.ids.length, expected.length);
  for (let i = 0; i < n; i++) if (ours.ids[i] !== expected[i]) return { step: i, margin: ours.margins[i] ?? Infinity };
  return undefined;
}
