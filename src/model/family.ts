/**
 * A model family, described once: what its checkpoints call each tensor, where its norms sit, and the numerics
 * its reference implementation adds to the Llama decoder (activation, q/k norms, soft-capping, windows, RoPE
 * bases). Loaders, writers and the synthesizer read the names; the forward pass, the fast path and the backward
 * pass read the numerics from the ModelConfig a family fills in, never the family's name. Adding a family is a
 * file in families/ and its entry in families/index.ts.
 */
import type { Architecture, ModelConfig, RopeLayout } from './config.js';
import type { GgufEntry } from './gguf.js';

/**
 * The per-layer vectors a family may have. attnNorm and ffnNorm are the inputs' norms of the attention and
 * feed-forward blocks (Llama's input_layernorm and post_attention_layernorm); attnOutNorm and ffnOutNorm norm
 * the blocks' outputs before they join the residual stream (Gemma 2/3, OLMo 2); qNorm and kNorm norm the
 * queries and keys before RoPE (per head: Qwen3, Gemma 3; over the whole projection: OLMo 2).
 */
export const NORM_SLOTS = ['attnNorm', 'attnOutNorm', 'ffnNorm', 'ffnOutNorm', 'qNorm', 'kNorm'] as const;
export type NormSlot = (typeof NORM_SLOTS)[number];

/** A tensor's name in each format: after `model.layers.N.` (Hugging Face) and after `blk.N.` (GGUF). */
export interface TensorNames {
  hf: string;
  gguf: string;
}

/** A layer's logical matrices that a family may store fused in one tensor, their rows one after another. */
export type FusablePart = 'q' | 'k' | 'v' | 'gate' | 'up';

/** One tensor holding several logical matrices (Phi-3's qkv_proj = [q; k; v], gate_up_proj = [gate; up]). */
export interface FusedTensor {
  names: TensorNames;
  parts: readonly FusablePart[];
}

/** Reads typed fields of a config (config.json, or a GGUF file's `<arch>.` keys), failing with the field's name. */
export interface FieldReader {
  num(key: string, fallback?: number): number;
  /** the value, or undefined when absent or null */
  get(key: string): unknown;
}

/** A family's config fields, as written into a Hugging Face config.json or under a GGUF file's `<arch>.` prefix. */
export type GgufField = [key: string, entry: GgufEntry];

export interface Family {
  /** model_type in config.json; ModelConfig.architecture */
  name: Architecture;
  /** the model_type values of its config.json files (default: name); the first is written */
  hfTypes?: string[];
  /** architectures[0] of the config.json written for it */
  hfClass: string;
  /** general.architecture of its GGUF files */
  gguf: string;
  /** how the family's GGUF files order the rows of q and k: `interleaved` where llama.cpp's converter permutes them */
  ggufRopeLayout: RopeLayout;
  /** the norms each layer has, by name */
  norms: Partial<Record<NormSlot, TensorNames>>;
  /** q/k/v biases: always (Qwen2), when config.json's attention_bias says so, or never */
  qkvBias: 'always' | 'config' | 'never';
  /**
   * Gemma's Hugging Face checkpoints store norm weights as w − 1 (RMSNorm multiplies by 1 + w), its GGUF files
   * the sum (llama.cpp's converter adds the 1): the offset the HF files need.
   */
  hfNormOffset?: number;
  /** tensors that hold several logical matrices; the others are one tensor each */
  fused?: readonly FusedTensor[];
  /** whether RoPE may rotate fewer dimensions than a head has (Phi-3's partial_rotary_factor) */
  partialRotary?: boolean;
  /** the family's numerics from its config.json (after the common fields are read into `c`) */
  fromHf(cfg: FieldReader, c: ModelConfig, file: string): void;
  /** the family's own config.json fields for `c` */
  toHf(c: ModelConfig): Record<string, unknown>;
  /** the family's numerics from its GGUF metadata (`<arch>.` keys) */
  fromGguf(md: FieldReader, c: ModelConfig, file: string): void;
  /** the family's own GGUF keys (without the `<arch>.` prefix) */
  toGguf(c: ModelConfig): GgufField[];
}

/** The layers of `c` that attend within a sliding window (none without one; every layer without a pattern). */
export function windowed(c: ModelConfig, layer: number): boolean {
  if (!c.slidingWindow) return false;
  return !c.slidingPattern || (layer + 1) % c.slidingPattern !== 0;
}

/** The size of layer l's window, 0 for full attention. */
export function windowOf(c: ModelConfig, layer: number): number {
  return windowed(c, layer) ? c.slidingWindow! : 0;
}

export const nothing = (): Record<string, unknown> => ({});
export const noFields = (): GgufField[] => [];
export const ignore = (): void => {};
