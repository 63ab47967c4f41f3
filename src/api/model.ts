/** A model to run and mutate, and models made to order (synth): the library's side of model files. */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../errors.js';
import type { Transformer } from '../model/forward.js';
import { writeModelHf } from '../make/to-hf.js';
import { checkLength, generate as generateText, promptIds, type Generation, type GenerateSettings } from '../model/generate.js';
import { LIKE, likeSpec } from '../make/like.js';
import type { Model } from '../model/model.js';
import { openTransformer } from '../model/open.js';
import { plantSuperWeight, type SuperWeight } from '../make/plant.js';
import { writeSynthModel } from '../make/synth.js';
import { writeModelGguf } from '../make/to-gguf.js';
import { scoutSuperWeights, type SuperCandidate } from '../predict/scout.js';
import { matrixStats, mutate, restore, type Saved } from '../screen/mutate.js';
import { mutantKey, resolveMutantName } from '../screen/plan.js';

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

/** Generation settings; what is not given comes from mutascan's defaults (greedy, 64 new tokens). */
export type GenerateOptions = Partial<GenerateSettings> & { chat?: boolean };

/** A model ready to run: any file mutascan opens, on a backend. */
export class OpenedModel {
  private constructor(
    readonly model: Model,
    readonly transformer: Transformer,
  ) {}

  /** Opens a Hugging Face folder, a .gguf file or a llama2.c .bin checkpoint. */
  static async open(path: string, o: OpenOptions = {}): Promise<OpenedModel> {
    const { model, tf } = await openTransformer(path, o);
    return new OpenedModel(model, tf);
  }

  get config(): Model['config'] {
    return this.model.config;
  }

  /** The sampling settings the checkpoint brings (generation_config.json), empty for other formats. */
  get defaults(): Model['defaults'] {
    return this.model.defaults;
  }

  /** Token ids of a text (with BOS where the model's tokenizer starts texts with one, unless `bos: false`). */
  tokenize(text: string, o: { bos?: boolean } = {}): number[] {
    return this.model.tokenizer.encode(text, o);
  }

  /** The ids a prompt is generated from: as `tokenize`, or inside the model's chat template with `chat`. */
  promptIds(prompt: string, o: { chat?: boolean } = {}): number[] {
    return promptIds(this.model, prompt, o.chat === true);
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

  /**
   * Generates from a prompt with mutascan's sampler (temperature 0: greedy). A length given must fit the
   * model's context, or a MutascanError says by how much.
   */
  generate(prompt: string, s: GenerateOptions = {}): Generation {
    if (s.maxLength !== undefined && s.maxNewTokens !== undefined) fail('give maxLength or maxNewTokens, not both');
    const settings: GenerateSettings = { temperature: s.temperature ?? 0, topP: s.topP ?? 0.9, topK: s.topK ?? 0, seed: s.seed ?? 0, maxLength: s.maxLength, maxNewTokens: s.maxNewTokens ?? (s.maxLength === undefined ? 64 : undefined) };
    checkLength(this.promptIds(prompt, s).length, settings, this.config.maxSeqLen);
    return generateText(this.model, this.transformer, prompt, settings, s.chat === true);
  }

  /**
   * Writes a mutant into the weights, named as stores and exports name it (`3.down:0,64+64x64:max`; a multi-mutant
   * joins several with "+", docs/screens.md, *Mutant names*). `restore()` puts back the original bits.
   */
  mutate(name: string): AppliedMutant {
    // (a mapped checkpoint's mapping is private: the write copies the page, never the file)
    let saved: Saved[] | undefined = [];
    const all = resolveMutantName(name, this.model);
    // max and min are the unmutated matrix's, also for a second mutation of the same matrix
    const stats = all.map((m) => matrixStats(m.target.weights));
    try {
      all.forEach((m, i) => saved!.push(mutate(m.target.weights, m.unit, m.kind, stats[i])));
    } catch (e) {
      for (const s of saved.reverse()) restore(s);
      throw e;
    }
    return {
      key: name,
      restore: () => {
        for (const s of (saved ?? []).reverse()) restore(s);
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

  /**
   * Writes the model as it is now (mutants applied included) to `out`: a .gguf file (for llama.cpp and Ollama),
   * anything else a Hugging Face folder; matrices in `dtype`, by default the model's.
   */
  save(out: string, o: { dtype?: 'F32' | 'F16' | 'BF16' } = {}): { format: 'gguf' | 'huggingface'; architecture: string } {
    if (out.endsWith('.gguf')) {
      writeModelGguf(this.model, out, { dtype: o.dtype });
      return { format: 'gguf', architecture: this.config.architecture === 'qwen2' ? 'qwen2' : 'llama' };
    }
    writeModelHf(this.model, out, { dtype: o.dtype });
    return { format: 'huggingface', architecture: this.config.architecture };
  }

  /**
   * One instrumented pass over `ids`: per layer, down_proj's strongest output channel and the single weight
   * feeding it, ranked by the channel's peak over the median channel's (super-weight candidates).
   */
  scoutSuperWeights(ids: readonly number[]): (SuperCandidate & { key: string })[] {
    return scoutSuperWeights(this.transformer, ids).map((c) => ({ ...c, key: superWeightKey(c) }));
  }
}

/** The mutant that zeroes one down_proj weight, the super-weight experiment, as stores name it. */
function superWeightKey(w: { layer: number; row: number; col: number }): string {
  return mutantKey({ short: `${w.layer}.down` }, { row: w.row, col: w.col, rows: 1, cols: 1 }, 'zero');
}

/** Opens a model (see OpenedModel.open). */
export const openModel = OpenedModel.open;

/** The architectures `synthModel` imitates, by name, and the repository each copies. */
export const SYNTH_ARCHITECTURES: Record<string, { repo: string }> = Object.fromEntries(Object.entries(LIKE).map(([k, v]) => [k, { repo: v.repo }]));

export interface SynthOptions {
  /** a name of SYNTH_ARCHITECTURES */
  like: string;
  /** a llama2.c tokenizer.bin with the Llama 2 vocabulary */
  tokenizer: string;
  layers?: number;
  seed?: number;
  /** a large weight planted with its inputs aligned, as super weights are */
  superWeight?: SuperWeight;
  onProgress?(bytesDone: number, bytesTotal: number): void;
}

/** Writes a Hugging Face folder with a published architecture and random bf16 weights. */
export function synthModel(out: string, o: SynthOptions): { dir: string; repo: string; layers: number; seed: number; shards: number; superWeight?: { value: number; key: string } } {
  if (!(o.like in LIKE)) fail(`unknown architecture to imitate: ${o.like}`, undefined, `choose one of: ${Object.keys(LIKE).join(', ')}`);
  const dir = resolve(out);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || existsSync(join(dir, 'config.json')))) fail('already exists', dir, 'choose another output folder, or delete it first');
  const spec = likeSpec(o.like, { layers: o.layers, seed: o.seed, tokenizer: o.tokenizer });
  writeSynthModel(dir, spec, o.onProgress);
  const sw = o.superWeight;
  const planted = sw ? { value: plantSuperWeight(dir, sw).weight, key: superWeightKey(sw) } : undefined;
  return { dir, repo: LIKE[o.like].repo, layers: spec.nLayers, seed: spec.seed, shards: spec.shards, superWeight: planted };
}
