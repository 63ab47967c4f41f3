/**
 * How long a screen will take, and how big its store will be, before committing a machine (or a hundred) to it.
 *
 * The estimate times the real thing on a sample: the model is loaded and the baselines computed exactly as a run
 * does (that time is measured, not modelled), then a few targets spread over the plan each get runs of
 * consecutive mutants from places spread over their matrix, evaluated in the evaluator's own batches. A
 * mutant's cost depends mostly on how many layers lie above its matrix (the fast path starts at the mutated
 * layer), so the seconds per mutant are fitted as a + b × (layers from the target up), and summed over every
 * target of the plan. Store writes and size are measured on a scratch store holding some sampled outcomes.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Outcome } from '../assays/assay.js';
import { FastEvaluator } from './fast.js';
import type { Mutant, Target } from './plan.js';
import { evaluatorFor, openScreenStore, prepareScreen, runNullMutant, type PreparedScreen } from './runner.js';

export interface EstimateOptions {
  specFile: string;
  backend?: string;
  threads?: number;
  plain?: boolean;
  /** machines like this one working together through a queue */
  workers?: number;
  /** how many targets to time (spread over the plan); default 6 */
  sampleTargets?: number;
  /** mutants per sampled target; default: passes of the evaluator until `secondsPerTarget` are spent */
  perTarget?: number;
  /** default 3 */
  secondsPerTarget?: number;
  onSample?(s: TargetSample): void;
}

export interface TargetSample {
  target: string;
  /** layers from this target's matrix to the top, the embedding counting as all of them */
  depth: number;
  mutants: number;
  secondsPerMutant: number;
}

export interface Estimate {
  mutants: number;
  targets: number;
  /** load, baselines and the null mutant, measured */
  setupSeconds: number;
  samples: TargetSample[];
  /** seconds per mutant = intercept + slope × depth */
  fit: { intercept: number; slope: number };
  evaluateSeconds: number;
  storeSecondsPerMutant: number;
  /** the coordinator's share: storing every outcome */
  storeSeconds: number;
  /** one machine like this one, start to finish */
  seconds: number;
  workers: number;
  /** `workers` machines like this one (each loads the model; the coordinator stores) */
  workersSeconds: number;
  storeBytes: number;
}

function depthOf(t: Target | null, nLayers: number): number {
  if (!t || t.layer === null) return t?.matrix === 'lm_head' ? 0 : nLayers;
  return nLayers - t.layer;
}

/**
 * `k` consecutive mutants of the target, as a run hands them to the evaluator (so a pass holds what a run's
 * passes hold: neighbouring mutants of the plan), starting at a different place each round (r × 0.618… of
 * the range) so that the rounds together cover the matrix.
 */
function slice(p: PreparedScreen, ti: number, k: number, round: number): Mutant[] {
  const { first, count } = p.plan.range(ti);
  const n = Math.max(0, Math.min(k, count));
  const start = Math.floor(((round * 0.6180339887) % 1) * (count - n + 1));
  return Array.from({ length: n }, (_, i) => p.plan.mutant(first + start + i));
}

/** Least squares of y = a + b·x (b = 0 when every x is the same). */
function fitLine(xs: number[], ys: number[]): { intercept: number; slope: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope };
}

export async function estimateScreen(o: EstimateOptions): Promise<Estimate> {
  const scratch = mkdtempSync(join(tmpdir(), 'mutascan-estimate-'));
  try {
    const t0 = performance.now();
    const p = await prepareScreen(o.specFile, o.backend, o.threads);
    const evaluator = evaluatorFor(p, o.plain === true);
    // The scratch store is made as a run makes it (every mutant's row included), so its cost is in the setup.
    const { store } = openScreenStore(p, join(scratch, 'estimate.sqlite'));
    runNullMutant(p, evaluator, store);
    const setupSeconds = (performance.now() - t0) / 1000;

    const nLayers = p.model.config.nLayers;
    const targets = p.plan.targets;
    const want = Math.min(targets.length, o.sampleTargets ?? 6);
    const picked = [...new Set(Array.from({ length: want }, (_, i) => (want === 1 ? 0 : Math.round((i * (targets.length - 1)) / (want - 1)))))];
    const pass = evaluator instanceof FastEvaluator ? evaluator.passSize() : 1;
    const budget = o.secondsPerTarget ?? 3;
    // A cheap model is warmed up first, for as long as a target is timed: V8 keeps optimising the hot loops for
    // seconds, and a cold process's first samples would be slower than a long run's. On a big model a pass takes
    // long enough that warming up is lost in it.
    if (performance.now() - t0 < 60_000) {
      const w = performance.now();
      for (let round = 0; (performance.now() - w) / 1000 < budget; round++) evaluator.evaluate(slice(p, picked[round % picked.length], pass, round + 100));
    }
    const samples: TargetSample[] = [];
    // Only a few outcomes per target are kept (to weigh the store): a run drops its outcomes once stored, and
    // a heap growing with every sample would tax later samples with garbage collection that a run never pays.
    const outcomes: Outcome[][] = [];
    const keep = Math.ceil(2000 / picked.length);
    for (const ti of picked) {
      const t = performance.now();
      let n = 0;
      for (let round = 0; ; round++) {
        const mutants = slice(p, ti, o.perTarget ? Math.min(pass, o.perTarget - n) : pass, round + 2);
        const got = evaluator.evaluate(mutants);
        if (n < keep) outcomes.push(...got.slice(0, keep - n));
        n += mutants.length;
        const full = mutants.length === 0 || n >= p.plan.range(ti).count;
        if (full || (o.perTarget ? n >= o.perTarget : (performance.now() - t) / 1000 >= budget)) break;
      }
      const s = { target: targets[ti].short, depth: depthOf(targets[ti], nLayers), mutants: n, secondsPerMutant: (performance.now() - t) / 1000 / n };
      samples.push(s);
      o.onSample?.(s);
    }
    const fit = fitLine(samples.map((s) => s.depth), samples.map((s) => s.secondsPerMutant));
    const floor = Math.min(...samples.map((s) => s.secondsPerMutant)) / 2; // a fit must not predict free mutants
    let evaluateSeconds = 0;
    targets.forEach((t, ti) => {
      evaluateSeconds += p.plan.range(ti).count * Math.max(floor, fit.intercept + fit.slope * depthOf(t, nLayers));
    });

    // Store: the sampled outcomes written again and again to the scratch store, timed and weighed.
    const rows = Math.min(p.plan.total - 1, 2000);
    store.close();
    const empty = storeSize(store.path);
    const sized = openScreenStore(p, store.path);
    const ts = performance.now();
    for (let i = 1; i <= rows; i += 200) {
      const batch = [];
      for (let j = i; j < Math.min(rows + 1, i + 200); j++) batch.push({ ordinal: j, outcomes: outcomes[j % outcomes.length] });
      sized.store.save(batch);
    }
    const storeSecondsPerMutant = (performance.now() - ts) / 1000 / rows;
    sized.store.close();
    const perMutantBytes = (storeSize(sized.store.path) - empty) / rows;

    const mutants = p.plan.total;
    const storeSeconds = storeSecondsPerMutant * mutants;
    const workers = o.workers ?? 1;
    return {
      mutants,
      targets: targets.length,
      setupSeconds,
      samples,
      fit,
      evaluateSeconds,
      storeSecondsPerMutant,
      storeSeconds,
      seconds: setupSeconds + evaluateSeconds + storeSeconds,
      workers,
      // Workers load and evaluate in parallel; the coordinator stores while they work, so the slower of the two
      // sets the pace.
      workersSeconds: setupSeconds + Math.max(evaluateSeconds / workers, storeSeconds),
      storeBytes: empty + perMutantBytes * mutants,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Machines like this one it takes to finish within `seconds` (Infinity when setup or storing alone take longer). */
export function machinesWithin(e: Estimate, seconds: number): number {
  const left = seconds - e.setupSeconds;
  if (left <= 0 || e.storeSeconds >= left) return Infinity;
  return Math.max(1, Math.ceil(e.evaluateSeconds / left));
}

/** Bytes of a closed store (its WAL is folded in on close). */
function storeSize(path: string): number {
  return statSync(path).size;
}
