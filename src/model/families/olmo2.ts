/**
 * OLMo 2: norms on the outputs of attention and of the feed-forward block (none on their inputs), and RMSNorm of
 * the whole query and key projections (all heads together) before RoPE.
 */
import { noFields, type Family } from '../family.js';
import { QK_NORMS } from './qwen3.js';

export const olmo2: Family = {
  name: 'olmo2',
  hfClass: 'Olmo2ForCausalLM',
  gguf: 'olmo2',
  ggufRopeLayout: 'halves',
  norms: {
    attnOutNorm: { hf: 'post_attention_layernorm', gguf: 'post_attention_norm' },
    ffnOutNorm: { hf: 'post_feedforward_layernorm', gguf: 'post_ffw_norm' },
    ...QK_NORMS,
  },
  qkvBias: 'config',
  fromHf(_cfg, c) {
    c.qkNorm = 'whole';
  },
  toHf: (c) => ({ attention_bias: c.qkvBias }),
  fromGguf(_md, c) {
    c.qkNorm = 'whole';
  },
  toGguf: noFields,
};
