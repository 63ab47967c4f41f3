/**
 * Thresholds: for each unit, the smallest change of one kind with a magnitude (scale by f, or set to v) at which
 * the model's output changes, found by bisection (the Super Weight paper's dose-response, one unit at a time).
 *
 * The series runs from `from` to `to`. Both ends are evaluated; a unit silent at both is silent throughout (its
 * threshold lies beyond `to`), one that is an NSM at `from` has none to find. Otherwise the bracket [silent at,
 * NSM at] is halved until it is narrower than the tolerance (in log space where both ends are positive and a
 * decade or more apart), every point an exact evaluation of the mutant on the screen's assays (the fast path
 * equals the plain path). All units of a round are evaluated together, so a round costs one screen of them.
 * Bisection finds a point where the output flips; where the response is not monotone there may be others
 * nearer `from`, which a dose series (`kinds: [{ scale: { from, to, steps } }]`) shows.
 */
import type { Kind } from '../spec/spec.js';
import { kindName } from '../spec/spec.js';
import { fail } from '../errors.js';
import { FastEvaluator } from './fast.js';
import { PlainEvaluator, type Evaluator } from './evaluate.js';
import { unitGrid, type Mutant, type Target } from './plan.js';
import type { PreparedScreen } from './runner.js';
import { widening } from '../util/float.js';

export interface ThresholdOptions {
  kind: 'scale' | 'value';
  from: number;
  to: number;
  /** stop when the bracket is narrower than this (in the kind's own units) */
  tolerance: number;
  /** only units whose first row and column fall within these ranges (inclusive), per target */
  region?: { rows: [number, number]; cols: [number, number] };
  plain?: boolean;
  onRound?(round: number, rounds: number, open: number): void;
}

export type ThresholdStatus = 'threshold' | 'silent-throughout' | 'nsm-at-from';

export interface UnitThreshold {
  /** the unit's name without a kind: target:row,col+rows x cols */
  unit: string;
  target: string;
  row: number;
  col: number;
  rows: number;
  cols: number;
  /** the unit's value (element units), so that a factor can be read as a change of the weight */
  weight: number | null;
  status: ThresholdStatus;
  /** the bracket: the last magnitude verified silent and the first verified to change the output */
  silentAt: number | null;
  nsmAt: number | null;
  /** |nsmAt − from|: how far from `from` the output changes */
  change: number | null;
  /** the mutant at nsmAt, named as stores name it */
  mutant: string | null;
  evaluations: number;
}

const kindOf = (type: 'scale' | 'value', v: number): Kind => (type === 'scale' ? { type: 'scale', factor: v } : { type: 'value', value: v });

export function findThresholds(p: PreparedScreen, o: ThresholdOptions): { units: UnitThreshold[]; evaluations: number; rounds: number } {
  if (!(o.tolerance > 0)) fail('the tolerance must be a number > 0', '--tolerance');
  if (o.from === o.to) fail('from and to are the same', '--from/--to', 'give the two ends of the series');
  const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
  const evaluator: Evaluator = o.plain ? plain : new FastEvaluator(p.tf, p.assays, p.stats, plain);
  const log = o.from > 0 && o.to > 0 && Math.max(o.from, o.to) / Math.min(o.from, o.to) >= 10;
  const mid = (a: number, b: number) => Number((log ? Math.sqrt(a * b) : (a + b) / 2).toPrecision(12));
  const narrow = (a: number, b: number) => Math.abs(a - b) <= o.tolerance;

  const units: (UnitThreshold & { t: Target })[] = [];
  for (const t of p.plan.targets) {
    const g = unitGrid(t.weights.rows, t.weights.cols, p.spec.unit);
    for (let i = 0; i < g.nRows * g.nCols; i++) {
      const u = g.at(i);
      const r = o.region;
      if (r && (u.row < r.rows[0] || u.row > r.rows[1] || u.col < r.cols[0] || u.col > r.cols[1])) continue;
      const single = u.rows === 1 && u.cols === 1;
      const weight = single ? elementValue(t, u.row, u.col) : null;
      units.push({ t, unit: `${t.short}:${u.row},${u.col}+${u.rows}x${u.cols}`, target: t.short, ...u, weight, status: 'threshold', silentAt: null, nsmAt: null, change: null, mutant: null, evaluations: 0 });
    }
  }
  if (!units.length) fail('no unit of the screen\'s targets falls within the region', '--region', 'regions are ROW0-ROW1,COL0-COL1 in the matrix\'s own coordinates');

  let evaluations = 0;
  /** the output class of each unit at magnitude v (true: an NSM on some assay) */
  const changes = (list: typeof units, at: (u: (typeof units)[number]) => number): boolean[] => {
    const mutants: Mutant[] = list.map((u, i) => {
      const kind = kindOf(o.kind, at(u));
      const name = kindName(kind);
      return { ordinal: i + 1, key: `${u.unit}:${name}`, target: u.t, unit: { row: u.row, col: u.col, rows: u.rows, cols: u.cols }, kind, kindName: name };
    });
    // units of one target together: the fast path batches mutants of one matrix
    const out = new Array<boolean>(list.length);
    const byTarget = new Map<Target, number[]>();
    mutants.forEach((m, i) => byTarget.set(m.target!, [...(byTarget.get(m.target!) ?? []), i]));
    for (const idx of byTarget.values()) {
      const res = evaluator.evaluate(idx.map((i) => mutants[i]));
      idx.forEach((i, k) => (out[i] = res[k].some((x) => !x.silent)));
    }
    evaluations += list.length;
    list.forEach((u) => u.evaluations++);
    return out;
  };

  const atFrom = changes(units, () => o.from);
  const atTo = changes(units, () => o.to);
  let open: typeof units = [];
  units.forEach((u, i) => {
    if (atFrom[i]) {
      u.status = 'nsm-at-from';
      u.nsmAt = o.from;
    } else if (!atTo[i]) {
      u.status = 'silent-throughout';
      u.silentAt = o.to;
    } else {
      u.silentAt = o.from;
      u.nsmAt = o.to;
      open.push(u);
    }
  });
  const rounds = Math.max(0, Math.ceil(Math.log2(Math.abs(o.to - o.from) / o.tolerance)) + (log ? 4 : 0));
  let round = 0;
  while (open.length) {
    round++;
    o.onRound?.(round, rounds, open.length);
    const points = open.map((u) => mid(u.silentAt!, u.nsmAt!));
    const nsm = changes(open, (u) => points[open.indexOf(u)]);
    open.forEach((u, i) => {
      if (nsm[i]) u.nsmAt = points[i];
      else u.silentAt = points[i];
    });
    // a midpoint that rounds to an end cannot narrow the bracket further
    open = open.filter((u) => {
      const next = mid(u.silentAt!, u.nsmAt!);
      return !narrow(u.silentAt!, u.nsmAt!) && next !== u.silentAt && next !== u.nsmAt;
    });
  }
  for (const u of units)
    if (u.nsmAt !== null && u.status === 'threshold') {
      u.change = Math.abs(u.nsmAt - o.from);
      u.mutant = `${u.unit}:${kindName(kindOf(o.kind, u.nsmAt))}`;
    }
  return { units: units.map(({ t: _, ...u }) => u), evaluations, rounds: round };
}

/** One element's value as a number (float32, bf16 or f16 widened, a norm's offset added): what a factor scales. */
function elementValue(t: Target, row: number, col: number): number {
  const w = t.weights;
  const raw = w.data[row * w.cols + col];
  return w.dtype === 'f32' ? raw + (w.offset ?? 0) : widening(w.dtype)[raw];
}
