/**
 * The models bench:peer and bench:peer-screen run, and their GGUF files in each type, made once into
 * bench/.cache/ (the 7B shape: about 14 GB and some minutes): stories260K, and random models of SmolLM-135M's,
 * Llama-3.2-1B's and Llama-2-7B's shapes with the Llama 2 vocabulary.
 */
import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { likeSpec } from '../src/make/like.js';
import { writeModelGguf } from '../src/make/to-gguf.js';
import { loadModel } from '../src/model/model.js';
import { allMatrices, type ModelWeights } from '../src/model/weights.js';
import { cachedSynth, SMOLLM_135M_SHAPE } from './synth-cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'bench', '.cache');
const SHARED = join(ROOT, '..', 'shared');
const TOKENIZER = join(SHARED, 'tokenizers', 'llama2', 'tokenizer.bin');

export type DType = 'F32' | 'F16' | 'BF16';
export interface Size {
  key: string;
  name: string;
  /** a model file or folder mutascan opens, written to GGUF per type */
  source: () => string;
  dtypes: DType[];
  decodeSteps: number;
}

export const SIZE_LIST: Size[] = [
  { key: '260k', name: 'stories260K', source: () => join(SHARED, 'models', 'stories260K-gguf', 'stories260K.gguf'), dtypes: ['F32', 'BF16'], decodeSteps: 64 },
  { key: '135m', name: 'SmolLM-135M shape', source: () => cachedSynth('smollm-135m-shape-tok', { ...SMOLLM_135M_SHAPE, tokenizer: TOKENIZER }), dtypes: ['F32', 'F16', 'BF16'], decodeSteps: 32 },
  { key: '1b', name: 'Llama-3.2-1B shape', source: () => cachedSynth('llama-3.2-1b', likeSpec('llama-3.2-1b', { tokenizer: TOKENIZER })), dtypes: ['F32', 'F16', 'BF16'], decodeSteps: 16 },
  { key: '7b', name: 'Llama-2-7B shape', source: () => cachedSynth('llama-2-7b', likeSpec('llama-2-7b', { tokenizer: TOKENIZER })), dtypes: ['BF16'], decodeSteps: 8 },
];

/**
 * What one decoding step costs the weights: the bytes it reads (one row of an embedding table that is not also
 * the classifier, every other matrix whole, in the type it is held in) and the parameters its products multiply.
 */
export function tokenCost(w: ModelWeights): { bytes: number; params: number } {
  let bytes = 0;
  let params = 0;
  for (const m of allMatrices(w).values()) {
    if (m === w.embed && w.lmHead !== w.embed) {
      bytes += m.data.byteLength / m.rows;
      continue;
    }
    bytes += m.data.byteLength;
    params += m.rows * m.cols;
  }
  return { bytes, params };
}

/** The size's GGUF file in a type, written once. */
export function gguf(s: Size, dtype: DType): string {
  const out = join(CACHE, `peer-${s.key}-${dtype.toLowerCase()}.gguf`);
  if (!existsSync(out)) {
    process.stderr.write(`bench: writing ${out} (once)…\n`);
    writeModelGguf(loadModel(s.source()), `${out}.partial`, { dtype });
    renameSync(`${out}.partial`, out);
  }
  return out;
}

