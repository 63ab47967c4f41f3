/**
 * The metered backend the benchmarks use to say how far a screen is from the machine's limit: it must not
 * change a bit of what it wraps, and the FLOPs it counts must be those of the model's products (counted here
 * from the model's shapes, not from the meter).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeteredBackend } from '../src/backend/metered.js';
import { TsBackend } from '../src/backend/ts-backend.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { STORIES_BIN } from './helpers.js';

describe('MeteredBackend', () => {
  const model = loadModel(STORIES_BIN);
  const c = model.config;
  const prompt = [1, 403, 407, 261, 378, 18, 32, 99];

  it('gives the wrapped backend\'s bits and counts every product, its rows and FLOPs', () => {
    const plain = new Transformer(c, model.weights, new TsBackend());
    const metered = new MeteredBackend(new TsBackend());
    const tf = new Transformer(c, model.weights, metered);
    const want = plain.forward([{ cache: plain.newCache(64), tokens: prompt }], 'all').slice();
    const got = tf.forward([{ cache: tf.newCache(64), tokens: prompt }], 'all');
    assert.deepEqual(new Uint32Array(got.buffer, got.byteOffset, got.length), new Uint32Array(want.buffer, want.byteOffset, want.length));

    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    const perRow = 2 * c.nLayers * (2 * c.dim * qDim + 2 * c.dim * kvDim + 3 * c.dim * c.hiddenDim) + 2 * c.dim * c.vocabSize;
    const tallies = [...metered.products.values()];
    assert.equal(tallies.reduce((a, t) => a + t.flops, 0), prompt.length * perRow);
    // seven products per layer and the classifier, each once over all rows of the call
    assert.equal(tallies.reduce((a, t) => a + t.calls, 0), 7 * c.nLayers + 1);
    assert.ok(tallies.every((t) => t.rows === t.calls * prompt.length && t.bucket === 8 && t.seconds >= 0));
    const attention = metered.ops.get('attention')!;
    // position p attends over p + 1 positions: scores and weighted sum, 2 FLOPs each per head dimension
    const positions = (prompt.length * (prompt.length + 1)) / 2;
    assert.equal(attention.flops, c.nLayers * 4 * positions * qDim);
    assert.equal(attention.calls, c.nLayers);
    assert.ok(metered.ops.get('rmsnorm')!.calls === 2 * c.nLayers + 1);

    metered.reset();
    assert.equal(metered.products.size + metered.ops.size, 0);
  });
});
