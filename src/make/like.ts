/**
 * Architectures mutascan can imitate with random weights: the paper's two models (Llama-2-7b, Zephyr-7b-beta),
 * SmolLM-135M, and one model of each family since (Llama 3.2 1B, Qwen3 0.6B, OLMo 2 1B, Gemma 2 2B, Gemma 3 1B,
 * Phi-3-mini-4k, Phi-4-mini). Each writes its published config.json field for field (only num_hidden_layers
 * follows --layers, and torch_dtype says bfloat16 because the weights are bf16), the shard layout of the published
 * checkpoint, and the Llama 2 vocabulary as tokenizer. Zephyr brings its chat template. One exception: Phi-4-mini's
 * two lists of 48 longrope factors are not reproduced here; its short factors are written as 1 (the attention
 * factor, which depends only on the two context lengths, is the published model's), and its long factors, which
 * mutascan never uses (its context stops at original_max_position_embeddings), as 1 too.
 */
import type { SynthSpec } from './synth.js';

export const ZEPHYR_CHAT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

export interface LikeModel {
  /** Hugging Face repository this imitates */
  repo: string;
  spec: Omit<SynthSpec, 'seed' | 'tokenizer'>;
  /** the published config.json, num_hidden_layers included (overridden by --layers) */
  config: Record<string, unknown>;
}

export const LIKE: Record<string, LikeModel> = {
  'llama-2-7b': {
    repo: 'meta-llama/Llama-2-7b-hf',
    spec: { architecture: 'llama', dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000, maxSeqLen: 4096, ropeTheta: 10000, normEps: 1e-5, tied: false, dtype: 'BF16', shards: 2 },
    config: {
      architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096,
      initializer_range: 0.02, intermediate_size: 11008, max_position_embeddings: 4096, model_type: 'llama', num_attention_heads: 32,
      num_hidden_layers: 32, num_key_value_heads: 32, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 10000.0,
      tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32000,
    },
  },
  'zephyr-7b-beta': {
    repo: 'HuggingFaceH4/zephyr-7b-beta',
    spec: { architecture: 'mistral', dim: 4096, hiddenDim: 14336, nLayers: 32, nHeads: 32, nKvHeads: 8, vocabSize: 32000, maxSeqLen: 32768, ropeTheta: 10000, normEps: 1e-5, tied: false, slidingWindow: 4096, dtype: 'BF16', shards: 8, chatTemplate: ZEPHYR_CHAT_TEMPLATE },
    config: {
      architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02,
      intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral', num_attention_heads: 32, num_hidden_layers: 32,
      num_key_value_heads: 8, pad_token_id: 2, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 4096, tie_word_embeddings: false,
      torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32000,
    },
  },
  'smollm-135m': {
    repo: 'HuggingFaceTB/SmolLM-135M',
    spec: { architecture: 'llama', dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, maxSeqLen: 2048, ropeTheta: 10000, normEps: 1e-5, tied: true, dtype: 'BF16', shards: 1 },
    config: {
      architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 576,
      initializer_range: 0.02, intermediate_size: 1536, max_position_embeddings: 2048, model_type: 'llama', num_attention_heads: 9,
      num_hidden_layers: 30, num_key_value_heads: 3, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 10000.0,
      tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 49152,
    },
  },
  'llama-3.2-1b': {
    repo: 'meta-llama/Llama-3.2-1B',
    spec: { architecture: 'llama', dim: 2048, hiddenDim: 8192, nLayers: 16, nHeads: 32, nKvHeads: 8, headDim: 64, vocabSize: 128256, maxSeqLen: 131072, tied: true, dtype: 'BF16', shards: 1 },
    config: {
      architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001, head_dim: 64,
      hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false,
      model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
      rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 128256,
    },
  },
  'qwen3-0.6b': {
    repo: 'Qwen/Qwen3-0.6B',
    spec: { architecture: 'qwen3', dim: 1024, hiddenDim: 3072, nLayers: 28, nHeads: 16, nKvHeads: 8, headDim: 128, vocabSize: 151936, maxSeqLen: 40960, tied: true, dtype: 'BF16', shards: 1 },
    config: {
      architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, head_dim: 128,
      hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28,
      model_type: 'qwen3', num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
      rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, use_sliding_window: false, vocab_size: 151936,
    },
  },
  'olmo2-1b': {
    repo: 'allenai/OLMo-2-0425-1B',
    spec: { architecture: 'olmo2', dim: 2048, hiddenDim: 8192, nLayers: 16, nHeads: 16, nKvHeads: 16, vocabSize: 100352, maxSeqLen: 4096, tied: false, dtype: 'BF16', shards: 1 },
    config: {
      architectures: ['Olmo2ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: null, eos_token_id: 100257, hidden_act: 'silu',
      hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 4096, model_type: 'olmo2', num_attention_heads: 16,
      num_hidden_layers: 16, num_key_value_heads: 16, pad_token_id: 100277, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 500000,
      tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 100352,
    },
  },
  'gemma2-2b': {
    repo: 'google/gemma-2-2b',
    spec: { architecture: 'gemma2', dim: 2304, hiddenDim: 9216, nLayers: 26, nHeads: 8, nKvHeads: 4, headDim: 256, vocabSize: 256000, maxSeqLen: 8192, tied: true, dtype: 'BF16', shards: 3 },
    config: {
      architectures: ['Gemma2ForCausalLM'], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: 50.0, bos_token_id: 2, cache_implementation: 'hybrid',
      eos_token_id: 1, final_logit_softcapping: 30.0, head_dim: 256, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', hidden_size: 2304,
      initializer_range: 0.02, intermediate_size: 9216, max_position_embeddings: 8192, model_type: 'gemma2', num_attention_heads: 8, num_hidden_layers: 26,
      num_key_value_heads: 4, pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 4096,
      torch_dtype: 'bfloat16', use_cache: true, vocab_size: 256000,
    },
  },
  'gemma3-1b': {
    repo: 'google/gemma-3-1b-pt',
    spec: { architecture: 'gemma3', dim: 1152, hiddenDim: 6912, nLayers: 26, nHeads: 4, nKvHeads: 1, headDim: 256, vocabSize: 262144, maxSeqLen: 32768, tied: true, dtype: 'BF16', shards: 1 },
    config: {
      architectures: ['Gemma3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: null, bos_token_id: 2, cache_implementation: 'hybrid',
      eos_token_id: 1, final_logit_softcapping: null, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', hidden_size: 1152, initializer_range: 0.02,
      intermediate_size: 6912, max_position_embeddings: 32768, model_type: 'gemma3_text', num_attention_heads: 4, num_hidden_layers: 26, num_key_value_heads: 1,
      pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_local_base_freq: 10000, rope_scaling: null, rope_theta: 1000000,
      sliding_window: 512, sliding_window_pattern: 6, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 262144,
    },
  },
  'phi-3-mini-4k': {
    repo: 'microsoft/Phi-3-mini-4k-instruct',
    spec: { architecture: 'phi3', dim: 3072, hiddenDim: 8192, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32064, maxSeqLen: 4096, tied: false, dtype: 'BF16', shards: 2 },
    config: {
      architectures: ['Phi3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 1, embd_pdrop: 0.0, eos_token_id: 32000, hidden_act: 'silu',
      hidden_size: 3072, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 4096, model_type: 'phi3', num_attention_heads: 32,
      num_hidden_layers: 32, num_key_value_heads: 32, original_max_position_embeddings: 4096, pad_token_id: 32000, resid_pdrop: 0.0, rms_norm_eps: 1e-5,
      rope_scaling: null, rope_theta: 10000.0, sliding_window: 2047, tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32064,
    },
  },
  'phi-4-mini': {
    repo: 'microsoft/Phi-4-mini-instruct',
    spec: { architecture: 'phi3', dim: 3072, hiddenDim: 8192, nLayers: 32, nHeads: 24, nKvHeads: 8, vocabSize: 200064, maxSeqLen: 131072, tied: true, dtype: 'BF16', shards: 2 },
    config: {
      architectures: ['Phi3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 199999, embd_pdrop: 0.0, eos_token_id: 199999, full_attn_mod: 1,
      hidden_act: 'silu', hidden_size: 3072, initializer_range: 0.02, intermediate_size: 8192, interpolate_factor: 1, lm_head_bias: false, max_position_embeddings: 131072,
      mlp_bias: false, model_type: 'phi3', num_attention_heads: 24, num_hidden_layers: 32, num_key_value_heads: 8, original_max_position_embeddings: 4096,
      pad_token_id: 199999, partial_rotary_factor: 0.75, resid_pdrop: 0.0, rms_norm_eps: 1e-5,
      rope_scaling: { long_factor: Array<number>(48).fill(1), short_factor: Array<number>(48).fill(1), type: 'longrope' },
      rope_theta: 10000.0, sliding_window: 262144, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 200064,
    },
  },
};

/** The synth spec for `--like name [--layers n]`. */
export function likeSpec(name: string, opts: { layers?: number; seed?: number; tokenizer?: string }): SynthSpec {
  const like = LIKE[name];
  const nLayers = opts.layers ?? like.spec.nLayers;
  // Small versions keep at most one shard per layer, so a 2-layer model is still sharded but not absurdly so.
  const shards = Math.max(1, Math.min(like.spec.shards, nLayers));
  return {
    ...like.spec,
    nLayers,
    shards,
    seed: opts.seed ?? 0,
    tokenizer: opts.tokenizer,
    config: { ...like.config, num_hidden_layers: nLayers },
  };
}
