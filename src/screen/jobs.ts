/**
 * Local screening processes (`mutascan run --jobs N`): a small model's products are too small to keep two
 * cores busy from one process, so N processes each evaluate their own mutants while this one hands out work
 * and is the store's only writer. A process that dies ends the run with a message; what was stored stays.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Outcome } from '../assays/assay.js';
import { defaultThreads } from '../backend/native-backend.js';
import { MutascanError } from '../errors.js';
import { allMatrices } from '../model/weights.js';
import type { Assay } from '../assays/prepare.js';
import type { ModelWeights } from '../model/weights.js';

export type JobRequest =
  | { type: 'init'; specFile: string; backend?: string; threads?: number; plain: boolean; baselines: number[][]; processes: number }
  | { type: 'run'; ordinals: number[] };

export interface JobResult {
  results: { ordinal: number; outcomes: Outcome[] }[];
  rechecks: number;
}

export type JobReply = { type: 'ready' } | ({ type: 'done' } & JobResult) | { type: 'error'; what: string; where?: string; hint?: string };

/** `auto` starts processes for at least this much work: 5,000 mutants of the main job (48 tokens each). */
const MIN_AUTO_WORK = 5000 * 48;

/**
 * `auto`: one process per core when the model is small enough that copies of its working memory fit easily
 * (a large model's products already use every core from one process) and the screen is long enough to pay for
 * starting them.
 */
export function resolveJobs(jobs: number | 'auto' | undefined, p: { model: { weights: ModelWeights }; assays: readonly Assay[] }, pending: number): number {
  if (typeof jobs === 'number') return jobs;
  // the work a mutant may cost: tokens its generate assays sample, probes its pass assays run
  const perMutant = p.assays.reduce((a, x) => a + (x.type === 'generate' ? x.budget : x.probes.length), 0);
  if (jobs === undefined || pending * Math.max(1, perMutant) < MIN_AUTO_WORK) return 1;
  const cores = availableParallelism();
  let bytes = 0;
  for (const m of allMatrices(p.model.weights).values()) bytes += m.data.byteLength;
  return bytes * cores * 4 < totalmem() ? cores : 1;
}

/** A chunk of work aims at this long, and holds at most MAX_CHUNK mutants. */
const CHUNK_MS = 1000;
const MAX_CHUNK = 8192;

/**
 * How many mutants of one target to hand out at a time: whole passes of the fast path, sized to about a second
 * of work — big enough that NSMs of many passes decode together and little time goes to handing out, small
 * enough that Ctrl-C (which waits for the chunks in flight) is quick and a 7B model's chunk is one pass.
 */
export class ChunkSizer {
  size: number;
  constructor(readonly pass: number) {
    this.size = pass;
  }
  /** `n` mutants took `ms`: the next chunks aim at CHUNK_MS. */
  measured(n: number, ms: number): void {
    const fit = Math.round(((n / Math.max(ms, 1)) * CHUNK_MS) / this.pass) * this.pass;
    this.size = Math.max(this.pass, Math.min(MAX_CHUNK, fit));
  }
}

/** The child's module next to this one (job-process.js in dist/, job-process.ts when run from source by tsx). */
function childModule(): string {
  return fileURLToPath(import.meta.url).replace(/jobs\.(ts|js)$/, 'job-process.$1');
}

class JobProcess {
  private waiting?: { resolve(r: JobResult): void; reject(e: Error): void };
  private ready?: { resolve(): void; reject(e: Error): void };
  private exitError?: Error;

  constructor(
    readonly child: ChildProcess,
    where: string,
  ) {
    child.on('message', (m: JobReply) => {
      if (m.type === 'ready') this.ready?.resolve();
      else if (m.type === 'done') this.settle((w) => w.resolve({ results: m.results, rechecks: m.rechecks }));
      else this.fail(new MutascanError(`a screening process failed: ${m.what}`, m.where ?? where, m.hint));
    });
    child.on('exit', (code, signal) => {
      this.fail(
        new MutascanError(
          `screening process ${child.pid} stopped (${signal ? `killed by ${signal}` : `exit code ${code}`}) with mutants in hand`,
          where,
          'the results stored so far are kept; run the same command to resume (add --jobs 1 to run in one process)',
        ),
      );
    });
  }

  private settle(fn: (w: NonNullable<JobProcess['waiting']>) => void): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) fn(w);
  }

  private fail(e: Error): void {
    this.exitError ??= e;
    this.ready?.reject(e);
    this.settle((w) => w.reject(e));
  }

  whenReady(): Promise<void> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => (this.ready = { resolve, reject }));
  }

  run(ordinals: number[]): Promise<JobResult> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.send({ type: 'run', ordinals } satisfies JobRequest);
    });
  }
}

/** What each screening process is told to load: the run's screen, its backend, and its share of the cores. */
export function jobInit(o: { specFile: string; backend?: string; threads?: number; plain?: boolean }, baselines: number[][], jobs: number): Omit<Extract<JobRequest, { type: 'init' }>, 'type'> {
  return { specFile: o.specFile, backend: o.backend, threads: o.threads ?? Math.max(1, Math.floor(defaultThreads() / jobs)), plain: o.plain === true, baselines, processes: jobs };
}

export class JobPool {
  private constructor(readonly procs: JobProcess[]) {}

  /** Starts `n` processes and waits until each has loaded the screen and agrees on its baselines. */
  static async start(n: number, init: Omit<Extract<JobRequest, { type: 'init' }>, 'type'>, where: string): Promise<JobPool> {
    const procs = Array.from({ length: n }, () => {
      const child = fork(childModule(), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const proc = new JobProcess(child, where);
      child.send({ type: 'init', ...init } satisfies JobRequest);
      return proc;
    });
    const pool = new JobPool(procs);
    try {
      await Promise.all(procs.map((p) => p.whenReady()));
    } catch (e) {
      pool.close();
      throw e;
    }
    return pool;
  }

  close(): void {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill();
  }
}
