/**
 * Runs a screen: load, plan, baseline, null mutant, then every pending mutant in batches of one target,
 * each batch committed in one transaction. Resumes from the store; stops cleanly between batches.
 */
import { createHash } from 'node:crypto';
import { prepareAssays, type Assay } from '../assays/prepare.js';
import type { Backend } from '../backend/backend.js';
import { fail } from '../errors.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { family } from '../model/families/index.js';
import type { Transformer } from '../model/forward.js';
import type { Model } from '../model/model.js';
import { openTransformer } from '../model/open.js';
import { Store, type MutantRow, type ScreenIdentity } from '../store/store.js';
import { describeRun, RunRegistration, type RunKind } from '../store/runs.js';
import { SCHEMA_VERSION } from '../store/schema.js';
import type { Outcome } from '../assays/assay.js';
import { PlainEvaluator, type Evaluator } from './evaluate.js';
import { ChunkSizer, jobInit, JobPool, resolveJobs } from './jobs.js';
import { defaultKvBudget, FastEvaluator } from './fast.js';
import { choosePairs, runPairs } from './pairs.js';
import { matrixStats, mutatedValue, type MatrixStats } from './mutate.js';
import { Plan, type Mutant } from './plan.js';
import { loadScreenSpec, type ScreenSpec } from '../spec/spec.js';
import type { MissedEstimate } from '../store/predictions.js';

export interface RunOptions {
  specFile: string;
  storePath: string;
  backend?: string;
  threads?: number;
  /** force the plain path */
  plain?: boolean;
  /** seconds between commits (a crash loses at most this much work) */
  commitSeconds?: number;
  onStart?(info: { total: number; done: number; resumed: boolean; notes: string[] }): void;
  onProgress?(done: number, total: number): void;
  /** something to tell the person running the screen while it runs */
  onNote?(line: string): void;
  shouldStop?(): boolean;
  /** run at most this many mutants, then stop as if interrupted (the rest can be resumed) */
  limit?: number;
  /** screening processes (jobs.ts); 'auto' picks one per core for small models; default 1 */
  jobs?: number | 'auto';
  /**
   * which mutants the run evaluates and in what order, when not all in plan order (src/predict/guide.ts: the
   * predicted order, a budget); a screen file asking for one (`order: predicted`, `select`) needs it
   */
  guide?: RunGuide;
}

/** What a guided run evaluates: ordinals in order (the null mutant apart), and with a budget, its two parts. */
export interface RunSelection {
  order: number[];
  budget?: { top: number[]; sample: number[]; rest: number };
}

/** How a run is guided: its selection once the store is open, and what a finished budget estimates. */
export interface RunGuide {
  /** undefined: every mutant in plan order */
  select(p: PreparedScreen, store: Store, note: (line: string) => void): RunSelection | undefined;
  /** after every mutant of a budgeted selection is done: the NSMs it missed, per assay (stored) */
  finish(store: Store, s: RunSelection): MissedEstimate[];
}

/** A guided run's progress: the mutants of its selection done, the null mutant counted (of order.length + 1). */
export function selectionDone(store: Store, selection: RunSelection): number {
  const open = new Set(store.pending());
  return selection.order.length + 1 - selection.order.filter((x) => open.has(x)).length - (open.has(0) ? 1 : 0);
}

/** What a run reports of its budget; once every mutant of it is done, the estimate of the NSMs missed (stored). */
export function budgetSummary(guide: RunGuide, store: Store, selection: RunSelection, complete: boolean): RunSummary['budget'] {
  const b = selection.budget;
  if (!b) return undefined;
  return { top: b.top.length, sample: b.sample.length, estimates: complete ? guide.finish(store, selection) : undefined };
}

export interface RunSummary {
  total: number;
  done: number;
  ranNow: number;
  stopped: boolean;
  seconds: number;
  rechecks: number;
  /** screening processes used */
  jobs?: number;
  /** runs sharing the store that still hold mutants when this one had nothing left to claim */
  others?: { run: string; mutants: number }[];
  /** a budgeted run: what it screened, and (once all of it is done) the NSMs it estimates it missed */
  budget?: { top: number; sample: number; estimates?: MissedEstimate[] };
  /** the screen's double mutants (pairs:), screened once its singles are done */
  pairs?: { total: number; done: number; ranNow: number };
}

export interface PreparedScreen {
  spec: ScreenSpec;
  model: Model;
  backend: Backend;
  tf: Transformer;
  plan: Plan;
  assays: Assay[];
  /** what the person running the screen should know (dropped shots, short subjects) */
  notes: string[];
  stats: (m: Mutant) => MatrixStats;
  specHash: string;
}

/** Everything a runner (local or a worker) needs, from a screen file. */
export async function prepareScreen(specFile: string, backendName?: string, threads?: number): Promise<PreparedScreen> {
  return prepareFromSpec(loadScreenSpec(specFile), backendName, threads);
}

/**
 * The same from a parsed screen file. `onModel` sees the model as soon as it is loaded, before the baselines
 * are computed (a worker checks its fingerprint there).
 */
export async function prepareFromSpec(spec: ScreenSpec, backendName?: string, threads?: number, onModel?: (model: Model) => void): Promise<PreparedScreen> {
  const { model, tf } = await openTransformer(spec.model, { tokenizer: spec.tokenizer, backend: backendName, threads, onModel });
  const backend = tf.backend;
  const plan = Plan.of(spec, model);
  const assays = prepareAssays(spec, model, tf);
  const notes = assays.flatMap((a) => (a.type === 'generate' ? [] : a.notes));
  const statsCache = new Map<string, MatrixStats>();
  const stats = (m: Mutant): MatrixStats => {
    const t = m.target!;
    let s = statsCache.get(t.short);
    if (!s) statsCache.set(t.short, (s = matrixStats(t.weights)));
    return s;
  };
  const specHash = createHash('sha256')
    .update(JSON.stringify({ targets: plan.targets.map((t) => t.tensor), unit: spec.unit, kinds: spec.kindNames, assays: assays.map((a) => [a.name, a.type, a.settingsJson]) }))
    .digest('hex');
  return { spec, model, backend, tf, plan, assays, notes, stats, specHash };
}

function mutantRows(p: PreparedScreen): Iterable<MutantRow> {
  return {
    *[Symbol.iterator]() {
      for (let i = 0; i < p.plan.total; i++) {
        const m = p.plan.mutant(i);
        const k = m.kind;
        const value = !k || k.type === 'scale' || k.type === 'negate' ? null : mutatedValue(k, 0, p.stats(m));
        yield { id: i, key: m.key, target: m.target?.short ?? null, row: m.unit?.row ?? null, col: m.unit?.col ?? null, rows: m.unit?.rows ?? null, cols: m.unit?.cols ?? null, kind: m.kindName, value };
      }
    },
  };
}

/**
 * Before schema 4, mutascan gave the q/k rows of llama.cpp's `llama` GGUF files in the file's pair order; they are
 * in Hugging Face's order now, so such a screen cannot continue in a store begun before.
 */
function resumableFrom(p: PreparedScreen): ScreenIdentity['resumableFrom'] {
  const pairFile = p.model.source.format === 'gguf' && family(p.model.config.architecture).ggufRopeLayout === 'interleaved';
  if (pairFile && p.plan.targets.some((t) => t.matrix === 'q' || t.matrix === 'k'))
    return { schema: 4, why: "its q/k mutants name rows in llama.cpp's order of this GGUF file, which mutascan now gives in Hugging Face's" };
  return undefined;
}

/** Creates the store of a prepared screen, or opens it to resume (another screen's store is refused). */
export function openScreenStore(p: PreparedScreen, storePath: string): { store: Store; resumed: boolean; migratedFrom?: number } {
  return Store.forRun(
    storePath,
    { specYaml: p.spec.source, specHash: p.specHash, modelPath: p.spec.model, tokenizerPath: p.spec.tokenizer, modelFingerprint: modelFingerprint(p.model.source.files), backend: p.backend.name, numerics: p.backend.numerics(), totalMutants: p.plan.total, resumableFrom: resumableFrom(p) },
    () => ({
      assays: p.assays.map((a) => ({ name: a.name, type: a.type, settingsJson: a.settingsJson, promptIds: a.type === 'generate' ? a.promptIds : a.probes.map((x) => x.ids), baseline: { ids: a.baselineIds, text: a.baselineText } })),
      targets: p.plan.targets.map((t) => {
        const s = matrixStats(t.weights);
        return { short: t.short, tensor: t.tensor, layer: t.layer, matrix: t.matrix, rows: t.weights.rows, cols: t.weights.cols, max: s.max, min: s.min, layout: t.layout };
      }),
      mutants: mutantRows(p),
    }),
  );
}

/**
 * Registers this process with the store (store/runs.ts): a local run joins other local runs, a coordinator
 * shares with nobody. Returns what the person running it should be told.
 */
export function registerRun(store: Store, kind: RunKind, migratedFrom?: number): { reg: RunRegistration; notes: string[] } {
  const { run: reg, others, freed, dead } = RunRegistration.begin(store, kind);
  const coordinator = others.find((r) => r.kind === 'coordinator');
  if (others.length && (kind === 'coordinator' || coordinator)) {
    reg.end();
    const first = coordinator ?? others[0];
    if (first.kind === 'coordinator')
      fail(`a distributed run is filling this store (its coordinator: ${describeRun(first)})`, store.path, 'add machines to it with `mutascan worker --queue <its Redis address>` instead of a second run, or stop it (Ctrl-C) and start again');
    fail(`another run is filling this store (${describeRun(first)})`, store.path, 'a distributed run needs the store to itself: stop that run (Ctrl-C) or let it finish, then start this one');
  }
  const notes: string[] = [];
  if (migratedFrom !== undefined) notes.push(`the store was written with schema ${migratedFrom}; migrated to schema ${SCHEMA_VERSION} (every result kept)`);
  for (const r of others) notes.push(`another run is filling this store (${describeRun(r)}): this run joins it, and each evaluates only mutants the other has not claimed`);
  if (freed) notes.push(`${freed} mutants claimed by a run that is gone (${dead.map(describeRun).join('; ')}) are taken over`);
  return { reg, notes };
}

/** A resumed store must hold the baselines this model computes now. */
export function checkBaselines(p: PreparedScreen, store: Store): void {
  const stored = store.assays();
  p.assays.forEach((a, i) => {
    if (JSON.stringify(stored[i].baseline.ids) !== JSON.stringify(a.baselineIds))
      fail(`assay "${a.name}": the unmutated model's output differs from the baseline stored when the screen began`, store.path, 'the model, engine or backend changed since; start a new store');
  });
}

/** `processes`: screening processes on this machine, which share the default KV budget (defaultKvBudget). */
export function evaluatorFor(p: PreparedScreen, plain: boolean, processes = 1): Evaluator {
  const plainEval = new PlainEvaluator(p.tf, p.assays, p.stats);
  return plain ? plainEval : new FastEvaluator(p.tf, p.assays, p.stats, plainEval, { kvBudget: defaultKvBudget(p.tf, processes) });
}

/** One line per generate assay: how many NSMs decode together, and what bounds it. */
export function decodingNotes(e: Evaluator): string[] {
  if (!(e instanceof FastEvaluator)) return [];
  const gib = (b: number): string => (b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1);
  return e.decoding().map(
    (d) =>
      `${d.assay.includes('" … "') ? 'assays' : 'assay'} "${d.assay}": NSMs decode up to ${d.slots.toLocaleString('en-US')} at a time (keys and values: ${(d.bytesPerSequence / 2 ** 20).toFixed(2)} MiB per sequence, budget ${gib(e.kvBudget)} GiB per screening process; MUTASCAN_KV_MEMORY=<GiB> or --kv-memory changes it)`,
  );
}

/** The null mutant (weights unchanged) must come out silent, or nothing else is worth running. */
export function runNullMutant(p: PreparedScreen, evaluator: Evaluator, store: Store): void {
  const [outcomes] = evaluator.evaluate([p.plan.mutant(0)]);
  const loud = outcomes.findIndex((x) => !x.silent);
  if (loud >= 0)
    fail(`the null mutant (no weight changed) is not silent in assay "${p.assays[loud].name}"`, store.path, 'the engine is not deterministic here; this is a bug, please report it with the screen file');
  store.save([{ ordinal: 0, outcomes }]);
}

export async function runScreen(o: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const p = await prepareScreen(o.specFile, o.backend, o.threads);
  // Screening processes load the screen while this one opens the store (creating a large one takes seconds);
  // the plan's size bounds the pending count, and a pool that turns out not to be needed is closed.
  const jobsAtMost = resolveJobs(o.jobs, p, p.plan.total);
  const starting =
    jobsAtMost > 1
      ? JobPool.start(
          jobsAtMost,
          jobInit(o, p.assays.map((a) => a.baselineIds), jobsAtMost),
          o.storePath,
        )
      : undefined;
  // A failure to start is reported where the pool is awaited, not as an unhandled rejection meanwhile.
  starting?.catch(() => undefined);
  let dropped = false;
  const dropPool = (): void => {
    if (!dropped) starting?.then((pool) => pool.close(), () => undefined);
    dropped = true;
  };
  let opened: ReturnType<typeof openScreenStore>;
  let shared: ReturnType<typeof registerRun>;
  try {
    opened = openScreenStore(p, o.storePath);
    try {
      shared = registerRun(opened.store, 'local', opened.migratedFrom);
    } catch (e) {
      opened.store.close();
      throw e;
    }
  } catch (e) {
    dropPool();
    throw e;
  }
  const { store, resumed } = opened;
  const { reg } = shared;
  try {
    if (resumed) checkBaselines(p, store);
    const evaluator = evaluatorFor(p, o.plain === true, jobsAtMost);
    let pending = store.pending();
    let total = p.plan.total;
    let done = store.countDone();
    const guideNotes: string[] = [];
    if (!o.guide && (p.spec.order === 'predicted' || p.spec.select))
      fail('the screen file asks for a guided run (order: predicted, or select), which this caller of runScreen does not provide', p.spec.file, 'run it with `mutascan run`, or drop order/select from the file');
    const selection = o.guide?.select(p, store, (line) => guideNotes.push(line));
    if (selection) {
      // The run's own goal replaces the plan: its mutants in its order, its progress counted against them.
      const open = new Set(pending);
      pending = [...(open.has(0) ? [0] : []), ...selection.order.filter((x) => open.has(x))];
      total = selection.order.length + 1;
      done = total - pending.length;
    }
    o.onStart?.({ total, done, resumed, notes: [...shared.notes, ...p.notes, ...guideNotes, ...decodingNotes(evaluator)] });
    let ranNow = 0;
    let stopped = false;

    if (pending[0] === 0 && reg.claim([0]).length) {
      runNullMutant(p, evaluator, store);
      pending.shift();
      done = store.countDone();
      ranNow++;
    }

    const commitMs = (o.commitSeconds ?? 1) * 1000;
    // Work is handed out in chunks of one target (jobs.ts sizes them)
    const chunks = new ChunkSizer(evaluator instanceof FastEvaluator ? evaluator.passSize() : 1);
    const goal = selection && new Set(selection.order);
    let i = 0;
    let handedOut = ranNow;
    let others: RunSummary['others'];
    // Mutants are claimed in the store as they are handed out, so runs sharing the store never evaluate one twice;
    // once this run's list is used up it takes over what runs that died had claimed.
    const nextChunk = (): number[] | undefined => {
      for (;;) {
        if (i >= pending.length) {
          const left = reg.leftovers();
          if (left.freed) o.onNote?.(`${left.freed} mutants claimed by a run that is gone are taken over`);
          others = left.holders.map((h) => ({ run: describeRun(h.run), mutants: h.mutants }));
          // a guided run takes over only mutants of its own goal
          const free = goal ? left.free.filter((x) => goal.has(x)) : left.free;
          if (!free.length) return undefined;
          pending = free;
          i = 0;
        }
        if (o.shouldStop?.() || (o.limit !== undefined && handedOut >= o.limit)) {
          stopped = true;
          return undefined;
        }
        const ti = p.plan.targetIndexOf(pending[i]);
        const room = o.limit === undefined ? chunks.size : Math.min(chunks.size, o.limit - handedOut);
        const candidates: number[] = [];
        while (i < pending.length && candidates.length < room && p.plan.targetIndexOf(pending[i]) === ti) candidates.push(pending[i++]);
        const chunk = reg.claim(candidates);
        if (!chunk.length) continue;
        handedOut += chunk.length;
        return chunk;
      }
    };
    let batch: { ordinal: number; outcomes: Outcome[] }[] = [];
    let lastCommit = performance.now();
    let rechecks = 0;
    // other runs sharing the store add to it too: counted again now and then, not at every commit
    let lastCount = performance.now();
    const commit = (): void => {
      if (!batch.length) return;
      done += store.save(batch);
      ranNow += batch.length;
      batch = [];
      if (!selection && performance.now() - lastCount > 10_000) {
        done = store.countDone();
        lastCount = performance.now();
      }
      reg.heartbeat();
      lastCommit = performance.now();
      o.onProgress?.(done, total);
    };
    const collect = (results: { ordinal: number; outcomes: Outcome[] }[]): void => {
      batch.push(...results);
      if (performance.now() - lastCommit >= commitMs) commit();
    };

    const jobs = starting && resolveJobs(o.jobs, p, pending.length) > 1 ? jobsAtMost : 1;
    if (jobs <= 1) {
      dropPool();
      for (let chunk = nextChunk(); chunk; chunk = nextChunk()) {
        const c = chunk;
        const started = performance.now();
        collect(evaluator.evaluate(c.map((x) => p.plan.mutant(x))).map((outcomes, k) => ({ ordinal: c[k], outcomes })));
        chunks.measured(c.length, performance.now() - started);
        // Let signal handlers (Ctrl-C) and timers run between chunks (a chunk is about a second of work).
        await new Promise((resolve) => setImmediate(resolve));
      }
      commit();
      rechecks = evaluator.rechecks;
    } else {
      const pool = await starting!;
      try {
        await Promise.all(
          pool.procs.map(async (proc) => {
            for (let chunk = nextChunk(); chunk; chunk = nextChunk()) {
              const started = performance.now();
              const r = await proc.run(chunk);
              chunks.measured(chunk.length, performance.now() - started);
              rechecks += r.rechecks;
              collect(r.results);
            }
          }),
        );
      } finally {
        commit();
      }
      rechecks += evaluator.rechecks;
    }
    done = selection ? selectionDone(store, selection) : store.countDone();
    const budget = selection && budgetSummary(o.guide!, store, selection, done === total);
    let pairs: RunSummary['pairs'];
    if (p.spec.pairs && !stopped && done === total && !selection) {
      const chosen = choosePairs(p, store, p.spec.pairs);
      o.onNote?.(`screening ${chosen} pairs of singles (${p.spec.pairs.among}) on the plain path`);
      const ranPairs = await runPairs(p, store, { shouldStop: o.shouldStop });
      const pairsDone = store.db.prepare('SELECT count(*) FROM pairs WHERE done = 1').pluck().get() as number;
      pairs = { total: chosen, done: pairsDone, ranNow: ranPairs };
      stopped ||= pairsDone < chosen;
    }
    return { total, done, ranNow, stopped: stopped || done < total, seconds: (performance.now() - t0) / 1000, rechecks, jobs, others: others?.length ? others : undefined, budget, pairs };
  } finally {
    try {
      reg.end();
    } catch {
      // a full disk or a lost file: the claims stay, and the next run finds this process gone and takes them over
    }
    store.close();
    dropPool();
  }
}
