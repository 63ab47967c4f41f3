/**
 * A Hugging Face config.json (and generation_config.json) read into a ModelConfig: the common fields here, each
 * family's own through its description (families/).
 */
import { dirname, join } from 'node:path';
import { fail } from '../errors.js';
import type { ModelConfig, RopeScaling } from './config.js';
import type { FieldReader } from './family.js';
import { FAMILIES, familyOfHfType } from './families/index.js';

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

/** bos_token_id / eos_token_id: one id or a list; each a token of the vocabulary, or the file is refused. */
function ids(v: unknown, field: string, file: string, vocabSize: number): number[] {
  const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
  for (const x of list)
    if (!(typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < vocabSize))
      fail(`${field} ${JSON.stringify(x)} is not a token id of the vocabulary (0…${vocabSize - 1})`, file, 'give a whole number below vocab_size, or a list of them');
  return list as number[];
}

/** Reads a Hugging Face config.json (already parsed) into our config; refuses what the engine cannot run. */
export function parseHfConfig(top: Json, file: string, generation: Json = {}): ModelConfig {
  const modelType = top.model_type;
  const archs = Array.isArray(top.architectures) ? (top.architectures as string[]) : [];
  const known = FAMILIES.flatMap((f) => f.hfTypes ?? [f.name]);
  if (typeof modelType !== 'string') fail('config has no "model_type"', file, `set "model_type" to one of: ${known.join(', ')}`);
  const family = familyOfHfType(modelType);
  if (!family)
    fail(
      `architecture "${modelType}"${archs.length ? ` (${archs.join(', ')})` : ''} is not supported`,
      file,
      `mutascan runs these decoder families: ${known.join(', ')}`,
    );
  // multimodal checkpoints (Gemma 3 4B and up) keep the language model's fields under text_config
  const cfg = typeof top.text_config === 'object' && top.text_config !== null ? { ...top, ...(top.text_config as Json) } : top;

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
    else if (type === 'longrope' || type === 'su') ropeScaling = longrope(cfg, rs, file);
    else if (type !== 'default')
      fail(`rope_scaling type "${type}" is not supported`, file, 'supported: linear, llama3, longrope');
  }

  const vocabSize = positiveInt(cfg, 'vocab_size', file);
  // generation_config.json overrides config.json, as transformers reads them
  const idsOf = (field: string): number[] => {
    const fromGeneration = generation[field] !== undefined && generation[field] !== null;
    return ids(fromGeneration ? generation[field] : cfg[field], field, fromGeneration ? join(dirname(file), 'generation_config.json') : file, vocabSize);
  };
  const bosId = idsOf('bos_token_id')[0] ?? 1;
  const stopIds = idsOf('eos_token_id');

  const config: ModelConfig = {
    architecture: family.name,
    dim,
    hiddenDim: positiveInt(cfg, 'intermediate_size', file),
    nLayers: positiveInt(cfg, 'num_hidden_layers', file),
    nHeads,
    nKvHeads,
    headDim,
    vocabSize,
    maxSeqLen: positiveInt(cfg, 'max_position_embeddings', file, 2048),
    normEps: num(cfg, 'rms_norm_eps', file, 1e-6),
    ropeTheta: num(cfg, 'rope_theta', file, 10000),
    ropeScaling,
    ropeLayout: 'halves',
    tiedEmbeddings: cfg.tie_word_embeddings === true,
    qkvBias: family.qkvBias === 'always' || (family.qkvBias === 'config' && cfg.attention_bias === true),
    bosId,
    stopIds,
  };
  // past the original context longrope switches to its long factors, which mutascan does not run
  if (ropeScaling?.type === 'longrope') config.maxSeqLen = Math.min(config.maxSeqLen, ropeScaling.originalMaxPositionEmbeddings);
  if (family.hfNormOffset) config.normOffset = family.hfNormOffset;
  family.fromHf(fieldReader(cfg, file), config, file);
  if ((config.activation ?? 'silu') === 'silu') {
    const act = cfg.hidden_act ?? 'silu';
    if (act !== 'silu') fail(`hidden_act "${String(act)}" is not supported for ${family.name} (only silu/SwiGLU)`, file);
  }
  return config;
}

/**
 * Phi-3's longrope: factors per frequency of the rotated dimensions (checked by the family, which knows them), and
 * the attention factor of transformers and llama.cpp's converter: √(1 + ln(s) / ln(original)), s = max / original.
 */
function longrope(cfg: Json, rs: Json, file: string): RopeScaling {
  const where = `${file}: rope_scaling`;
  const factors = (key: string): Float32Array => {
    const v = rs[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0))
      fail(`rope_scaling.${key} must be a list of positive numbers`, file);
    return Float32Array.from(v as number[]);
  };
  const short = factors('short_factor');
  const long = factors('long_factor');
  if (short.length !== long.length) fail(`rope_scaling has ${short.length} short and ${long.length} long factors`, file, 'the lists must be equally long');
  const original = positiveInt(cfg, 'original_max_position_embeddings', file, positiveInt(rs, 'original_max_position_embeddings', where, 4096));
  const max = positiveInt(cfg, 'max_position_embeddings', file, original);
  const s = max / original;
  const given = rs.attention_factor;
  const attnFactor = typeof given === 'number' ? given : s > 1 ? Math.sqrt(1 + Math.log(s) / Math.log(original)) : 1;
  return { type: 'longrope', short, long, attnFactor, originalMaxPositionEmbeddings: original };
}

/** Typed reads of a config.json's fields, for a family's own ones. */
export function fieldReader(cfg: Json, file: string): FieldReader {
  return {
    num: (key, fallback) => num(cfg, key, file, fallback),
    get: (key) => (cfg[key] === null ? undefined : cfg[key]),
  };
}
