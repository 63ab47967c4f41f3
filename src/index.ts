/**
 * mutascan as a library: `import { openModel, runScreen, openResults } from 'mutascan'`. The objects a researcher
 * works with — a model to run and mutate, a screen to run, a store of results to read — over the same code the
 * command line runs. Failures a person can act on are `MutascanError`s carrying the messages the CLI prints.
 * docs/api.md walks through it; test/api.test.ts runs that walk-through as written.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { selectBackend } from './backend/select.js';
import { Transformer } from './model/forward.js';
import { generate as generateText, type Generation, type GenerateSettings } from './model/generate.js';
import { loadModel, type Model } from './model/model.js';
import { runGuide } from './predict/guide.js';
import { predictToStore } from './predict/to-store.js';
import { writeReport } from './report/report.js';
import { matrixStats, mutate, restore, type Saved } from './screen/mutate.js';
import { parseMutantKey } from './screen/plan.js';
import { runScreen as run, type RunSummary } from './screen/runner.js';
import { serveStores, type LiveServer, type ServeOptions } from './serve/server.js';
import type { ScreenFile } from './spec/spec.js';
import { iterateExportRows, type ExportRow } from './store/export.js';
import { Store } from './store/store.js';

export { MutascanError } from './errors.js';
export { VERSION } from './version.js';
export type { Model } from './model/model.js';
export type { ModelConfig } from './model/config.js';
export type { Matrix, ModelWeights } from './model/weights.js';
export type { Generation, GenerateSettings } from './model/generate.js';
export type { Mutant, Target } from './screen/plan.js';
export type { RunSummary } from './screen/runner.js';
export type { ScreenFile } from './spec/spec.js';
export type { LiveServer, ServeOptions } from './serve/server.js';
/** One row per mutant and assay, with the columns `mutascan export` writes (docs: the store and exports). */
export type ResultRow = ExportRow;

export interface OpenOptions {
  /** a llama2.c tokenizer.bin, for .bin checkpoints without one beside them */
  tokenizer?: string;
  /** native (default where it is built) or ts, the TypeScript twin */
  backend?: 'auto' | 'ts' | 'native';
  threads?: number;
}

/** A mutant written into the model's weights; `restore` puts back the very bits it overwrote. */
export interface AppliedMutant {
  readonly key: string;
  restore(): void;
}

/** A model ready to run: any file mutascan opens, on a backend. */
export class OpenedModel {
  private constructor(
    readonly model: Model,
    readonly transformer: Transformer,
  ) {}

  /** Opens a Hugging Face folder, a .gguf file or a llama2.c .bin checkpoint. */
  static async open(path: string, o: OpenOptions = {}): Promise<OpenedModel> {
    const model = loadModel(path, { tokenizer: o.tokenizer });
    return new OpenedModel(model, new Transformer(model.config, model.weights, await selectBackend(o.backend, o.threads)));
  }

  get config(): Model['config'] {
    return this.model.config;
  }

  /** Token ids of a text (with BOS where the model's tokenizer starts texts with one, unless `bos: false`). */
  tokenize(text: string, o: { bos?: boolean } = {}): number[] {
    return this.model.tokenizer.encode(text, o);
  }

  /** Teacher-forced next-token logits at every position of `ids`: one row of vocabSize per position. */
  logits(ids: readonly number[]): Float32Array[] {
    const V = this.config.vocabSize;
    const out = this.transformer.forward([{ cache: this.transformer.newCache(ids.length), tokens: ids }], 'all');
    return ids.map((_, p) => out.slice(p * V, (p + 1) * V));
  }

  /** The same as log-probabilities (log-softmax in float64). */
  logprobs(ids: readonly number[]): Float64Array[] {
    return this.logits(ids).map((row) => {
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let sum = 0;
      for (const x of row) sum += Math.exp(x - max);
      const lse = max + Math.log(sum);
      return Float64Array.from(row, (x) => x - lse);
    });
  }

  /** Generates from a prompt with mutascan's sampler (temperature 0: greedy). */
  generate(prompt: string, s: Partial<GenerateSettings> & { chat?: boolean } = {}): Generation {
    const settings: GenerateSettings = { temperature: s.temperature ?? 0, topP: s.topP ?? 0.9, topK: s.topK ?? 0, seed: s.seed ?? 0, maxLength: s.maxLength, maxNewTokens: s.maxNewTokens ?? (s.maxLength === undefined ? 64 : undefined) };
    return generateText(this.model, this.transformer, prompt, settings, s.chat === true);
  }

  /** Writes a mutant, named by its key (`3.down:0,64+64x64:max`, as stores and exports name them), into the weights. */
  mutate(key: string): AppliedMutant {
    const m = parseMutantKey(key, this.model);
    let saved: Saved | undefined = mutate(m.target.weights, m.unit, m.kind, matrixStats(m.target.weights));
    return {
      key,
      restore: () => {
        if (saved) restore(saved);
        saved = undefined;
      },
    };
  }

  /** Runs `fn` with the mutants applied (in order) and puts every weight back afterwards, whatever happens. */
  withMutants<T>(keys: readonly string[], fn: () => T): T {
    const applied: AppliedMutant[] = [];
    try {
      for (const k of keys) applied.push(this.mutate(k));
      return fn();
    } finally {
      for (const a of applied.reverse()) a.restore();
    }
  }
}

/** Opens a model (see OpenedModel.open). */
export const openModel = OpenedModel.open;

export interface ScreenOptions {
  /** a screen file's path, or its contents as an object (relative paths in it are taken from the working folder) */
  screen: string | ScreenFile;
  /** the SQLite store: created, or resumed when it holds this screen */
  store: string;
  backend?: 'auto' | 'ts' | 'native';
  threads?: number;
  /** the plain path: every mutant evaluated by itself (the fast path's definition) */
  plain?: boolean;
  /** screening processes; 'auto' picks one per core for small models */
  jobs?: number | 'auto';
  /** guided runs: the likeliest NSMs first, or only a budget of them */
  order?: 'plan' | 'predicted';
  budget?: number;
  onProgress?(done: number, total: number): void;
  /** what the CLI prints as `note:` lines */
  onNote?(line: string): void;
  /** stops at the next chunk boundary; what was done stays stored and a later run resumes */
  signal?: AbortSignal;
}

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
export async function runScreen(o: ScreenOptions): Promise<RunSummary> {
  const f = screenFileOf(o.screen);
  try {
    return await run({
      specFile: f.file, storePath: o.store, backend: o.backend, threads: o.threads, plain: o.plain, jobs: o.jobs,
      onProgress: o.onProgress, onNote: o.onNote, shouldStop: () => o.signal?.aborted === true,
      guide: runGuide({ order: o.order, budget: o.budget }),
    });
  } finally {
    f.done();
  }
}

/** First-order predictions of every mutant of a screen, stored beside its results (`mutascan predict`). */
export async function predictScreen(o: { screen: string | ScreenFile; store: string; backend?: 'auto' | 'ts' | 'native'; threads?: number; onNote?(line: string): void }) {
  const f = screenFileOf(o.screen);
  try {
    return await predictToStore({ specFile: f.file, storePath: o.store, backend: o.backend, threads: o.threads, onNote: o.onNote });
  } finally {
    f.done();
  }
}

/** A store's results, read-only. */
export class Results {
  private constructor(private readonly store: Store) {}

  static open(path: string): Results {
    return new Results(Store.open(path));
  }

  /** The screen the store holds: its file, model, backend, size, and how much of it is done. */
  get screen(): { specYaml: string; modelPath: string; backend: string; totalMutants: number; done: number; version: string } {
    const s = this.store.screen();
    return { specYaml: s.specYaml, modelPath: s.modelPath, backend: s.backend, totalMutants: s.totalMutants, done: this.store.countDone(), version: s.version };
  }

  /** Every row (mutant × assay), in plan order. */
  rows(): ResultRow[] {
    return [...iterateExportRows(this.store)];
  }

  /** The same, one at a time: `for await (const r of results)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ResultRow> {
    let n = 0;
    for (const r of iterateExportRows(this.store)) {
      yield r;
      // let timers and I/O run now and then on a long read
      if (++n % 10_000 === 0) await new Promise((done) => setImmediate(done));
    }
  }

  close(): void {
    this.store.close();
  }
}

/** Opens a store's results (see Results). */
export const openResults = Results.open;

/** Writes the HTML report, figures and tables of a store into `dir` (`mutascan report`). */
export async function writeStoreReport(store: string, dir: string, o: { model?: string; tokenizer?: string; noEmbed?: boolean; onNote?(line: string): void } = {}): Promise<{ dir: string; figures: number; tables: number }> {
  const s = Store.open(store);
  try {
    const r = await writeReport(s, dir, o.onNote, { model: o.model, tokenizer: o.tokenizer, noEmbed: o.noEmbed });
    return { dir: r.dir, figures: r.figures, tables: r.tables };
  } finally {
    s.close();
  }
}

/** Serves the live page of one or more stores (`mutascan serve`); `close()` on the result stops it. */
export function serve(o: ServeOptions): Promise<LiveServer> {
  return serveStores(o);
}
