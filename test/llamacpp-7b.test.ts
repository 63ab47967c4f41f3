/**
 * The paper's shapes against llama.cpp: 2-layer Llama-2-7B and Zephyr-7B-beta (Mistral, GQA 32:8) BF16 models,
 * written by `synth --like` with the Llama 2 vocabulary, converted by `mutascan convert` to GGUF, at a few tokens
 * (the paper's prompt).
 *
 * The same weights widened to F32 (`convert --dtype f32`) must agree within 1e-4, as F32 models do at small sizes
 * (5e-5; sums 20 to 50 times longer here): so the architecture, the file and the coordinates are right, and what
 * the BF16 files differ by is BF16 arithmetic. Both engines round activations to BF16 before each BF16 product, and
 * where their summation orders put an activation on two sides of a rounding boundary it moves by 2^-9 of itself;
 * at 4096 and 11008 wide the logits sum many more such flips than the small models' (1e-2 there). Tolerance 5e-2,
 * measured 1.7e-2 and 2.0e-2; greedy tokens identical.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../src/backend/select.js';
import type { Backend } from '../src/backend/backend.js';
import { loadModel } from '../src/model/model.js';
import { LLAMA2_TOK, readJsonl, runCli, tempDir } from './helpers.js';
import { greedyAgreement, logitsOf, worstLogprob } from './reference/compare.js';
import { llamaCppLogprobs } from './reference/llamacpp.js';

const DROSOPHILA = readJsonl<{ text: string; ids: number[] }>(join(LLAMA2_TOK, 'expected-encode.jsonl'))[0];

let backend: Backend;
before(async () => {
  backend = await selectBackend('native', 2);
});

for (const like of ['llama-2-7b', 'zephyr-7b-beta'] as const)
  describe(`${like} shape, 2 layers, BF16, against llama.cpp`, () => {
    const dir = tempDir(`${like}-gguf`);
    after(() => dir.remove());
    it(`logits of the paper's prompt and 8 greedy tokens agree`, async () => {
      const hf = join(dir.path, 'model');
      const file = join(dir.path, 'model.gguf');
      assert.equal(runCli(['synth', '--like', like, '--layers', '2', '--out', hf, '--seed', '11']).status, 0);
      const c = runCli(['convert', hf, '--out', file]);
      assert.equal(c.status, 0, c.stderr);
      const model = loadModel(hf);
      const ids = [1, ...DROSOPHILA.ids.filter((t) => t !== 1)];
      const worst = worstLogprob(logitsOf(backend, model, ids), model.config.vocabSize, await llamaCppLogprobs(file, ids));
      const g = await greedyAgreement(backend, file, model, ids, 8);

      const f32 = join(dir.path, 'model-f32.gguf');
      assert.equal(runCli(['convert', hf, '--out', f32, '--dtype', 'f32']).status, 0);
      const wide = loadModel(f32);
      const worst32 = worstLogprob(logitsOf(backend, wide, ids), wide.config.vocabSize, await llamaCppLogprobs(f32, ids));
      console.log(`# ${like}, 2 layers: max |Δ log p| vs llama.cpp, BF16 ${worst.toExponential(2)}, the same weights in F32 ${worst32.toExponential(2)} (${ids.length} positions); greedy 8 (BF16): ${8 - g.differ} identical`);
      assert.ok(worst32 < 1e-4, `F32: max |Δ log p| ${worst32}`);
      assert.ok(worst < 5e-2, `BF16: max |Δ log p| ${worst}`);
      assert.ok(g.differ === 0 || g.worstGap <= 0.1, `greedy: ${g.differ} steps differ (gap ${g.worstGap})`);
    });
  });
