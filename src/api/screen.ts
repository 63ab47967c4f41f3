/** Screens from a program: run one (here, over this machine's cores, or through a queue), predict, estimate, work. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { fail } from '../errors.js';
import { runGuide } from '../predict/guide.js';
import { predictToStore, type PredictSummary } from '../predict/to-store.js';
import { runDistributed } from '../scale/coordinator.js';
import { runWorker as work, type WorkerOptions } from '../scale/worker.js';
import { estimateScreen as estimate, type Estimate, type EstimateOptions as ScreenEstimateOptions } from '../screen/estimate.js';
import { prepareScreen, runScreen as run, type RunOptions, type RunSummary } from '../screen/runner.js';
import { findThresholds, type ThresholdOptions, type UnitThreshold } from '../screen/threshold.js';
import { thresholdMaps } from '../report/threshold-map.js';
import type { ScreenFile } from '../spec/spec.js';
import { guardDamageAsync as guardStore } from '../store/health.js';

export type BackendName = 'auto' | 'ts' | 'native';

/**
 * A run as screen/runner.ts takes it (threads, plain, jobs, limit, onStart, onProgress, onNote), with the screen
 * as a file or an object, and what the runner is handed by its callers as plain options.
 */
export interface ScreenOptions extends Pick<RunOptions, 'threads' | 'plain' | 'jobs' | 'limit' | 'onStart' | 'onProgress' | 'onNote'> {
  /** a screen file's path, or its contents as an object (relative paths in it are taken from the working folder) */
  screen: string | ScreenFile;
  /** the SQLite store: created, or resumed when it holds this screen */
  store: string;
  backend?: BackendName;
  /** guided runs: the likeliest NSMs first, or only a budget of them and a sample of the rest (default: a tenth of the budget, at least 200) */
  order?: 'plan' | 'predicted';
  budget?: number;
  sample?: number;
  /** spread the screen over workers through this Redis server (redis://… or rediss://…); this process stores */
  queue?: string;
  /** with a rediss:// queue: PEM file of the CA that signed the server's certificate */
  redisCa?: string;
  /** with a queue: mutants per job */
  batch?: number;
  /** with a queue: how many workers are taking jobs */
  onWorkers?(workers: number): void;
  /** stops at the next chunk boundary; what was done stays stored and a later run resumes */
  signal?: AbortSignal;
}

/** A run's summary; with a queue, also the batches that failed repeatedly and were parked. */
export type ScreenSummary = RunSummary & { parked?: number };

/** A screen file for an object: paths made absolute from the working folder, written where a run's processes read it. */
function screenFileOf(screen: string | ScreenFile): { file: string; done(): void } {
  if (typeof screen === 'string') return { file: screen, done: () => {} };
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(p));
  const s = { ...screen, model: abs(screen.model), ...(screen.tokenizer ? { tokenizer: abs(screen.tokenizer) } : {}) } as ScreenFile;
  s.assays = screen.assays.map((a) => (a.type === 'choice' ? { ...a, data: abs(a.data) } : a));
  const dir = mkdtempSync(join(tmpdir(), 'mutascan-screen-'));
  const file = join(dir, 'screen.yaml');
  writeFileSync(file, stringify(s));
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a screen (or the rest of it) into its store. */
export async function runScreen(o: ScreenOptions): Promise<ScreenSummary> {
  if (o.queue && o.jobs !== undefined && o.jobs !== 'auto') fail('several screening processes (jobs) do not go with a queue', 'jobs', 'start more workers instead (mutascan worker --concurrency N)');
  if (o.redisCa && !o.queue) fail('a Redis CA goes with a rediss:// queue', 'redisCa', 'drop it, or give the queue rediss://HOST:PORT');
  if (o.queue && o.limit !== undefined) fail('a limit does not go with a queue', 'limit', 'drop one of them');
  if (o.sample !== undefined && o.budget === undefined) fail('a sample goes with a budget', 'sample', 'give a budget too, or drop the sample');
  const f = screenFileOf(o.screen);
  try {
    const options = {
      specFile: f.file, storePath: o.store, backend: o.backend, threads: o.threads, plain: o.plain === true, jobs: o.jobs, limit: o.limit,
      onStart: o.onStart, onProgress: o.onProgress, onNote: o.onNote, shouldStop: () => o.signal?.aborted === true,
      guide: runGuide({ order: o.order, budget: o.budget, sample: o.sample }),
    };
    return await guardStore(o.store, () =>
      o.queue ? runDistributed({ ...options, queue: o.queue, redisCa: o.redisCa, batchSize: o.batch, onWorkers: o.onWorkers }) : run(options),
    );
  } finally {
    f.done();
  }
}

/** First-order predictions of every mutant of a screen, stored beside its results (`mutascan predict`). */
export async function predictScreen(o: { screen: string | ScreenFile; store: string; backend?: BackendName; threads?: number; onNote?(line: string): void }): Promise<PredictSummary> {
  const f = screenFileOf(o.screen);
  try {
    return await guardStore(o.store, () => predictToStore({ specFile: f.file, storePath: o.store, backend: o.backend, threads: o.threads, onNote: o.onNote }));
  } finally {
    f.done();
  }
}

/** What to time (see screen/estimate.ts), with the screen as a file or an object. */
export type EstimateOptions = Omit<ScreenEstimateOptions, 'specFile' | 'backend'> & { screen: string | ScreenFile; backend?: BackendName };

/** Times a sample of a screen's mutants on this machine and predicts the whole screen's duration and store size. */
export async function estimateScreen(o: EstimateOptions): Promise<Estimate> {
  const f = screenFileOf(o.screen);
  try {
    return await estimate({ ...o, specFile: f.file });
  } finally {
    f.done();
  }
}

/** Evaluates batches of the screens published on a Redis server until stopped (`mutascan worker`). */
export function runWorker(o: WorkerOptions): Promise<{ batches: number; refused: number }> {
  return work(o);
}

/** What `thresholdScreen` takes: a screen (its model, targets, unit and assays; its kinds are not used) and the series. */
export interface ThresholdScreenOptions extends Omit<ThresholdOptions, 'onRound'> {
  screen: string | ScreenFile;
  backend?: BackendName;
  threads?: number;
  /** a folder for the maps (one SVG and PNG per target) */
  maps?: string;
  onRound?(round: number, rounds: number, open: number): void;
}

/**
 * Per unit of the screen's targets, the smallest change of a kind with a magnitude that changes the output, found
 * by bisection with every point evaluated exactly (screen/threshold.ts); maps of them per target.
 */
export async function thresholdScreen(o: ThresholdScreenOptions): Promise<{ units: UnitThreshold[]; evaluations: number; rounds: number; seconds: number; maps: string[] }> {
  const t0 = performance.now();
  const f = screenFileOf(o.screen);
  try {
    const p = await prepareScreen(f.file, o.backend, o.threads);
    const r = findThresholds(p, o);
    const maps: string[] = [];
    if (o.maps) {
      mkdirSync(o.maps, { recursive: true });
      const series = `${o.kind} from ${o.from} to ${o.to}`;
      for (const fig of await thresholdMaps(r.units, series)) {
        writeFileSync(join(o.maps, `${fig.name}.svg`), fig.svg);
        writeFileSync(join(o.maps, `${fig.name}.png`), fig.png);
        maps.push(join(o.maps, `${fig.name}.svg`));
      }
    }
    return { ...r, seconds: (performance.now() - t0) / 1000, maps };
  } finally {
    f.done();
  }
}
