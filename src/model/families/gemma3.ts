/**
 * Gemma 3 (the language model): Gemma 2's layout without soft-capping, with per-head q/k norms (by 1 + w), and
 * five windowed layers to each global one; windowed layers rotate with their own RoPE base (10,000) and skip the
 * global layers' RoPE scaling.
 */
import type { Family } from '../family.js';
import { gemmaFromGguf, gemmaFromHf, gemmaToHf, SANDWICH_NORMS } from './gemma2.js';
import { QK_NORMS } from './qwen3.js';

export const gemma3: Family = {
  name: 'gemma3',
  hfTypes: ['gemma3_text', 'gemma3'],
  hfClass: 'Gemma3ForCausalLM',
  gguf: 'gemma3',
  ggufRopeLayout: 'halves',
  norms: { ...SANDWICH_NORMS, ...QK_NORMS },
  qkvBias: 'never',
  hfNormOffset: 1,
  fromHf(cfg, c, file) {
    gemmaFromHf(cfg, c, file);
    c.qkNorm = 'head';
    c.slidingPattern = cfg.num('sliding_window_pattern', 6);
    c.localRopeTheta = cfg.num('rope_local_base_freq', 10000);
  },
  toHf: (c) => ({ ...gemmaToHf(c), sliding_window_pattern: c.slidingPattern ?? 6, rope_local_base_freq: c.localRopeTheta ?? 10000 }),
  fromGguf(_md, c) {
    gemmaFromGguf(c);
    c.qkNorm = 'head';
    // llama.cpp fixes both for this architecture
    c.slidingPattern = 6;
    c.localRopeTheta = 10000;
  },
  toGguf: () => [],
};
