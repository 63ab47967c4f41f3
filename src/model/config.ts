/** What the engine knows of a model's architecture, whichever file it came from (hf-config.ts reads config.json). */

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'olmo2' | 'gemma2' | 'gemma3' | 'phi3';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  /** each frequency divided by its own factor (llama.cpp's rope_freqs tensor, which holds Llama 3's scaling) */
  | { type: 'factors'; factors: Float32Array }
  /**
   * Phi-3's longrope (`su`): each frequency divided by its own factor, the short ones within the original context
   * (the only ones mutascan runs: its context is capped there), and cos/sin multiplied by attnFactor
   */
  | { type: 'longrope'; short: Float32Array; long: Float32Array; attnFactor: number; originalMaxPositionEmbeddings: number };

/**
 * Where RoPE pairs its dimensions inside a head. llama2.c rotates adjacent pairs (0,1),(2,3)…;
 * Hugging Face checkpoints rotate halves (i, i + head_dim/2). Keeping the checkpoint's own layout
 * means a mutant's (row, col) is always a coordinate of the file the user gave us.
 */
export type RopeLayout = 'interleaved' | 'halves';

export interface ModelConfig {
  architecture: Architecture;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxSeqLen: number;
  normEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  ropeLayout: RopeLayout;
  /** RoPE rotates only the first ropeDim dimensions of each head (Phi-3's partial_rotary_factor); default all */
  ropeDim?: number;
  tiedEmbeddings: boolean;
  qkvBias: boolean;
  /** Mistral: a position attends to at most this many positions (itself included). */
  slidingWindow?: number;
  /** with slidingWindow: layer l attends within it unless l + 1 is a multiple of this (Gemma 2: 2, Gemma 3: 6) */
  slidingPattern?: number;
  /** the RoPE base of windowed layers, which also skip ropeScaling (Gemma 3's local layers) */
  localRopeTheta?: number;
  /** RMSNorm multiplies by (normOffset + w): 1 for Gemma's Hugging Face checkpoints, which store w − 1 */
  normOffset?: number;
  /** RMSNorm of queries and keys before RoPE: per head (Qwen3, Gemma 3) or over the whole projection (OLMo 2) */
  qkNorm?: 'head' | 'whole';
  /** the feed-forward block's gate: SiLU (SwiGLU) or GELU with the tanh approximation (GeGLU, Gemma) */
  activation?: 'silu' | 'gelu_tanh';
  /** embeddings multiplied by √dim, rounded to the embedding's dtype as Gemma's reference does */
  embedScale?: 'sqrt-dim';
  /** attention scores multiplied by this instead of 1/√headDim (Gemma's query_pre_attn_scalar^−½) */
  attnScale?: number;
  /** attention scores soft-capped: cap · tanh(score / cap) (Gemma 2) */
  attnSoftcap?: number;
  /** logits soft-capped the same way (Gemma 2) */
  finalSoftcap?: number;
  bosId: number;
  /** Generation ends when one of these is sampled (llama2.c's run.c stops at BOS). */
  stopIds: number[];
}
