import { makeDirs } from '../util/dirs.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from './config.js';
import { writeSafetensors, type TensorToWrite } from './safetensors.js';
import type { Llama2cTokenizer } from './tokenizer-llama2c.js';
import type { Matrix, ModelWeights } from './weights.js';

/**
 * llama2.c → Hugging Face folder.
 *
 * Coordinates: llama2.c rotates adjacent pairs (2i, 2i+1) of each head, Hugging Face rotates halves (i, i+d/2).
 * Within every head of q_proj and k_proj, HF row i is llama2.c row 2i and HF row i + d/2 is llama2.c row 2i+1;
 * all other matrices (and the columns of q/k) keep their coordinates. With this permutation the two models
 * compute the very same numbers.
 */
export function hfRowOfLlama2cRow(row: number, headDim: number): number {
  const head = Math.floor(row / headDim);
  const r = row % headDim;
  return head * headDim + (r % 2 === 0 ? r / 2 : headDim / 2 + (r - 1) / 2);
}

function permuteRows(m: Matrix, headDim: number): Float32Array {
  const src = m.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let r = 0; r < m.rows; r++) out.set(src.subarray(r * m.cols, (r + 1) * m.cols), hfRowOfLlama2cRow(r, headDim) * m.cols);
  return out;
}

const f32 = (name: string, shape: number[], a: Float32Array): TensorToWrite => ({ name, dtype: 'F32', shape, data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });

export function hfConfigJson(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
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
    attention_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
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

export function convertLlama2c(config: ModelConfig, w: ModelWeights, tok: Llama2cTokenizer, out: string): void {
  makeDirs(out);
  const c = config;
  const tensors: TensorToWrite[] = [f32('model.embed_tokens.weight', [c.vocabSize, c.dim], w.embed.data as Float32Array)];
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    tensors.push(f32(`${p}.input_layernorm.weight`, [c.dim], l.attnNorm));
    tensors.push(f32(l.q.name, [l.q.rows, l.q.cols], permuteRows(l.q, c.headDim)));
    tensors.push(f32(l.k.name, [l.k.rows, l.k.cols], permuteRows(l.k, c.headDim)));
    for (const m of [l.v, l.o]) tensors.push(f32(m.name, [m.rows, m.cols], m.data as Float32Array));
    tensors.push(f32(`${p}.post_attention_layernorm.weight`, [c.dim], l.ffnNorm));
    for (const m of [l.gate, l.up, l.down]) tensors.push(f32(m.name, [m.rows, m.cols], m.data as Float32Array));
  });
  tensors.push(f32('model.norm.weight', [c.dim], w.finalNorm));
  if (!c.tiedEmbeddings) tensors.push(f32('lm_head.weight', [c.vocabSize, c.dim], w.lmHead.data as Float32Array));
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  const json = (name: string, v: unknown): void => writeFileSync(join(out, name), JSON.stringify(v, null, 2) + '\n');
  json('config.json', hfConfigJson(c));
  // llama2.c models end a story by emitting BOS (run.c stops there), so that is the stop token here.
  json('generation_config.json', { bos_token_id: 1, eos_token_id: 1 });
  json('tokenizer.json', tokenizerJson(tok));
  json('tokenizer_config.json', { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false, model_max_length: c.maxSeqLen, tokenizer_class: 'LlamaTokenizer' });
}
