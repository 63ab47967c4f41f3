/** Qwen2 / Qwen2.5: Llama with q/k/v biases. */
import { ignore, noFields, type Family } from '../family.js';
import { PRE_NORMS } from './llama.js';

export const qwen2: Family = {
  name: 'qwen2',
  hfClass: 'Qwen2ForCausalLM',
  gguf: 'qwen2',
  ggufRopeLayout: 'halves',
  norms: PRE_NORMS,
  qkvBias: 'always',
  fromHf(cfg, c) {
    const w = cfg.get('sliding_window');
    if (cfg.get('use_sliding_window') === true && typeof w === 'number') c.slidingWindow = w;
  },
  toHf: (c) => ({ use_sliding_window: c.slidingWindow !== undefined, sliding_window: c.slidingWindow ?? null }),
  fromGguf: ignore,
  toGguf: noFields,
};
