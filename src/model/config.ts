import { fail } from '../errors.js';

export type Architecture = 'llama' | 'mistral' | 'qwen2';
export const ARCHITECTURES: readonly Architecture[] = ['llama', 'mistral', 'qwen2'];

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  /** each frequency divided by its own factor (llama.cpp's rope_freqs tensor, which holds Llama 3's scaling) */
  | { type: 'factors'; factors: Float32Array };

/**
 * Where RoPE pairs its dimensions inside a head. llama2.c rotates adjacent pairs (0,1),(2,3)…;
 * Hugging Face checkpoints rotate halves (i, i + head_dim/2). Keeping the checkpoint's own layout
 * means a mutant's (row, col) is always a coordinate of the file the user gave us.
 */
export type RopeLayout = 'interleaved' | 'halves';

export interface ModelConfig {
  architecture: Architecture;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxSeqLen: number;
  normEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  ropeLayout: RopeLayout;
  tiedEmbeddings: boolean;
  qkvBias: boolean;
  /** Mistral: a position attends to at most this many positions (itself included). */
  slidingWindow?: number;
  bosId: number;
  /** Generation ends when one of these is sampled (llama2.c's run.c stops at BOS). */
  stopIds: number[];
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    fail(`config has no "${key}"`, file, `add "${key}" (a number) to config.json`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(`config field "${key}" must be a number, got ${JSON.stringify(v)}`, file);
  return v;
}

function positiveInt(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = num(cfg, key, file, fallback);
  if (!Number.isInteger(v) || v <= 0) fail(`config field "${key}" must be a positive integer, got ${v}`, file);
  return v;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Reads a Hugging Face config.json (already parsed) into our config; refuses what the engine cannot run. */
export function parseHfConfig(cfg: Json, file: string, generation: Json = {}): ModelConfig {
  const modelType = cfg.model_type;
  const archs = Array.isArray(cfg.architectures) ? (cfg.architectures as string[]) : [];
  if (typeof modelType !== 'string')
    fail('config has no "model_type"', file, `set "model_type" to one of: ${ARCHITECTURES.join(', ')}`);
  if (!(ARCHITECTURES as readonly string[]).includes(modelType))
    fail(
      `architecture "${modelType}"${archs.length ? ` (${archs.join(', ')})` : ''} is not supported`,
      file,
      `mutascan runs Llama-family decoders: ${ARCHITECTURES.join(', ')}`,
    );
  const architecture = modelType as Architecture;
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') fail(`hidden_act "${String(act)}" is not supported (only silu/SwiGLU)`, file);

  const dim = positiveInt(cfg, 'hidden_size', file);
  const nHeads = positiveInt(cfg, 'num_attention_heads', file);
  const nKvHeads = positiveInt(cfg, 'num_key_value_heads', file, nHeads);
  if (nHeads % nKvHeads !== 0)
    fail(`num_attention_heads (${nHeads}) is not a multiple of num_key_value_heads (${nKvHeads})`, file);
  const headDim = positiveInt(cfg, 'head_dim', file, dim / nHeads);
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} is odd; RoPE needs an even head size`, file);

  let ropeScaling: RopeScaling | undefined;
  const rs = cfg.rope_scaling as Json | null | undefined;
  if (rs) {
    const type = (rs.rope_type ?? rs.type) as string;
    const where = `${file}: rope_scaling`;
    if (type === 'linear') ropeScaling = { type, factor: num(rs, 'factor', where) };
    else if (type === 'llama3')
      ropeScaling = {
        type,
        factor: num(rs, 'factor', where),
        lowFreqFactor: num(rs, 'low_freq_factor', where),
        highFreqFactor: num(rs, 'high_freq_factor', where),
        originalMaxPositionEmbeddings: num(rs, 'original_max_position_embeddings', where),
      };
    else if (type !== 'default')
      fail(`rope_scaling type "${type}" is not supported`, file, 'supported: linear, llama3');
  }

  const qkvBias = architecture === 'qwen2' ? true : cfg.attention_bias === true;
  let slidingWindow: number | undefined;
  if (architecture === 'mistral' && typeof cfg.sliding_window === 'number') slidingWindow = cfg.sliding_window;
  if (architecture === 'qwen2' && cfg.use_sliding_window === true && typeof cfg.sliding_window === 'number')
    slidingWindow = cfg.sliding_window;

  const bosId = ids(generation.bos_token_id ?? cfg.bos_token_id)[0] ?? 1;
  const stopIds = ids(generation.eos_token_id ?? cfg.eos_token_id);

  return {
    architecture,
    dim,
    hiddenDim: positiveInt(cfg, 'intermediate_size', file),
    nLayers: positiveInt(cfg, 'num_hidden_layers', file),
    nHeads,
    nKvHeads,
    headDim,
    vocabSize: positiveInt(cfg, 'vocab_size', file),
    maxSeqLen: positiveInt(cfg, 'max_position_embeddings', file, 2048),
    normEps: num(cfg, 'rms_norm_eps', file, 1e-6),
    ropeTheta: num(cfg, 'rope_theta', file, 10000),
    ropeScaling,
    ropeLayout: 'halves',
    tiedEmbeddings: cfg.tie_word_embeddings === true,
    qkvBias,
    slidingWindow,
    bosId,
    stopIds,
  };
}
