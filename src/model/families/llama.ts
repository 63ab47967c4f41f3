/** Llama 1/2/3.x (and SmolLM, TinyLlama, llama2.c models): pre-norm SwiGLU decoder. Llama 3's RoPE scaling is read with the common fields. */
import { ignore, noFields, type Family } from '../family.js';

export const PRE_NORMS = {
  attnNorm: { hf: 'input_layernorm', gguf: 'attn_norm' },
  ffnNorm: { hf: 'post_attention_layernorm', gguf: 'ffn_norm' },
} as const;

export const llama: Family = {
  name: 'llama',
  hfClass: 'LlamaForCausalLM',
  gguf: 'llama',
  // llama.cpp's converter permutes q/k rows into adjacent pairs for this architecture
  ggufRopeLayout: 'interleaved',
  norms: PRE_NORMS,
  qkvBias: 'config',
  fromHf: ignore,
  toHf: (c) => ({ attention_bias: c.qkvBias }),
  fromGguf: ignore,
  toGguf: noFields,
};
