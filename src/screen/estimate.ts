/**
 * How long a screen will take, and how big its store will be, before committing a machine (or a hundred) to it.
 *
 * The estimate times the real thing on a sample: the model is loaded and the baselines computed exactly as a run
 * does (that time is measured, not modelled), then a few targets spread over the plan each get runs of
 * consecutive mutants from places spread over their matrix, in the chunks a run hands out and by as many
 * screening processes as `run --jobs auto` would start (two on a 2-core machine for a small model). A
 * mutant's cost depends mostly on how many layers lie above its matrix (the fast path starts at the mutated
 * layer), so the seconds per mutant are fitted as a + b × (layers from the target up), and summed over every
 * target of the plan. Store writes and size are measured on a scratch store holding some sampled outcomes.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Outcome } from '../assays/assay.js';
import { FastEvaluator } from './fast.js';
import { ChunkSizer, jobInit, JobPool, resolveJobs } from './jobs.js';
import type { Mutant, Target } from './plan.js';
import { evaluatorFor, openScreenStore, prepareScreen, runNullMutant, type PreparedScreen } from './runner.js';

export interface EstimateOptions {
  specFile: string;
  backend?: string;
  threads?: number;
  plain?: boolean;
  /** machines like this one working together through a queue */
  workers?: number;
  /** screening processes on this machine, as `run --jobs` (default auto: the number `run` would start) */
  jobs?: number | 'auto';
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
  /** screening processes the samples were timed with (as `run --jobs` starts them) */
  jobs: number;
  workers: number;
  /** `workers` machines like this one (each loads the model; the coordinator stores) */
  workersSeconds: number;
  storeBytes: number;
}

function depthOf(t: Target | null, nLayers: number): number {
  if (!t || t.layer === null) return t?.matrix === 'lm_head' || t?.matrix === 'final_norm' ? 0 : nLayers;
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
  let pool: JobPool | undefined;
  try {
    const t0 = performance.now();
    const p = await prepareScreen(o.specFile, o.backend, o.threads);
    const evaluator = evaluatorFor(p, o.plain === true);
    // As many screening processes as `run` would start for the whole screen, started as it starts them
    const jobs = resolveJobs(o.jobs ?? 'auto', p, p.plan.total);
    const starting = jobs > 1 ? JobPool.start(jobs, jobInit(o, p.assays.map((a) => a.baselineIds), jobs), o.specFile) : undefined;
    starting?.catch(() => undefined);
    // The scratch store is made as a run makes it (every mutant's row included), so its cost is in the setup.
    const { store } = openScreenStore(p, join(scratch, 'estimate.sqlite'));
    runNullMutant(p, evaluator, store);
    pool = await starting;
    const setupSeconds = (performance.now() - t0) / 1000;

    // Each lane evaluates one chunk at a time, as a run's processes do: this process, or each screening process.
    type Lane = (mutants: Mutant[]) => Promise<Outcome[][]>;
    const lanes: Lane[] = pool
      ? pool.procs.map((proc) => async (mutants) => (await proc.run(mutants.map((m) => m.ordinal))).results.map((r) => r.outcomes))
      : [async (mutants) => evaluator.evaluate(mutants)];
    const chunks = new ChunkSizer(evaluator instanceof FastEvaluator ? evaluator.passSize() : 1);
    let round = 0;
    /**
     * Lanes take chunks of target `ti()` from places spread over it until `enough(seconds)` or `limit` mutants
     * are taken. The rate is each lane's mutants over its own busy time, summed: the lane that finishes its last
     * chunk first does not idle in the figure, as a run's processes do not until the very end.
     */
    const work = async (ti: () => number, enough: (seconds: number) => boolean, limit: number, got?: (o: Outcome[][]) => void): Promise<{ n: number; perSecond: number }> => {
      const t = performance.now();
      let taken = 0;
      const rates = await Promise.all(
        lanes.map(async (lane) => {
          let n = 0;
          let busy = 0;
          while (taken < limit && !enough((performance.now() - t) / 1000)) {
            const mutants = slice(p, ti(), Math.min(chunks.size, limit - taken), round++);
            if (!mutants.length) break;
            taken += mutants.length;
            const c = performance.now();
            const outcomes = await lane(mutants);
            const ms = performance.now() - c;
            chunks.measured(mutants.length, ms);
            n += mutants.length;
            busy += ms;
            got?.(outcomes);
          }
          return busy > 0 ? (n * 1000) / busy : 0;
        }),
      );
      return { n: taken, perSecond: rates.reduce((a, b) => a + b, 0) };
    };

    const nLayers = p.model.config.nLayers;
    const targets = p.plan.targets;
    const want = Math.min(targets.length, o.sampleTargets ?? 6);
    const picked = [...new Set(Array.from({ length: want }, (_, i) => (want === 1 ? 0 : Math.round((i * (targets.length - 1)) / (want - 1)))))];
    const budget = o.secondsPerTarget ?? 3;
    // A cheap model is warmed up first, for as long as a target is timed: V8 keeps optimising the hot loops for
    // seconds, and a cold process's first samples would be slower than a long run's. On a big model a pass takes
    // long enough that warming up is lost in it.
    if (performance.now() - t0 < 60_000) {
      let w = 0;
      round = 100;
      await work(() => picked[w++ % picked.length], (seconds) => seconds >= budget, Infinity);
    }
    const samples: TargetSample[] = [];
    // Only a few outcomes per target are kept (to weigh the store): a run drops its outcomes once stored, and
    // a heap growing with every sample would tax later samples with garbage collection that a run never pays.
    const outcomes: Outcome[][] = [];
    const keep = Math.ceil(2000 / picked.length);
    for (const ti of picked) {
      const count = p.plan.range(ti).count;
      const kept = outcomes.length;
      round = 2;
      const { n, perSecond } = await work(
        () => ti,
        (seconds) => !o.perTarget && seconds >= budget,
        Math.min(count, o.perTarget ?? Infinity),
        (got) => outcomes.push(...got.slice(0, Math.max(0, keep - (outcomes.length - kept)))),
      );
      const s = { target: targets[ti].short, depth: depthOf(targets[ti], nLayers), mutants: n, secondsPerMutant: 1 / perSecond };
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
      jobs,
      workers,
      // Workers load and evaluate in parallel; the coordinator stores while they work, so the slower of the two
      // sets the pace.
      workersSeconds: setupSeconds + Math.max(evaluateSeconds / workers, storeSeconds),
      storeBytes: empty + perMutantBytes * mutants,
    };
  } finally {
    pool?.close();
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
