import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import type { ChatTemplate } from './chat.js';
import type { ModelConfig } from './config.js';
import { loadGguf } from './load-gguf.js';
import { loadHfFolder } from './load-hf.js';
import { loadLlama2c } from './load-llama2c.js';
import type { Tokenizer } from './tokenizer.js';
import { Llama2cTokenizer } from './tokenizer-llama2c.js';
import type { ModelWeights } from './weights.js';

/** Sampling defaults a checkpoint may bring (generation_config.json). */
export interface GenerationDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxLength?: number;
  maxNewTokens?: number;
}

export interface Model {
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;
  readonly chatTemplate?: ChatTemplate;
  readonly defaults: GenerationDefaults;
  /** What was loaded: the checkpoint format and the files it came from. */
  readonly source: { format: 'llama2c' | 'hf' | 'gguf'; path: string; files: string[]; /** matrices memory-mapped */ mapped: boolean };
}

export interface LoadOptions {
  /** A llama2.c tokenizer.bin; required for .bin checkpoints unless one sits beside the model. */
  tokenizer?: string;
}

function findLlama2cTokenizer(modelFile: string): string | undefined {
  const dir = dirname(modelFile);
  if (existsSync(join(dir, 'tokenizer.bin'))) return join(dir, 'tokenizer.bin');
  const candidates = readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f) && join(dir, f) !== modelFile);
  return candidates.length === 1 ? join(dir, candidates[0]) : undefined;
}

/** A GGUF file, by its magic (whatever its name). */
function isGguf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

export function loadModel(path: string, opts: LoadOptions = {}): Model {
  const abs = resolve(path);
  if (!existsSync(abs)) fail(`model not found`, abs, 'give a Hugging Face model folder, a .gguf file or a llama2.c .bin file');
  if (statSync(abs).isDirectory()) {
    const f = loadHfFolder(abs);
    let tokenizer = f.tokenizer;
    if (opts.tokenizer) tokenizer = Llama2cTokenizer.load(opts.tokenizer, f.config.vocabSize);
    if (!tokenizer) fail('no tokenizer.json in the model folder', abs, 'add tokenizer.json or pass --tokenizer FILE (a llama2.c tokenizer.bin)');
    const g = f.generation;
    const num = (k: string): number | undefined => (typeof g[k] === 'number' ? (g[k] as number) : undefined);
    const defaults: GenerationDefaults = {
      temperature: g.do_sample === false ? 0 : num('temperature'),
      topP: num('top_p'),
      topK: num('top_k'),
      maxLength: num('max_length'),
      maxNewTokens: num('max_new_tokens'),
    };
    return { config: f.config, weights: f.weights, tokenizer, chatTemplate: f.chatTemplate, defaults, source: { format: 'hf', path: abs, files: f.files, mapped: f.mapped } };
  }
  if (abs.endsWith('.gguf') && !isGguf(abs)) fail('not a GGUF file (its first four bytes are not "GGUF")', abs, 'the file is damaged, or not a GGUF file despite its name');
  if (isGguf(abs)) {
    const g = loadGguf(abs);
    if (opts.tokenizer) fail('--tokenizer is for llama2.c checkpoints; a GGUF file carries its own', abs);
    if (g.dequantized.bytes > 0)
      process.stderr.write(`mutascan: note: ${g.dequantized.types.join(', ')} matrices dequantized to float32 (${(g.dequantized.bytes / 2 ** 20).toFixed(1)} MiB more than the file)\n`);
    return { config: g.config, weights: g.weights, tokenizer: g.tokenizer, chatTemplate: g.chatTemplate, defaults: {}, source: { format: 'gguf', path: abs, files: [abs], mapped: g.mapped } };
  }
  const ckpt = loadLlama2c(abs);
  const tokFile = opts.tokenizer ?? findLlama2cTokenizer(abs);
  if (!tokFile)
    fail(`no tokenizer for ${basename(abs)}`, dirname(abs), 'pass --tokenizer FILE (the llama2.c tokenizer.bin trained with this model)');
  const tokenizer = Llama2cTokenizer.load(tokFile, ckpt.config.vocabSize);
  return { config: ckpt.config, weights: ckpt.weights, tokenizer, defaults: {}, source: { format: 'llama2c', path: abs, files: [abs, resolve(tokFile)], mapped: false } };
}
