/**
 * Phi-3 and Phi-4-mini: a Llama decoder whose q, k, v live in one qkv_proj tensor and gate, up in gate_up_proj
 * (gate's rows first, as Phi3MLP chunks them); RoPE over the first partial_rotary_factor of each head (Phi-4-mini:
 * 0.75), with longrope's per-frequency factors and attention factor. llama.cpp keeps the fused tensors
 * (attn_qkv, and ffn_up of 2 × intermediate rows) and reads the factors from rope_factors_{short,long}.weight.
 */
import { fail } from '../../errors.js';
import type { Family, GgufField } from '../family.js';
import { PRE_NORMS } from './llama.js';

export const phi3: Family = {
  name: 'phi3',
  hfClass: 'Phi3ForCausalLM',
  gguf: 'phi3',
  ggufRopeLayout: 'halves',
  norms: PRE_NORMS,
  qkvBias: 'never',
  fused: [
    { names: { hf: 'self_attn.qkv_proj', gguf: 'attn_qkv' }, parts: ['q', 'k', 'v'] },
    { names: { hf: 'mlp.gate_up_proj', gguf: 'ffn_up' }, parts: ['gate', 'up'] },
  ],
  partialRotary: true,
  fromHf(cfg, c, file) {
    const factor = cfg.num('partial_rotary_factor', 1);
    // transformers: int(head_dim · partial_rotary_factor)
    const rd = Math.floor(c.headDim * factor);
    if (!(factor > 0 && factor <= 1) || rd % 2 !== 0 || rd === 0)
      fail(`partial_rotary_factor ${factor} gives ${rd} rotated dimensions of ${c.headDim}`, file, 'it must give a positive even number of dimensions');
    if (rd !== c.headDim) c.ropeDim = rd;
    const s = c.ropeScaling;
    if (s?.type === 'longrope' && s.short.length !== rd / 2)
      fail(`rope_scaling has ${s.short.length} factors per list, the ${rd} rotated dimensions need ${rd / 2}`, file);
    const w = cfg.get('sliding_window');
    if (typeof w === 'number' && w > 0) c.slidingWindow = w;
  },
  toHf(c) {
    const s = c.ropeScaling;
    return {
      ...(c.ropeDim ? { partial_rotary_factor: c.ropeDim / c.headDim } : {}),
      ...(s?.type === 'longrope'
        ? {
            original_max_position_embeddings: s.originalMaxPositionEmbeddings,
            rope_scaling: { rope_type: 'longrope', short_factor: Array.from(s.short), long_factor: Array.from(s.long), attention_factor: s.attnFactor },
          }
        : {}),
      sliding_window: c.slidingWindow ?? null,
    };
  },
  fromGguf() {},
  toGguf(c): GgufField[] {
    const s = c.ropeScaling;
    if (s?.type !== 'longrope') return [];
    return [
      ['rope.scaling.attn_factor', { type: 'f32', value: s.attnFactor }],
      ['rope.scaling.original_context_length', { type: 'u32', value: s.originalMaxPositionEmbeddings }],
    ];
  },
};
