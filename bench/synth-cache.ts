import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';

const CACHE = join(dirname(fileURLToPath(import.meta.url)), '.cache');

/** A random model of SmolLM-135M's shape (hidden 576, 30 layers, 9 heads, 3 kv heads, 1536, vocab 49152, tied). */
export const SMOLLM_135M_SHAPE: SynthSpec = {
  architecture: 'llama', dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, maxSeqLen: 2048,
  ropeTheta: 10000, tied: true, dtype: 'BF16', shards: 1, seed: 135,
};

/** Writes the synthetic model once into bench/.cache and reuses it in later runs. */
export function cachedSynth(name: string, spec: SynthSpec): string {
  const dir = join(CACHE, name);
  if (!existsSync(join(dir, 'config.json'))) {
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    process.stderr.write(`bench: writing ${name} to ${dir} (once)…\n`);
    writeSynthModel(tmp, spec);
    renameSync(tmp, dir);
  }
  return dir;
}
