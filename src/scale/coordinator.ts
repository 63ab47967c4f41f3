/**
 * The coordinator of a distributed screen: plans the screen and creates (or resumes) its store like a local
 * run, publishes the screen for workers, enqueues its batches as BullMQ jobs, and writes the results workers
 * return into the store. It is the store's only writer, and every write is idempotent by mutant id, so a job
 * delivered twice (a worker killed after finishing, a stalled job run again) stores its mutants once.
 *
 * Batches are fixed by the plan (mutants of one target, `batchSize` at a time) and named by their first
 * ordinal, so re-enqueueing after a restart of the coordinator or of Redis adds only what is missing: BullMQ
 * ignores a job id it already holds. A guided run (predicted order, a budget) cuts its selection instead, in
 * its order, into batches of one target listing their mutants; the selection comes from the stored predictions
 * and a fixed seed, so a restarted coordinator cuts the same batches.
 */
import { Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import type { Outcome } from '../assays/assay.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { fail, MutascanError } from '../errors.js';
import { budgetSummary, checkBaselines, evaluatorFor, openScreenStore, prepareScreen, registerRun, runNullMutant, selectionDone, type RunOptions, type RunSummary } from '../screen/runner.js';
import { describeParkedMutants } from '../store/summary.js';
import type { Plan } from '../screen/plan.js';
import { numericsHint, type Store } from '../store/store.js';
import { connect, connectionOptions, parseRedisUrl, publishScreen, refusals, withdrawScreen } from './redis.js';
import { VERSION } from '../version.js';
import { parseBatch, parseBatchResult, type Batch, type CheckedBatchResult } from './payloads.js';

export type { Batch } from './payloads.js';
import { SCHEMA_VERSION, WORKERS } from '../store/schema.js';

/** The mutants of a batch. */
export function batchMutants(b: Batch): number[] {
  return b.ordinals ?? Array.from({ length: b.count }, (_, k) => b.first + k);
}

export interface BatchResult {
  results: { ordinal: number; outcomes: Outcome[] }[];
  /** who evaluated it (host and pid) and how long it took, for the per-worker throughput */
  worker?: { name: string; seconds: number; /** the worker backend's numerics (Backend.numerics) */ numerics?: string };
}

/** The plan cut into batches: consecutive mutants of one target, at most `size` each (the null mutant apart). */
export function planBatches(plan: Plan, size: number): Batch[] {
  const out: Batch[] = [];
  plan.targets.forEach((_, ti) => {
    const r = plan.range(ti);
    for (let o = r.first; o < r.first + r.count; o += size) {
      const first = Math.max(1, o);
      const count = Math.min(size, r.first + r.count - o) - (first - o);
      if (count > 0) out.push({ id: `m${first}`, first, count });
    }
  });
  return out;
}

/**
 * A guided run's selection cut into batches: runs of consecutive entries of its order that belong to one
 * target (the fast path shares its products within a target; the order is already grouped so, window by
 * window), at most `size` each. Each ordinal is in one batch, so the first names it.
 */
export function selectionBatches(order: readonly number[], targetOf: (ordinal: number) => number, size: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < order.length; ) {
    const ti = targetOf(order[i]);
    const ordinals = [order[i++]];
    while (i < order.length && ordinals.length < size && targetOf(order[i]) === ti) ordinals.push(order[i++]);
    out.push({ id: `g${ordinals[0]}`, first: ordinals[0], count: ordinals.length, ordinals });
  }
  return out;
}

export interface DistributedOptions extends RunOptions {
  queue: string;
  /** PEM file of the CA of a rediss:// server */
  redisCa?: string;
  /** mutants per job */
  batchSize?: number;
  /** failed attempts before a batch is parked */
  attempts?: number;
  onWorkers?(workers: number): void;
  onNote?(line: string): void;
}

function pendingBatches(store: Store, batches: Batch[]): Batch[] {
  const pending = new Set(store.pending());
  return batches.filter((b) => batchMutants(b).some((o) => pending.has(o)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDistributed(o: DistributedOptions): Promise<RunSummary & { parked: number }> {
  const t0 = performance.now();
  const address = parseRedisUrl(o.queue, { ca: o.redisCa });
  const redis = await connect(address);
  const p = await prepareScreen(o.specFile, o.backend, o.threads);
  if (!o.guide && (p.spec.order === 'predicted' || p.spec.select))
    fail('the screen file asks for a guided run (order: predicted, or select), which this caller of runDistributed does not provide', p.spec.file, 'run it with `mutascan run --queue`, or drop order/select from the file');
  if (p.spec.pairs) o.onNote?.('the screen\'s pairs are not screened through a queue: once its singles are done, `mutascan run` without --queue screens them (on the plain path, in that process)');
  const { store, resumed, migratedFrom } = openScreenStore(p, o.storePath);
  let shared: ReturnType<typeof registerRun>;
  try {
    shared = registerRun(store, 'coordinator', migratedFrom);
  } catch (e) {
    store.close();
    redis.disconnect();
    throw e;
  }
  const fingerprint = modelFingerprint(p.model.source.files);
  const id = createHash('sha256').update(`${p.specHash}\0${fingerprint}\0${p.backend.name}\0${p.backend.numerics()}`).digest('hex').slice(0, 16);
  const queueName = `mutascan-${id}`;
  const queue = new Queue(queueName, { connection: connectionOptions(address) as never });
  queue.on('error', () => {}); // a lost connection is retried; the loop below says so
  try {
    if (resumed) checkBaselines(p, store);
    const guideNotes: string[] = [];
    // the predictions are made here when the store has none (this process has the model loaded for the baselines)
    const selection = o.guide?.select(p, store, (line) => guideNotes.push(line));
    // A guided run's progress counts its own selection (and the null mutant): mutants done outside it, by an
    // earlier run in plan order, are set aside once, as only the selection's batches are enqueued.
    const total = selection ? selection.order.length + 1 : p.plan.total;
    const outside = selection ? store.countDone() - selectionDone(store, selection) : 0;
    const countDone = (): number => store.countDone() - outside;
    let done = countDone();
    o.onStart?.({ total, done, resumed, notes: [...shared.notes, ...p.notes, ...guideNotes] });
    const startDone = done;
    if (store.pending()[0] === 0) {
      runNullMutant(p, evaluatorFor(p, o.plain === true), store);
      done++;
    }
    const published = {
      id, queue: queueName, specYaml: p.spec.source, specFile: p.spec.file, modelFingerprint: fingerprint, backend: p.backend.name, plain: o.plain === true,
      baselines: p.assays.map((a) => a.baselineIds), mutascanVersion: VERSION, schemaVersion: SCHEMA_VERSION, numerics: p.backend.numerics(),
    };
    await publishScreen(redis, published);
    const batches = selection ? selectionBatches(selection.order, (x) => p.plan.targetIndexOf(x), o.batchSize ?? 64) : planBatches(p.plan, o.batchSize ?? 64);
    const byId = new Map(batches.map((b) => [b.id, b]));
    const parkedIds = new Set<string>();
    const enqueue = async () => {
      const todo = pendingBatches(store, batches).filter((b) => !parkedIds.has(b.id));
      for (let i = 0; i < todo.length; i += 1000)
        await queue.addBulk(
          todo.slice(i, i + 1000).map((b) => ({
            name: 'batch',
            data: { first: b.first, count: b.count, ordinals: b.ordinals },
            opts: { jobId: b.id, attempts: o.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 }, removeOnFail: false, removeOnComplete: false },
          })),
        );
    };
    // Every run tries parked batches again: their failed jobs leave the queue so that their ids can be added anew.
    for (const job of await queue.getJobs(['failed'])) await job.remove();
    const unparked = (store.db.prepare('DELETE FROM parked').run().changes);
    if (unparked) o.onNote?.(`${unparked} parked batches from an earlier run are tried again`);
    await enqueue();
    const save = store.db.prepare('INSERT OR REPLACE INTO parked VALUES (?, ?, ?, ?, ?, ?)');
    store.db.exec(WORKERS); // stores made before 0.3.0 lack it
    const credit = store.db.prepare(
      `INSERT INTO workers VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET batches = batches + 1, mutants = mutants + excluded.mutants, seconds = seconds + excluded.seconds, last_ms = excluded.last_ms`,
    );
    const refusedBy = new Set<string>();
    let rejected = false;
    let lastReconcile = performance.now();
    let stopped = false;
    let redisDown = false;
    for (;;) {
      if (o.shouldStop?.()) {
        stopped = true;
        break;
      }
      try {
        const completed = await queue.getJobs(['completed'], 0, 199);
        for (const job of completed) {
          let r: CheckedBatchResult;
          try {
            r = parseBatchResult(byId.get(String(job.id)) ?? parseBatch(String(job.id), job.data, p.plan.total), job.returnvalue, { assays: p.assays.length, vocabSize: p.model.config.vocabSize });
          } catch (e) {
            if (!(e instanceof MutascanError)) throw e;
            o.onNote?.(`${e.message}: not stored`);
            await job.remove();
            rejected = true;
            continue;
          }
          // Results of other numerics than the screen's are not stored: their batch goes back to the queue.
          if (r.worker?.numerics !== undefined && r.worker.numerics !== published.numerics) {
            o.onNote?.(`worker ${r.worker.name} returned batch ${job.id} computed with other numerics (${r.worker.numerics}) than the screen's (${published.numerics}): not stored; ${numericsHint(published.numerics, r.worker.numerics)}`);
            await job.remove();
            rejected = true;
            continue;
          }
          store.save(r.results);
          if (r.worker) credit.run(r.worker.name, r.results.length, r.worker.seconds, Date.now(), Date.now());
          await job.remove();
        }
        for (const job of await queue.getJobs(['failed'], 0, 199)) {
          const b = byId.get(String(job.id));
          if (b && !parkedIds.has(b.id)) {
            save.run(b.id, b.first, b.count, job.attemptsMade, job.failedReason ?? 'unknown error', new Date().toISOString());
            parkedIds.add(b.id);
            o.onNote?.(`batch ${b.id} (${describeParkedMutants({ batch: b.id, first: b.first, count: b.count })}) failed ${job.attemptsMade} times and is parked: ${job.failedReason}`);
          }
        }
        done = countDone();
        o.onProgress?.(done, total);
        o.onWorkers?.((await queue.getWorkers()).length);
        for (const [who, why] of Object.entries(await refusals(redis, id)))
          if (!refusedBy.has(who)) {
            refusedBy.add(who);
            o.onNote?.(`worker ${who} refused the screen: ${why}`);
          }
        if (redisDown) o.onNote?.('Redis is back');
        redisDown = false;
        const parkedMutants = [...parkedIds].reduce((s, b) => s + byId.get(b)!.count, 0);
        if (done + parkedMutants >= total) break;
        // After a Redis restart the screen and its jobs may be gone: publish again, and once the queue holds no
        // job at all while mutants are missing, enqueue what is missing (ids keep this idempotent). Checking the
        // counts, not re-adding every batch, keeps this cheap for screens of millions of mutants.
        if (performance.now() - lastReconcile > 5000) {
          await publishScreen(redis, published);
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
          if (rejected || Object.values(counts).every((n) => n === 0)) await enqueue();
          rejected = false;
          lastReconcile = performance.now();
        }
        if (completed.length === 0) await sleep(200);
      } catch (e) {
        if (!redisDown) o.onNote?.(`lost Redis (${(e as Error).message}); waiting for it to come back`);
        redisDown = true;
        await sleep(1000);
      }
    }
    const parked = parkedIds.size;
    if (!stopped) {
      await withdrawScreen(redis, id);
      if (parked === 0) await queue.obliterate({ force: true });
    }
    const budget = selection && budgetSummary(o.guide!, store, selection, done === total);
    return { total, done, ranNow: done - startDone, stopped: stopped || done < total, seconds: (performance.now() - t0) / 1000, rechecks: 0, parked, budget };
  } finally {
    try {
      shared.reg.end();
    } catch {
      // the next run finds this process gone
    }
    await queue.close().catch(() => {});
    redis.disconnect();
    store.close();
  }
}
