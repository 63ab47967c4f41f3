/**
 * Double mutants: once a screen's singles are done, pairs of them (chosen as its `pairs:` asks) are applied
 * together and run through the same assays, on the plain path (the definition; the fast path's patches hold
 * one unit). Their results go to the store's pairs tables; store/scores.ts sets each against its singles.
 */
import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import { canonicalName, mutantName, parseMutantName } from '../spec/mutant-name.js';
import type { PairsSpec } from '../spec/spec.js';
import type { Store } from '../store/store.js';
import { seededRandom } from '../util/random.js';
import { PlainEvaluator } from './evaluate.js';
import type { Assay } from '../assays/prepare.js';
import type { Transformer } from '../model/forward.js';
import type { MatrixStats } from './mutate.js';
import type { Mutant, Plan } from './plan.js';

/** What the pair phase needs of a prepared screen (runner.ts's PreparedScreen). */
interface PairContext {
  spec: { file: string };
  plan: Plan;
  tf: Transformer;
  assays: Assay[];
  stats(m: Mutant): MatrixStats;
}

/** Chooses the pairs and records them in the store (once: a store that has pairs keeps them). */
export function choosePairs(p: PairContext, store: Store, spec: PairsSpec): number {
  store.ensurePairs();
  const had = store.db.prepare('SELECT count(*) FROM pairs').pluck().get() as number;
  if (had) return had;
  const db = store.db;
  const keyOf = (id: number) => db.prepare('SELECT key FROM mutants WHERE id = ?').pluck().get(id) as string;
  let chosen: [number, number][];
  if (spec.among === 'list') chosen = listedPairs(store, spec.list!);
  else {
    // each single's calls over every assay: silent in all, or an NSM in one at least
    const calls = db.prepare('SELECT mutant_id AS id, min(silent) AS silent FROM results WHERE mutant_id > 0 GROUP BY mutant_id ORDER BY mutant_id').all() as { id: number; silent: number }[];
    const silent = calls.filter((c) => c.silent === 1).map((c) => c.id);
    const nsm = calls.filter((c) => c.silent === 0).map((c) => c.id);
    let pools: [number[], number[]];
    if (spec.among === 'silent') pools = [silent, silent];
    else if (spec.among === 'nsm') pools = [nsm, nsm];
    else if (spec.among === 'nsm-silent') pools = [nsm, silent];
    else if (spec.among === 'all') {
      const every = calls.map((c) => c.id);
      pools = [every, every];
    }
    else {
      if (!store.hasTable('predictions')) fail('pairs: among: predicted needs predictions in the store', p.spec.file, 'run `mutascan predict` on the screen first');
      const top = db.prepare('SELECT mutant_id FROM predictions WHERE mutant_id > 0 GROUP BY mutant_id ORDER BY min(predicted_margin) LIMIT ?').pluck().all(spec.top) as number[];
      pools = [top, top];
    }
    chosen = drawPairs(pools, spec.count, seededRandom(spec.seed), (a, b) => sameUnit(keyOf(a), keyOf(b)));
    if (!chosen.length) fail(`pairs: no two singles to pair among ${spec.among} (${pools[0].length} and ${pools[1].length} candidates)`, p.spec.file, 'choose another among, or screen more singles');
  }
  const ins = db.prepare('INSERT OR IGNORE INTO pairs (name, a, b) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const [a, b] of chosen) {
      const [x, y] = a < b ? [a, b] : [b, a];
      ins.run(mutantName([...parseMutantName(keyOf(x)), ...parseMutantName(keyOf(y))]), x, y);
    }
  })();
  return chosen.length;
}

/** Two singles of one unit (two kinds of the same weights) make no pair: the second would overwrite the first. */
function sameUnit(a: string, b: string): boolean {
  const [x] = parseMutantName(a);
  const [y] = parseMutantName(b);
  return x.target === y.target && x.row === y.row && x.col === y.col && x.rows === y.rows && x.cols === y.cols;
}

/** Up to `count` distinct unordered pairs, one from each pool, drawn at random (all of them when there are fewer). */
function drawPairs(pools: [number[], number[]], count: number, random: () => number, skip: (a: number, b: number) => boolean): [number, number][] {
  const [xs, ys] = pools;
  const seen = new Set<string>();
  const out: [number, number][] = [];
  const add = (a: number, b: number) => {
    if (a === b || skip(a, b)) return;
    const k = a < b ? `${a},${b}` : `${b},${a}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push([a, b]);
  };
  const possible = xs === ys ? (xs.length * (xs.length - 1)) / 2 : xs.length * ys.length;
  if (possible <= count * 2) {
    for (const a of xs) for (const b of ys) add(a, b);
    // shuffled, then cut, so that a small pool still gives a random `count` of its pairs
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out.slice(0, count);
  }
  for (let tries = 0; out.length < count && tries < count * 50; tries++) add(xs[Math.floor(random() * xs.length)], ys[Math.floor(random() * ys.length)]);
  return out;
}

/** A file of pair names (a+b), one per line; # starts a comment. Every single must be a mutant of the store. */
function listedPairs(store: Store, file: string): [number, number][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read the list of pairs: ${(e as Error).message}`, file);
  }
  const idOf = store.db.prepare('SELECT id FROM mutants WHERE key = ?').pluck();
  const out: [number, number][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const where = `${file}:${i + 1}`;
    const singles = parseMutantName(line, where);
    if (singles.length !== 2) fail(`"${line}" names ${singles.length} mutants; a pair names two`, where, 'write two names joined by +');
    const ids = singles.map((s) => {
      const key = canonicalName(mutantName([s]), where);
      const id = idOf.get(key) as number | undefined;
      if (id === undefined) fail(`"${key}" is not a mutant of this screen`, where, 'pair mutants the screen has (as `mutascan export` names them)');
      return id;
    });
    out.push([ids[0], ids[1]]);
  });
  return out;
}

/** Evaluates the pairs not done yet; returns how many were evaluated now. */
export async function runPairs(p: PairContext, store: Store, o: { onProgress?(done: number, total: number): void; shouldStop?(): boolean } = {}): Promise<number> {
  const db = store.db;
  const total = db.prepare('SELECT count(*) FROM pairs').pluck().get() as number;
  const pending = db.prepare('SELECT id, a, b FROM pairs WHERE done = 0 ORDER BY id').all() as { id: number; a: number; b: number }[];
  const evaluator = new PlainEvaluator(p.tf, p.assays, p.stats);
  let done = total - pending.length;
  let batch: { pair: number; outcomes: ReturnType<PlainEvaluator['together']> }[] = [];
  let last = performance.now();
  let now = 0;
  for (const q of pending) {
    if (o.shouldStop?.()) break;
    batch.push({ pair: q.id, outcomes: evaluator.together([p.plan.mutant(q.a), p.plan.mutant(q.b)]) });
    now++;
    if (performance.now() - last > 1000) {
      done += store.savePairs(batch);
      batch = [];
      last = performance.now();
      o.onProgress?.(done, total);
      await new Promise((r) => setImmediate(r));
    }
  }
  done += store.savePairs(batch);
  o.onProgress?.(done, total);
  return now;
}
