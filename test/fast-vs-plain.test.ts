/**
 * The fast path classifies every mutant exactly as the plain path does, on a random model of SmolLM-135M's shape
 * (hidden 576, 30 layers, 9 heads, 3 kv heads, intermediate 1536, vocab 49152, tied, bf16): targets in early,
 * middle and last layers, kinds max/min/zero and a large value (random weights are too evenly spread for
 * max/min alone to change their output), a greedy and a sampled assay.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSynthModel } from '../src/make/synth.js';
import { LLAMA2_TOK, resultRows as rows, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('fast-plain');
after(() => dir.remove());

describe('fast path = plain path on a SmolLM-135M-shaped model', () => {
  const model = join(dir.path, 'smollm');
  const spec = join(dir.path, 'screen.yaml');
  before(() => {
    writeSynthModel(model, {
      architecture: 'llama', dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, maxSeqLen: 2048,
      tied: true, dtype: 'BF16', shards: 1, seed: 135, tokenizer: join(LLAMA2_TOK, 'tokenizer.bin'),
    });
    writeFileSync(
      spec,
      `model: ${model}\ntargets: ["0.k", "14.gate", "29.down"]\nunit: { block: 576 }\nkinds: [max, min, zero, "value:0.5"]\nassays:\n` +
        `  - name: greedy\n    type: generate\n    prompt: "The life cycle of Drosophila:"\n    max_new_tokens: 8\n    temperature: 0\n` +
        `  - name: sampled\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 8\n    temperature: 0.7\n    top_k: 50\n    seed: 10\n`,
    );
  });

  it('same silent/NSM call, phenotype ids and divergence for every mutant and assay', () => {
    const fast = join(dir.path, 'fast.sqlite');
    const plain = join(dir.path, 'plain.sqlite');
    const f = runCli(['run', spec, '--store', fast]);
    assert.equal(f.status, 0, f.stderr);
    const p = runCli(['run', spec, '--store', plain, '--plain']);
    assert.equal(p.status, 0, p.stderr);
    const a = rows(fast);
    const b = rows(plain);
    // bf16 on the native backend is row-exact (on AVX-512, with or without its BF16 instructions): no decision needs a re-check
    assert.doesNotMatch(f.stderr, /near-ties re-checked/);
    assert.equal(a.length, (1 + (1 + 3 + 3) * 4) * 2);
    assert.deepEqual(a, b);
    const nsm = b.filter((r) => JSON.parse(r).silent === 0).length;
    assert.ok(nsm > 0 && nsm < b.length, `a screen with both silent and non-silent mutants (${nsm} NSMs)`);
  });
});

describe('fast path = plain path for embedding and classifier targets', () => {
  const model = join(dir.path, 'untied');
  before(() =>
    writeSynthModel(model, {
      architecture: 'llama', dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 512, maxSeqLen: 128,
      tied: false, dtype: 'F32', shards: 1, seed: 77, tokenizer: STORIES_TOK,
    }),
  );

  for (const [label, name, modelPath, targets] of [
    ['tied', 'tied embedding (stories260K: the lookup and the classifier change together)', 'stories', '["embed"]'],
    ['untied', 'untied embedding and lm_head', 'untied', '["embed", "lm_head", "1.v"]'],
  ] as const)
    it(name, () => {
      const spec = join(dir.path, `${label}.yaml`);
      const path = modelPath === 'untied' ? model : STORIES_BIN;
      writeFileSync(
        spec,
        `model: ${path}\ntargets: ${targets}\nunit: { block: 64 }\nkinds: [max, min, "value:3"]\nassays:\n` +
          `  - name: greedy\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 12\n    temperature: 0\n` +
          `  - name: sampled\n    type: generate\n    prompt: "Lily and Tom"\n    max_new_tokens: 12\n    temperature: 1\n    top_p: 0.9\n    seed: 3\n`,
      );
      const fast = join(dir.path, `${label}-fast.sqlite`);
      const plain = join(dir.path, `${label}-plain.sqlite`);
      assert.equal(runCli(['run', spec, '--store', fast]).status, 0);
      assert.equal(runCli(['run', spec, '--store', plain, '--plain']).status, 0);
      const a = rows(fast);
      assert.deepEqual(a, rows(plain));
      assert.ok(a.some((r) => JSON.parse(r).silent === 0), 'some mutants change the output');
    });
});
