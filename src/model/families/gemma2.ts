/**
 * Gemma 2: norms before and after both blocks, RMSNorm by (1 + w), embeddings times √dim, GeGLU with tanh GELU,
 * scores scaled by query_pre_attn_scalar^−½ and soft-capped, logits soft-capped, and layers alternating between
 * a sliding window (even layers) and full attention.
 */
import { fail } from '../../errors.js';
import type { ModelConfig } from '../config.js';
import type { Family, FieldReader, GgufField } from '../family.js';

export const SANDWICH_NORMS = {
  attnNorm: { hf: 'input_layernorm', gguf: 'attn_norm' },
  attnOutNorm: { hf: 'post_attention_layernorm', gguf: 'post_attention_norm' },
  ffnNorm: { hf: 'pre_feedforward_layernorm', gguf: 'ffn_norm' },
  ffnOutNorm: { hf: 'post_feedforward_layernorm', gguf: 'post_ffw_norm' },
} as const;

/** What every Gemma shares: the activation, the embedding scale, the query scale. */
export function gemmaFromHf(cfg: FieldReader, c: ModelConfig, file: string): void {
  const act = cfg.get('hidden_activation') ?? cfg.get('hidden_act') ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh' && act !== 'gelu_tanh') fail(`hidden_activation "${String(act)}" is not supported for Gemma`, file, 'Gemma uses gelu_pytorch_tanh');
  c.activation = 'gelu_tanh';
  c.embedScale = 'sqrt-dim';
  // Gemma's configs tie by default (the published ones leave the field out)
  c.tiedEmbeddings = cfg.get('tie_word_embeddings') !== false;
  const scalar = cfg.num('query_pre_attn_scalar', c.headDim);
  if (scalar !== c.headDim) c.attnScale = 1 / Math.sqrt(scalar);
  const w = cfg.get('sliding_window');
  if (typeof w === 'number') c.slidingWindow = w;
}

export function gemmaFromGguf(c: ModelConfig): void {
  c.activation = 'gelu_tanh';
  c.embedScale = 'sqrt-dim';
}

export function gemmaToHf(c: ModelConfig): Record<string, unknown> {
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    hidden_act: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: c.attnScale ? 1 / (c.attnScale * c.attnScale) : c.headDim,
    sliding_window: c.slidingWindow ?? null,
  };
}

export const gemma2: Family = {
  name: 'gemma2',
  hfClass: 'Gemma2ForCausalLM',
  gguf: 'gemma2',
  ggufRopeLayout: 'halves',
  norms: SANDWICH_NORMS,
  qkvBias: 'never',
  hfNormOffset: 1,
  fromHf(cfg, c, file) {
    gemmaFromHf(cfg, c, file);
    c.slidingPattern = 2;
    const a = cfg.get('attn_logit_softcapping');
    const f = cfg.get('final_logit_softcapping');
    if (typeof a === 'number') c.attnSoftcap = a;
    if (typeof f === 'number') c.finalSoftcap = f;
  },
  toHf: (c) => ({ ...gemmaToHf(c), attn_logit_softcapping: c.attnSoftcap ?? null, final_logit_softcapping: c.finalSoftcap ?? null }),
  fromGguf(md, c) {
    gemmaFromGguf(c);
    c.slidingPattern = 2;
    const a = md.get('attn_logit_softcapping');
    const f = md.get('final_logit_softcapping');
    if (typeof a === 'number' && a > 0) c.attnSoftcap = a;
    if (typeof f === 'number' && f > 0) c.finalSoftcap = f;
  },
  toGguf(c): GgufField[] {
    const out: GgufField[] = [];
    if (c.attnSoftcap) out.push(['attn_logit_softcapping', { type: 'f32', value: c.attnSoftcap }]);
    if (c.finalSoftcap) out.push(['final_logit_softcapping', { type: 'f32', value: c.finalSoftcap }]);
    return out;
  },
};
