import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { makeDirs } from '../util/dirs.js';
import type { ModelConfig } from '../model/config.js';
import type { Model } from '../model/model.js';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors.js';
import { NORM_SLOTS } from '../model/family.js';
import { family } from '../model/families/index.js';
import { permuted, storedTensor, withOffset, type StoredPart } from './to-gguf.js';
import { HfTokenizerAdapter } from '../model/tokenizer-hf.js';
import { Llama2cTokenizer } from '../model/tokenizer-llama2c.js';
import { hfRowOfPairRow, storedMatrices } from '../model/layout.js';
import type { Matrix } from '../model/weights.js';

/**
 * Hugging Face folders from other formats. A llama2.c checkpoint's q/k rows are permuted from its pair order into
 * Hugging Face's halves (layout.ts, hfRowOfPairRow); every other matrix keeps its coordinates.
 */

const f32 = (name: string, shape: number[], a: Float32Array): TensorToWrite => ({ name, dtype: 'F32', shape, data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });

export function hfConfigJson(c: ModelConfig): Record<string, unknown> {
  const fam = family(c.architecture);
  return {
    architectures: [fam.hfClass],
    model_type: (fam.hfTypes ?? [fam.name])[0],
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: c.tiedEmbeddings,
    head_dim: c.headDim,
    ...(c.ropeScaling?.type === 'linear' ? { rope_scaling: { rope_type: 'linear', factor: c.ropeScaling.factor } } : {}),
    ...(c.ropeScaling?.type === 'llama3'
      ? { rope_scaling: { rope_type: 'llama3', factor: c.ropeScaling.factor, low_freq_factor: c.ropeScaling.lowFreqFactor, high_freq_factor: c.ropeScaling.highFreqFactor, original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings } }
      : {}),
    bos_token_id: c.bosId,
    eos_token_id: c.stopIds[0] ?? 2,
    torch_dtype: 'float32',
    ...fam.toHf(c),
  };
}

/**
 * A tokenizer.json (SentencePiece-style BPE with byte fallback) whose merges follow the llama2.c scores.
 * With `vocabSize` above the tokenizer's own, the vocabulary is padded with tokens that never occur
 * (`<unused_N>`), for models whose embedding is larger than their vocabulary.
 */
export function tokenizerJson(tok: Llama2cTokenizer, vocabSize = tok.vocabSize): Record<string, unknown> {
  const special = ['<unk>', '<s>', '</s>'];
  const toHf = (i: number): string => special[i] ?? Buffer.from(tok.pieces[i], 'latin1').toString('utf8').replaceAll(' ', '\u2581');
  const vocab: Record<string, number> = {};
  const names: string[] = [];
  for (let i = 0; i < tok.vocabSize; i++) {
    const p = toHf(i);
    names.push(p);
    if (!(p in vocab)) vocab[p] = i;
  }
  for (let i = tok.vocabSize; i < vocabSize; i++) vocab[`<unused_${i}>`] = i;
  // run.c merges the adjacent pair whose union scores best; a BPE merge list ranked by that score does the same.
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  for (let id = 3; id < tok.vocabSize; id++) {
    const p = names[id];
    if (/^<0x[0-9A-F]{2}>$/.test(p)) continue;
    const chars = [...p];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if (left in vocab && right in vocab) merges.push({ left, right, score: tok.scores[id], id });
    }
  }
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.left.length - b.left.length);
  const added = special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => `${m.left} ${m.right}`),
    },
  };
}

/**
 * Any model mutascan opens (its current weights, mutations included) → a Hugging Face folder. Interleaved models
 * (llama2.c, GGUF `llama`) get their q/k rows permuted into halves (`hfRowOfPairRow`); a Hugging Face model's
 * tokenizer files are copied, a llama2.c/GGUF SentencePiece vocabulary becomes tokenizer.json.
 */
export function writeModelHf(model: Model, out: string, opts: { dtype?: 'F32' | 'F16' | 'BF16' } = {}): void {
  makeDirs(out);
  const c = model.config;
  const w = model.weights;
  const dtype = opts.dtype ?? ({ f32: 'F32', bf16: 'BF16', f16: 'F16' } as const)[w.embed.dtype];
  if (c.ropeScaling?.type === 'factors') fail('per-frequency RoPE factors (rope_freqs.weight) have no Hugging Face config form', model.source.path, 'write this model as GGUF instead');
  const permute = c.ropeLayout === 'interleaved' ? (r: number) => hfRowOfPairRow(r, c.headDim) : undefined;
  const stored = (name: string, parts: StoredPart[]): TensorToWrite => {
    const t = storedTensor(parts, dtype);
    return { name, dtype, shape: [t.rows, t.cols], data: t.data };
  };
  const mat = (name: string, m: Matrix): TensorToWrite => stored(name, [[m]]);
  const vec = (name: string, v: Float32Array, rowOf?: (r: number) => number): TensorToWrite => f32(name, [v.length], permuted(v, rowOf));
  const fam = family(c.architecture);
  // the family's Hugging Face convention for norm vectors (Gemma: w − 1), from the model's own
  const norm = (name: string, v: Float32Array): TensorToWrite => vec(name, withOffset(v, (c.normOffset ?? 0) - (fam.hfNormOffset ?? 0)));
  const tensors: TensorToWrite[] = [mat('model.embed_tokens.weight', w.embed)];
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    for (const slot of NORM_SLOTS) {
      const v = l[slot];
      const n = fam.norms[slot];
      if (v && n) tensors.push(norm(`${p}.${n.hf}.weight`, v));
    }
    for (const st of storedMatrices(fam)) tensors.push(stored(`${p}.${st.hf}`, st.parts.map((k) => [l[k], k === 'q' || k === 'k' ? permute : undefined])));
    if (l.qBias) tensors.push(vec(`${p}.self_attn.q_proj.bias`, l.qBias, permute));
    if (l.kBias) tensors.push(vec(`${p}.self_attn.k_proj.bias`, l.kBias, permute));
    if (l.vBias) tensors.push(vec(`${p}.self_attn.v_proj.bias`, l.vBias));
  });
  tensors.push(norm('model.norm.weight', w.finalNorm));
  if (w.lmHead !== w.embed) tensors.push(mat('lm_head.weight', w.lmHead));
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  const json = (name: string, v: unknown): void => writeFileSync(join(out, name), JSON.stringify(v, null, 2) + '\n');
  json('config.json', { ...hfConfigJson(c), tie_word_embeddings: w.lmHead === w.embed, torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype] });
  json('generation_config.json', { bos_token_id: c.bosId, eos_token_id: c.stopIds.length === 1 ? c.stopIds[0] : c.stopIds });
  if (model.source.format === 'hf') {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
      if (existsSync(join(model.source.path, f))) copyFileSync(join(model.source.path, f), join(out, f));
    return;
  }
  const tok = model.tokenizer;
  if (tok instanceof HfTokenizerAdapter) {
    // a GGUF file's byte-level BPE vocabulary, as the tokenizer.json it was read into
    json('tokenizer.json', tok.json);
    json('tokenizer_config.json', {
      add_bos_token: tok.addsBos, bos_token: tok.addsBos ? tok.tokenText(tok.bosId) : null, eos_token: tok.tokenText(c.stopIds[0] ?? 0), model_max_length: c.maxSeqLen,
      tokenizer_class: 'PreTrainedTokenizerFast', ...(model.chatTemplate ? { chat_template: model.chatTemplate.source } : {}),
    });
    return;
  }
  if (!(tok instanceof Llama2cTokenizer)) fail('the model has no tokenizer that tokenizer.json can hold', model.source.path);
  json('tokenizer.json', tokenizerJson(tok, c.vocabSize));
  json('tokenizer_config.json', {
    bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false, model_max_length: c.maxSeqLen, tokenizer_class: 'LlamaTokenizer',
    ...(model.chatTemplate ? { chat_template: model.chatTemplate.source } : {}),
  });
}
