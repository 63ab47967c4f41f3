/**
 * The fast path's greedy check (src/screen/greedy-check.ts) decides a step from a few rows of the classifier.
 * Here its answers are compared with the argmax of the whole row, computed by the backend's own product, for
 * classifier inputs moved away from the baseline's by every size of perturbation: the token must be the same
 * whenever the check answers, the check must refuse whenever the baseline token lost, and its margin must never
 * exceed the real top-2 gap. On stories260K (fp32) with both backends, and on a random bf16 model with the
 * native backend's row-exact kernel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { selectBackend } from '../src/backend/select.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { argmax } from '../src/model/sampler.js';
import { writeSynthModel } from '../src/make/synth.js';
import { GreedyCheck } from '../src/screen/greedy-check.js';
import { STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('greedy-check');
after(() => dir.remove());

/** A seeded uniform in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
}

function exercise(model: ReturnType<typeof loadModel>, backend: Backend, ids: number[], tolerance: number): { answered: number; refused: number; lost: number } {
  const tf = new Transformer(model.config, model.weights, backend);
  const head = model.weights.lmHead;
  const dim = model.config.dim;
  const vocab = head.rows;
  const y = tf.forward([{ cache: tf.newCache(ids.length), tokens: ids }], 'all', { classifierInput: true });
  const steps = ids.length;
  const z = new Float32Array(steps * vocab);
  backend.matmul(z, y, steps, head);
  const check = new GreedyCheck(backend, head, y, z, steps, 1e-4);
  const rnd = noise(7);
  const row = new Float32Array(vocab);
  let answered = 0;
  let refused = 0;
  let lost = 0;
  for (const scale of [0, 1e-6, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3]) {
    for (let s = 0; s < steps; s++) {
      const moved = new Float32Array(dim);
      for (let i = 0; i < dim; i++) moved[i] = Math.fround(y[s * dim + i] + scale * rnd());
      const token = argmax(z, s * vocab, vocab).token;
      backend.matmul(row, moved, 1, head);
      const full = argmax(row);
      const fast = check.check(moved, 0, s, token);
      if (full.token !== token) lost++;
      if (!fast) {
        refused++;
        continue;
      }
      answered++;
      assert.equal(full.token, token, `scale ${scale}, step ${s}: the check kept a token the full row does not choose`);
      assert.ok(fast.margin <= full.margin + tolerance, `scale ${scale}, step ${s}: margin ${fast.margin} above the real ${full.margin}`);
      if (scale === 0) assert.ok(fast.margin >= Math.min(full.margin, 1e-4) - tolerance, 'an unmoved input keeps its margin');
    }
  }
  return { answered, refused, lost };
}

describe('greedy check = argmax of the whole classifier row', () => {
  const ids = [1, 403, 407, 261, 378, 284, 355, 263, 349, 312, 284, 400, 267, 438, 346, 260, 290, 373, 275, 270];

  for (const name of ['ts', 'native'] as const) {
    it(`stories260K (fp32), ${name} backend`, async () => {
      const backend = await selectBackend(name);
      const model = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
      // the TypeScript twin computes the check's logits and the full row in the same order; the native full row
      // (BLAS) differs in the last bits
      const r = exercise(model, backend, ids, name === 'ts' ? 0 : 1e-5);
      console.log(`stories260K ${name}: answered ${r.answered}, refused ${r.refused}, baseline token lost ${r.lost}`);
      assert.ok(r.lost > 0, 'large perturbations change some decisions');
      assert.ok(r.answered > r.refused, 'most steps are answered without the whole row');
    });
  }

  it('random bf16 model, native backend (row-exact kernel when the CPU has AVX-512)', async () => {
    const path = join(dir.path, 'bf16');
    writeSynthModel(path, { architecture: 'llama', dim: 128, hiddenDim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 512, maxSeqLen: 64, tied: false, dtype: 'BF16', shards: 1, seed: 3, tokenizer: STORIES_TOK });
    const model = loadModel(path);
    const backend = await selectBackend('native');
    const r = exercise(model, backend, ids, backend.rowExact('bf16') ? 0 : 1e-3);
    console.log(`bf16: answered ${r.answered}, refused ${r.refused}, baseline token lost ${r.lost}`);
    assert.ok(r.lost > 0 && r.answered > 0);
  });
});
