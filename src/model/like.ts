/**
 * Architectures mutascan can imitate with random weights: the paper's two models (Llama-2-7b, Zephyr-7b-beta)
 * and SmolLM-135M. Each writes its published config.json field for field (only num_hidden_layers follows
 * --layers, and torch_dtype says bfloat16 because the weights are bf16), the shard layout of the published
 * checkpoint, and the Llama 2 vocabulary as tokenizer. Zephyr brings its chat template.
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
