/**
 * A worker: finds the screens published on a Redis server, loads each one's model once (refusing a model
 * whose fingerprint or baselines differ from the screen's), and runs their batches with the same evaluators
 * as a local run. Results go back as the jobs' return values; the coordinator stores them.
 *
 * A batch is evaluated a few mutants at a time with the event loop let go in between, so BullMQ keeps renewing
 * the job's lock; a worker killed mid-batch stops renewing it, and after the lock expires another worker gets
 * the job (BullMQ's stalled-job handling).
 */
import { Worker } from 'bullmq';
import { parseScreenSpec } from '../spec/spec.js';
import { evaluatorFor, prepareFromSpec, type PreparedScreen } from '../screen/runner.js';
import type { Evaluator } from '../screen/evaluate.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { MutascanError } from '../errors.js';
import { numericsHint } from '../store/store.js';
import { batchMutants, type BatchResult } from './coordinator.js';
import { parseBatch } from './payloads.js';
import { connect, connectionOptions, parseRedisUrl, publishedScreens, reportRefusal, type PublishedScreen } from './redis.js';
import { hostname } from 'node:os';
import { VERSION } from '../version.js';
import { SCHEMA_VERSION } from '../store/schema.js';

export interface WorkerOptions {
  queue: string;
  /** PEM file of the CA of a rediss:// server */
  redisCa?: string;
  concurrency?: number;
  /** the model on this machine (default: the path in the screen file) */
  model?: string;
  tokenizer?: string;
  threads?: number;
  /** how long a job's lock lasts without renewal before another worker may take it */
  lockMs?: number;
  /** stop once no screen has been published for this long (default: run until stopped) */
  idleExitMs?: number;
  log(line: string): void;
  shouldStop?(): boolean;
  /** called with a batch's id before it is evaluated; what it throws fails the batch as an evaluation error would */
  beforeBatch?(batch: string): void;
}

interface Running {
  screen: PublishedScreen;
  worker: Worker;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Before anything is loaded: the same mutascan, so that every result comes from the same code and store schema. */
function checkVersion(s: PublishedScreen): void {
  if (s.mutascanVersion !== VERSION || s.schemaVersion !== SCHEMA_VERSION)
    throw new MutascanError(
      `the coordinator runs mutascan ${s.mutascanVersion ?? '(older than 0.2.0)'} (store schema ${s.schemaVersion ?? '2 or older'}); this worker is mutascan ${VERSION} (store schema ${SCHEMA_VERSION})`,
      `screen ${s.id}`,
      `install mutascan ${s.mutascanVersion ?? 'of the coordinator'} on this machine (every result of a screen must come from the same code)`,
    );
}

async function load(s: PublishedScreen, o: WorkerOptions): Promise<{ p: PreparedScreen; evaluator: Evaluator }> {
  checkVersion(s);
  const spec = parseScreenSpec(s.specYaml, s.specFile);
  if (o.model) spec.model = o.model;
  if (o.tokenizer) spec.tokenizer = o.tokenizer;
  const p = await prepareFromSpec(spec, s.backend, o.threads, (model) => {
    const fp = modelFingerprint(model.source.files);
    if (fp !== s.modelFingerprint)
      throw new MutascanError(`the model at ${model.source.path} is not the screen's model (fingerprint ${fp.slice(0, 12)}…, the screen's is ${s.modelFingerprint.slice(0, 12)}…)`, `screen ${s.id}`, 'point --model at the same file the coordinator uses');
  });
  // Before the baselines: a machine of other numerics may well reproduce them and still differ on a mutant.
  const numerics = p.backend.numerics();
  if (s.numerics !== undefined && numerics !== s.numerics)
    throw new MutascanError(`this worker computes with other numerics (${numerics}) than the screen's (${s.numerics}): its results would not be the screen's bits`, `screen ${s.id}`, `${numericsHint(s.numerics, numerics)}; \`mutascan info\` shows a machine's`);
  p.assays.forEach((a, i) => {
    if (JSON.stringify(a.baselineIds) !== JSON.stringify(s.baselines[i]))
      throw new MutascanError(`assay "${a.name}": this machine's unmutated model answers differently from the coordinator's`, `screen ${s.id}`, 'use the same mutascan version and backend on every machine');
  });
  return { p, evaluator: evaluatorFor(p, s.plain) };
}

export async function runWorker(o: WorkerOptions): Promise<{ batches: number; refused: number }> {
  const address = parseRedisUrl(o.queue, { ca: o.redisCa });
  const redis = await connect(address);
  const running = new Map<string, Running>();
  const refused = new Set<string>();
  // Models stay loaded when a screen is withdrawn for a while (Redis restarted without persistence, and
  // the coordinator publishes it again).
  const loadedScreens = new Map<string, Awaited<ReturnType<typeof load>>>();
  let batches = 0;
  let idleSince = performance.now();
  try {
    while (!o.shouldStop?.()) {
      let screens: Awaited<ReturnType<typeof publishedScreens>>;
      try {
        screens = await publishedScreens(redis);
      } catch {
        await sleep(1000);
        continue;
      }
      const live = new Set(screens.map((s) => s.id));
      for (const [id, r] of running)
        if (!live.has(id)) {
          await r.worker.close();
          running.delete(id);
          o.log(`screen ${id} is finished`);
        }
      for (const s of screens) {
        if (running.has(s.id) || refused.has(s.id)) continue;
        if ('unreadable' in s) {
          refused.add(s.id);
          o.log(`refusing screen ${s.id}: ${s.unreadable}`);
          await reportRefusal(redis, s.id, `${hostname()} pid ${process.pid}`, s.unreadable).catch(() => {});
          continue;
        }
        let loaded = loadedScreens.get(s.id);
        try {
          loaded ??= await load(s, o);
          loadedScreens.set(s.id, loaded);
        } catch (e) {
          refused.add(s.id);
          const why = e instanceof MutascanError ? e.message : (e as Error).stack ?? String(e);
          o.log(`refusing screen ${s.id}: ${why}`);
          await reportRefusal(redis, s.id, `${hostname()} pid ${process.pid}`, why).catch(() => {});
          continue;
        }
        const { p, evaluator } = loaded;
        const worker = new Worker(
          s.queue,
          async (job): Promise<BatchResult> => {
            const mutants = batchMutants(parseBatch(job.id!, job.data, p.plan.total));
            o.beforeBatch?.(job.id!);
            const t0 = performance.now();
            const results: BatchResult['results'] = [];
            for (let i = 0; i < mutants.length; i += 16) {
              const ordinals = mutants.slice(i, i + 16);
              evaluator.evaluate(ordinals.map((x) => p.plan.mutant(x))).forEach((outcomes, k) => results.push({ ordinal: ordinals[k], outcomes }));
              await new Promise((r) => setImmediate(r));
            }
            batches++;
            return { results, worker: { name: `${hostname()} pid ${process.pid}`, seconds: (performance.now() - t0) / 1000, numerics: p.backend.numerics() } };
          },
          {
            connection: connectionOptions(address) as never,
            concurrency: o.concurrency ?? 1,
            lockDuration: o.lockMs ?? 30_000,
            stalledInterval: o.lockMs ?? 30_000,
            // A killed worker's job is re-delivered as often as it takes; only errors count as failed attempts.
            maxStalledCount: 1_000_000,
          },
        );
        worker.on('error', () => {});
        running.set(s.id, { screen: s, worker });
        o.log(`working on screen ${s.id} (${p.plan.total} mutants, ${p.assays.length} assays)`);
      }
      if (running.size > 0) idleSince = performance.now();
      if (o.idleExitMs !== undefined && running.size === 0 && performance.now() - idleSince > o.idleExitMs) break;
      await sleep(1000);
    }
  } finally {
    for (const r of running.values()) await r.worker.close().catch(() => {});
    redis.disconnect();
  }
  return { batches, refused: refused.size };
}
