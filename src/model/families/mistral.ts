/** Mistral 7B (and Zephyr): Llama with a sliding window; llama.cpp runs it as `llama`, without the window. */
import { ignore, noFields, type Family } from '../family.js';
import { PRE_NORMS } from './llama.js';

export const mistral: Family = {
  name: 'mistral',
  hfClass: 'MistralForCausalLM',
  gguf: 'llama',
  ggufRopeLayout: 'interleaved',
  norms: PRE_NORMS,
  qkvBias: 'never',
  fromHf(cfg, c) {
    const w = cfg.get('sliding_window');
    if (typeof w === 'number') c.slidingWindow = w;
  },
  toHf: (c) => ({ sliding_window: c.slidingWindow ?? null }),
  fromGguf: ignore,
  toGguf: noFields,
};
