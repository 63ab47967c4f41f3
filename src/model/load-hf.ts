import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, MutascanError } from '../errors.js';
import { ChatTemplate } from './chat.js';
import type { ModelConfig } from './config.js';
import { parseHfConfig } from './hf-config.js';
import { mappingAvailable, mapTensors } from './mapped.js';
import { readSafetensorsHeader, readTensor, type TensorInfo } from './safetensors.js';
import { HfTokenizerAdapter } from './tokenizer-hf.js';
import type { Tokenizer } from './tokenizer.js';
import { NORM_SLOTS } from './family.js';
import { family } from './families/index.js';
import { partsOf, storedMatrices, storedRows } from './layout.js';
import { hfMatrixName, layerShapes, matrix, normLength, type DType, type LayerMatrix, type LayerWeights, type Matrix, type ModelWeights } from './weights.js';

type Json = Record<string, unknown>;

function readJson(file: string, required: boolean): Json | undefined {
  if (!existsSync(file)) {
    if (required) fail(`missing ${file.split('/').pop()}`, file, 'a Hugging Face model folder needs config.json and safetensors weights');
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    fail(`not valid JSON: ${(e as Error).message}`, file);
  }
}

/** Every tensor of the folder, from model.safetensors or the shards named by model.safetensors.index.json. */
export function indexTensors(dir: string): Map<string, TensorInfo> {
  const indexFile = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  if (existsSync(indexFile)) {
    const index = readJson(indexFile, true)!;
    const map = index.weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object') fail('index has no "weight_map"', indexFile);
    const shards = new Map<string, Map<string, TensorInfo>>();
    const out = new Map<string, TensorInfo>();
    for (const [name, shard] of Object.entries(map)) {
      const path = join(dir, shard);
      if (!shards.has(shard)) {
        if (!existsSync(path))
          fail(`shard ${shard} (holding ${name}) is missing`, indexFile, 'copy every shard listed in the index into the folder');
        shards.set(shard, readSafetensorsHeader(path));
      }
      const info = shards.get(shard)!.get(name);
      if (!info) fail(`the index puts tensor ${name} in ${shard}, but that shard does not hold it`, path, 'the index and shards disagree');
      out.set(name, info);
    }
    return out;
  }
  if (existsSync(single)) return readSafetensorsHeader(single);
  fail('no model.safetensors or model.safetensors.index.json', dir, 'point at a Hugging Face model folder with safetensors weights');
}

export interface HfFolder {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer?: Tokenizer;
  chatTemplate?: ChatTemplate;
  generation: Json;
  files: string[];
  /** whether the matrices are memory-mapped */
  mapped: boolean;
}

export interface HfLoadOptions {
  /** memory-map matrices (default: when the native addon is there) */
  map?: boolean;
}

export function loadHfFolder(dir: string, opts: HfLoadOptions = {}): HfFolder {
  const configFile = join(dir, 'config.json');
  const raw = readJson(configFile, true)!;
  const generation = readJson(join(dir, 'generation_config.json'), false) ?? {};
  const config = parseHfConfig(raw, configFile, generation);
  const tensors = indexTensors(dir);
  // F16 stays F16 when every matrix is F16; beside other types it is widened to float32 with them
  const keepF16 = [...tensors.values()].filter((t) => t.shape.length === 2).every((t) => t.dtype === 'F16');
  // Matrices (2-D tensors) are mapped; norms and biases are small and widened to float32, so they are read.
  const mapped = (opts.map ?? mappingAvailable()) ? mapTensors([...tensors.values()].filter((t) => t.shape.length === 2 && (t.dtype !== 'F16' || keepF16))) : new Map();

  const get = (name: string, shape: number[], keep: 'matrix' | 'f32'): Float32Array | Uint16Array => {
    const info = tensors.get(name);
    if (!info) fail(`tensor ${name} is missing`, dir, 'the checkpoint does not match its config.json');
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))
      fail(`tensor ${name} has shape [${info.shape}] but config.json implies [${shape}]`, info.file, 'the checkpoint does not match its config.json');
    return (keep === 'matrix' ? mapped.get(name) : undefined) ?? readTensor(info, { widen: keep === 'f32' || (info.dtype === 'F16' && !keepF16) });
  };
  const dtypeOf = (name: string): DType | undefined => (keepF16 && tensors.get(name)?.dtype === 'F16' ? 'f16' : undefined);
  const mat = (name: string, rows: number, cols: number): Matrix => matrix(name, rows, cols, get(name, [rows, cols], 'matrix'), dtypeOf(name));
  const vec = (name: string, n: number): Float32Array => get(name, [n], 'f32') as Float32Array;

  const c = config;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const fam = family(c.architecture);
  const shapes = layerShapes(c);
  const stored = storedMatrices(fam);
  const embed = mat('model.embed_tokens.weight', c.vocabSize, c.dim);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    const m = {} as Record<LayerMatrix, Matrix>;
    for (const st of stored) {
      const name = `${p}.${st.hf}`;
      const cols = shapes[st.parts[0]][1];
      const data = get(name, [storedRows(st, (k) => shapes[k][0]), cols], 'matrix');
      for (const [k, view] of partsOf(data, cols, st.parts, (k) => shapes[k][0], (k) => hfMatrixName(l, k), dtypeOf(name))) m[k] = view;
    }
    const norms = Object.fromEntries(NORM_SLOTS.flatMap((slot) => {
      const n = fam.norms[slot];
      return n ? [[slot, vec(`${p}.${n.hf}.weight`, normLength(c, slot))]] : [];
    }));
    layers.push({
      ...norms,
      ...m,
      ...(c.qkvBias
        ? { qBias: vec(`${p}.self_attn.q_proj.bias`, qDim), kBias: vec(`${p}.self_attn.k_proj.bias`, kvDim), vBias: vec(`${p}.self_attn.v_proj.bias`, kvDim) }
        : {}),
    });
  }
  const finalNorm = vec('model.norm.weight', c.dim);
  let lmHead = embed;
  if (!c.tiedEmbeddings) {
    if (tensors.has('lm_head.weight')) lmHead = mat('lm_head.weight', c.vocabSize, c.dim);
    else c.tiedEmbeddings = true; // checkpoints that omit lm_head share the embedding, as transformers does
  }

  let tokenizer: Tokenizer | undefined;
  let chatTemplate: ChatTemplate | undefined;
  const tokJson = readJson(join(dir, 'tokenizer.json'), false);
  const tokConfig = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  if (tokJson) {
    try {
      tokenizer = HfTokenizerAdapter.fromJson(tokJson, tokConfig, c.bosId, join(dir, 'tokenizer.json'));
    } catch (e) {
      if (e instanceof MutascanError) throw e;
      fail(`tokenizer.json could not be loaded: ${(e as Error).message}`, join(dir, 'tokenizer.json'));
    }
    if (tokenizer.vocabSize > c.vocabSize)
      fail(
        `tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${c.vocabSize}`,
        join(dir, 'tokenizer.json'),
        'use the tokenizer that belongs to this model',
      );
  }
  const template = tokConfig.chat_template;
  if (typeof template === 'string') {
    const special = (k: string): string => {
      const v = tokConfig[k];
      return typeof v === 'string' ? v : typeof v === 'object' && v && 'content' in v ? String((v as Json).content) : '';
    };
    chatTemplate = new ChatTemplate(template, { bos_token: special('bos_token'), eos_token: special('eos_token') }, join(dir, 'tokenizer_config.json'));
  }
  const files = [...new Set([...tensors.values()].map((t) => t.file))];
  return { config, weights: { embed, layers, finalNorm, lmHead }, tokenizer, chatTemplate, generation, files: [configFile, ...files], mapped: mapped.size > 0 };
}
