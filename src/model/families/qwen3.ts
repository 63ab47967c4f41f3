/** Qwen3 (dense): no q/k/v bias, RMSNorm of each head's query and key before RoPE, head_dim set on its own. */
import { noFields, type Family } from '../family.js';
import { PRE_NORMS } from './llama.js';

export const QK_NORMS = {
  qNorm: { hf: 'self_attn.q_norm', gguf: 'attn_q_norm' },
  kNorm: { hf: 'self_attn.k_norm', gguf: 'attn_k_norm' },
} as const;

export const qwen3: Family = {
  name: 'qwen3',
  hfClass: 'Qwen3ForCausalLM',
  gguf: 'qwen3',
  ggufRopeLayout: 'halves',
  norms: { ...PRE_NORMS, ...QK_NORMS },
  qkvBias: 'config',
  fromHf(cfg, c) {
    c.qkNorm = 'head';
    const w = cfg.get('sliding_window');
    if (cfg.get('use_sliding_window') === true && typeof w === 'number') c.slidingWindow = w;
  },
  toHf: (c) => ({ attention_bias: c.qkvBias, use_sliding_window: false }),
  fromGguf(_md, c) {
    c.qkNorm = 'head';
  },
  toGguf: noFields,
};

