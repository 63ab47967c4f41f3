import { makeDirs } from '../util/dirs.js';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { f32ToF16 } from '../util/float.js';
import { Gaussian } from '../util/random.js';
import type { Architecture } from '../model/config.js';
import { parseHfConfig } from '../model/hf-config.js';
import { tokenizerJson } from './to-hf.js';
import { NORM_SLOTS } from '../model/family.js';
import { family } from '../model/families/index.js';
import { tensorBytes, writeSafetensors, type StDType, type TensorToWrite } from '../model/safetensors.js';
import { Llama2cTokenizer } from '../model/tokenizer-llama2c.js';
import { storedMatrices } from '../model/layout.js';
import { hfMatrixName, layerShapes, normLength, type LayerMatrix } from '../model/weights.js';

/** The shape and format of a synthetic (random-weight) Hugging Face model. */
export interface SynthSpec {
  architecture: Architecture;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim?: number;
  vocabSize: number;
  maxSeqLen: number;
  ropeTheta?: number;
  ropeScaling?: Record<string, unknown>;
  normEps?: number;
  tied: boolean;
  /** q/k/v bias where the family lets config.json choose (qwen2 always has it) */
  attentionBias?: boolean;
  slidingWindow?: number;
  dtype: StDType;
  /** 1 = model.safetensors; more = shards with model.safetensors.index.json */
  shards: number;
  seed: number;
  /**
   * the vocabulary: a llama2.c tokenizer.bin, which becomes tokenizer.json, or a Hugging Face tokenizer.json (or
   * a folder holding one, with its tokenizer_config.json), copied; at most vocabSize tokens either way
   */
  tokenizer?: string;
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
  /** extra fields for config.json */
  configExtra?: Record<string, unknown>;
  /** config.json written as given instead (the exact published config of a named model) */
  config?: Record<string, unknown>;
}

/** A tensor's bytes in pieces of up to 4 Mi values, made in two reused buffers (a 7B model never sits in memory). */
function* encode(values: () => number, count: number, dtype: StDType): Generator<Uint8Array> {
  const piece = Math.min(count, 1 << 22);
  const a = new Float32Array(piece);
  const u = new Uint32Array(a.buffer);
  const out = new Uint16Array(piece);
  for (let done = 0; done < count; done += piece) {
    const n = Math.min(piece, count - done);
    for (let i = 0; i < n; i++) a[i] = values();
    if (dtype === 'F32') yield new Uint8Array(a.buffer, 0, n * 4);
    else {
      if (dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f32ToF16(a[i]);
      else
        for (let i = 0; i < n; i++) {
          // round to nearest even on the bits (f32ToBf16's rule; random weights are never NaN)
          const x = u[i];
          out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
        }
      yield new Uint8Array(out.buffer, 0, n * 2);
    }
  }
}

export function synthConfigJson(s: SynthSpec): Record<string, unknown> {
  const fam = family(s.architecture);
  return {
    architectures: [fam.hfClass],
    model_type: (fam.hfTypes ?? [fam.name])[0],
    hidden_size: s.dim,
    intermediate_size: s.hiddenDim,
    num_hidden_layers: s.nLayers,
    num_attention_heads: s.nHeads,
    num_key_value_heads: s.nKvHeads,
    ...(s.headDim ? { head_dim: s.headDim } : {}),
    vocab_size: s.vocabSize,
    max_position_embeddings: s.maxSeqLen,
    rms_norm_eps: s.normEps ?? 1e-5,
    rope_theta: s.ropeTheta ?? 10000,
    rope_scaling: s.ropeScaling ?? null,
    hidden_act: 'silu',
    tie_word_embeddings: s.tied,
    ...(fam.qkvBias === 'config' ? { attention_bias: s.attentionBias ?? false } : {}),
    ...(s.architecture === 'mistral' || s.architecture.startsWith('gemma') ? { sliding_window: s.slidingWindow ?? null } : {}),
    ...(s.architecture === 'qwen2' || s.architecture === 'qwen3' ? { use_sliding_window: s.slidingWindow !== undefined, sliding_window: s.slidingWindow ?? null } : {}),
    ...(s.architecture.startsWith('gemma') ? { hidden_activation: 'gelu_pytorch_tanh', hidden_act: 'gelu_pytorch_tanh', query_pre_attn_scalar: s.headDim ?? s.dim / s.nHeads } : {}),
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[s.dtype],
    ...s.configExtra,
  };
}

/**
 * Writes a Hugging Face folder with random weights. Matrices are N(0, 1/fan_in) so activations keep their
 * scale through many layers; norms are near 1. Tensors are generated one at a time while they are written.
 */
export function writeSynthModel(dir: string, s: SynthSpec, progress?: (bytesDone: number, bytesTotal: number) => void): void {
  makeDirs(dir);
  const configJson = s.config ?? synthConfigJson(s);
  // the tensors follow the config as mutascan reads it, so what is written is what loads
  const c = parseHfConfig(configJson, join(dir, 'config.json'));
  const fam = family(c.architecture);
  const shapes = layerShapes(c);
  let tensorSeed = s.seed * 7919;
  const t = (name: string, shape: number[], gen: (g: Gaussian) => () => number, dtype: StDType = s.dtype): TensorToWrite => {
    const seed = ++tensorSeed;
    const count = shape.reduce((a, b) => a * b, 1);
    return { name, dtype, shape, data: () => encode(gen(new Gaussian(seed)), count, dtype) };
  };
  const mat = (name: string, rows: number, cols: number, gain = 1): TensorToWrite =>
    t(name, [rows, cols], (g) => () => (g.normal() * gain) / Math.sqrt(cols));
  // norms multiply by about 1 (Gemma's files store w − 1)
  const base = 1 - (c.normOffset ?? 0);
  const norm = (name: string, n: number): TensorToWrite => t(name, [n], (g) => () => base + 0.1 * g.normal());
  const vec = (name: string, n: number): TensorToWrite => t(name, [n], (g) => () => 0.05 * g.normal());

  const tensors: TensorToWrite[] = [t('model.embed_tokens.weight', [s.vocabSize, s.dim], (g) => () => g.normal())];
  for (let l = 0; l < s.nLayers; l++) {
    for (const slot of NORM_SLOTS) {
      const n = fam.norms[slot];
      if (n) tensors.push(norm(`model.layers.${l}.${n.hf}.weight`, normLength(c, slot)));
    }
    // Residual branches are damped so that 32 layers of random weights do not blow the activations up.
    const branch = 1 / Math.sqrt(2 * s.nLayers);
    const gain = (m: LayerMatrix): number => (m === 'o' || m === 'down' ? branch * 2 : m === 'q' || m === 'k' ? 2 : 1);
    for (const st of storedMatrices(fam)) {
      const cols = shapes[st.parts[0]][1];
      if (st.parts.length === 1) tensors.push(mat(hfMatrixName(l, st.parts[0]), shapes[st.parts[0]][0], cols, gain(st.parts[0])));
      else {
        // fused (Phi-3): each part's rows with its own gain, one after another
        const rowGain = st.parts.flatMap((m) => Array<number>(shapes[m][0]).fill(gain(m) / Math.sqrt(cols)));
        tensors.push(t(`model.layers.${l}.${st.hf}`, [rowGain.length, cols], (g) => {
          let i = 0;
          return () => g.normal() * rowGain[Math.floor(i++ / cols)];
        }));
      }
    }
    if (c.qkvBias) {
      tensors.push(vec(`model.layers.${l}.self_attn.q_proj.bias`, shapes.q[0]));
      tensors.push(vec(`model.layers.${l}.self_attn.k_proj.bias`, shapes.k[0]));
      tensors.push(vec(`model.layers.${l}.self_attn.v_proj.bias`, shapes.v[0]));
    }
  }
  tensors.push(norm('model.norm.weight', s.dim));
  if (!c.tiedEmbeddings) tensors.push(mat('lm_head.weight', s.vocabSize, s.dim));

  if (progress) {
    const total = tensors.reduce((a, x) => a + tensorBytes(x), 0);
    let done = 0;
    tensors.forEach((x) => {
      const make = x.data as () => Iterable<Uint8Array>;
      x.data = function* () {
        for (const d of make()) {
          yield d;
          progress((done += d.length), total);
        }
      };
    });
  }
  if (s.shards <= 1) writeSafetensors(join(dir, 'model.safetensors'), tensors);
  else {
    const total = tensors.reduce((a, x) => a + tensorBytes(x), 0);
    const per = Math.ceil(total / s.shards);
    const groups: TensorToWrite[][] = [[]];
    let size = 0;
    for (const x of tensors) {
      if (size >= per && groups.length < s.shards) {
        groups.push([]);
        size = 0;
      }
      groups[groups.length - 1].push(x);
      size += tensorBytes(x);
    }
    const weightMap: Record<string, string> = {};
    groups.forEach((g, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(join(dir, name), g);
      for (const x of g) weightMap[x.name] = name;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  }
  const json = (name: string, v: unknown): void => writeFileSync(join(dir, name), JSON.stringify(v, null, 2) + '\n');
  json('config.json', configJson);
  json('generation_config.json', { bos_token_id: configJson.bos_token_id ?? 1, eos_token_id: configJson.eos_token_id ?? 2 });
  const hfTokenizer = s.tokenizer && (s.tokenizer.endsWith('.json') || statSync(s.tokenizer).isDirectory()) ? s.tokenizer : undefined;
  if (hfTokenizer) {
    const folder = hfTokenizer.endsWith('.json') ? dirname(hfTokenizer) : hfTokenizer;
    const file = hfTokenizer.endsWith('.json') ? hfTokenizer : join(folder, 'tokenizer.json');
    const vocab = (JSON.parse(readFileSync(file, 'utf8')) as { model?: { vocab?: Record<string, number> }; added_tokens?: { id: number }[] });
    const largest = [...Object.values(vocab.model?.vocab ?? {}), ...(vocab.added_tokens ?? []).map((a) => a.id)].reduce((a, b) => Math.max(a, b), -1);
    if (largest >= s.vocabSize) throw new Error(`tokenizer ${file} has token ids up to ${largest}, beyond vocab_size ${s.vocabSize}`);
    copyFileSync(file, join(dir, 'tokenizer.json'));
    if (existsSync(join(folder, 'tokenizer_config.json'))) copyFileSync(join(folder, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  } else if (s.tokenizer) {
    const tok = Llama2cTokenizer.loadAll(s.tokenizer);
    if (tok.vocabSize > s.vocabSize) throw new Error(`tokenizer ${s.tokenizer} has ${tok.vocabSize} tokens, more than vocab_size ${s.vocabSize}`);
    json('tokenizer.json', tokenizerJson(tok, s.vocabSize));
    json('tokenizer_config.json', {
      bos_token: s.bosToken ?? '<s>',
      eos_token: s.eosToken ?? '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      model_max_length: s.maxSeqLen,
      tokenizer_class: 'LlamaTokenizer',
      ...(s.chatTemplate ? { chat_template: s.chatTemplate } : {}),
    });
  }
}
