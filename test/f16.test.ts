/**
 * F16 models stay F16: their matrices are kept as the file's 16-bit values (mapped, not widened into memory) and
 * multiply as the float32 matrices they widen to, exactly (every f16 value is a float32 value). So an F16 file and
 * the F32 file of its widened values must give the same logits bit for bit on every backend, the same screen, and
 * the fast path the plain path's outcomes on it; a mutation rounds its value to f16 and restoring it gives back
 * the same bits. llama.cpp checks the F16 numerics themselves (test/llamacpp.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../src/backend/select.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { allMatrices } from '../src/model/weights.js';
import { matrixStats, mutate, restore } from '../src/screen/mutate.js';
import { f32ToF16, F16_TO_F32 } from '../src/util/float.js';
import { resultRows as rows, runCli, STORIES_BIN, tempDir } from './helpers.js';

const dir = tempDir('f16');
after(() => dir.remove());
const f16 = join(dir.path, 'stories-f16.gguf');
const widened = join(dir.path, 'stories-f16-widened.gguf');

describe('F16 models', () => {
  before(() => {
    for (const [from, out, dtype] of [[STORIES_BIN, f16, 'f16'], [f16, widened, 'f32']]) {
      const r = runCli(['convert', from, '--out', out, '--dtype', dtype]);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('keep their matrices as f16, at half the bytes of F32', () => {
    const m = loadModel(f16);
    for (const [name, w] of allMatrices(m.weights)) {
      assert.equal(w.dtype, 'f16', name);
      assert.ok(w.data instanceof Uint16Array, name);
    }
    const w = loadModel(widened);
    for (const [name, x] of allMatrices(w.weights)) assert.equal(x.dtype, 'f32', name);
    // the F32 file holds exactly the widened values
    const a = allMatrices(m.weights).get('blk.1.ffn_down.weight')!;
    const b = allMatrices(w.weights).get('blk.1.ffn_down.weight')!;
    for (let i = 0; i < a.data.length; i++) assert.equal(F16_TO_F32[a.data[i]], b.data[i]);
    assert.ok(statSync(f16).size < 0.6 * statSync(widened).size);
  });

  for (const backend of ['native', 'ts'] as const)
    it(`give the logits of the widened F32 file bit for bit (${backend} backend, prompt and 24 decoding steps)`, async () => {
      const be = await selectBackend(backend);
      const run = (file: string): Float32Array[] => {
        const m = loadModel(file);
        const tf = new Transformer(m.config, m.weights, be);
        const cache = tf.newCache(64);
        const out: Float32Array[] = [];
        let logits = tf.forward([{ cache, tokens: [1, 403, 411, 283, 354, 262] }], 'last');
        for (let s = 0; s < 24; s++) {
          out.push(logits.slice());
          let best = 0;
          for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
          logits = tf.forward([{ cache, tokens: [best] }], 'last');
        }
        return out;
      };
      const a = run(f16);
      const b = run(widened);
      a.forEach((x, s) => assert.ok(Buffer.from(x.buffer).equals(Buffer.from(b[s].buffer)), `step ${s}: the logits differ`));
    });

  it('screen as their widened F32 file does, and the fast path as the plain path', () => {
    // max, min and zero write f16 values (a matrix's extremes are its own values), so both files get the same
    // mutants; value:0.3 is rounded to f16 in the F16 file, so only fast = plain is asked of it
    const spec = (file: string, name: string, kinds: string): string => {
      const p = join(dir.path, `${name}.yaml`);
      writeFileSync(
        p,
        `model: ${file}\ntargets: ["1.k", "3.down"]\nunit: { block: 16 }\nkinds: ${kinds}\nassays:\n` +
          `  - { name: greedy, type: generate, prompt: "Once upon a time", max_new_tokens: 16, temperature: 0 }\n` +
          `  - { name: sampled, type: generate, prompt: "Lily and Tom", max_new_tokens: 16, temperature: 1, top_p: 0.9, seed: 3 }\n`,
      );
      return p;
    };
    const run = (specFile: string, store: string, plain = false): string[] => {
      const r = runCli(['run', specFile, '--store', join(dir.path, store), ...(plain ? ['--plain'] : [])]);
      assert.equal(r.status, 0, r.stderr);
      return rows(join(dir.path, store));
    };
    const a = run(spec(f16, 'f16', '[max, min, zero]'), 'f16.sqlite');
    assert.deepEqual(a, run(spec(widened, 'f32', '[max, min, zero]'), 'f32.sqlite'));
    assert.deepEqual(a, run(join(dir.path, 'f16.yaml'), 'f16-plain.sqlite', true));
    assert.ok(a.some((r) => JSON.parse(r).silent === 0) && a.some((r) => JSON.parse(r).silent === 1), 'silent and non-silent mutants');
    const v = spec(f16, 'f16-value', '["value:0.3"]');
    assert.deepEqual(run(v, 'value-fast.sqlite'), run(v, 'value-plain.sqlite', true));
  });

  it('round a written value to f16 and restore the same bits', () => {
    const m = loadModel(f16);
    const w = allMatrices(m.weights).get('blk.2.attn_q.weight')!;
    const before = Buffer.from(new Uint16Array(w.data as Uint16Array));
    const stats = matrixStats(w);
    const saved = mutate(w, { row: 3, col: 5, rows: 2, cols: 3 }, { type: 'value', value: 0.3 }, stats);
    assert.equal(w.data[3 * w.cols + 5], f32ToF16(0.3));
    assert.equal(F16_TO_F32[w.data[4 * w.cols + 7]], F16_TO_F32[f32ToF16(0.3)]);
    restore(saved);
    assert.ok(Buffer.from((w.data as Uint16Array).slice()).equals(before));
    // the extremes are the matrix's own values, widened
    let max = -Infinity;
    for (const h of w.data as Uint16Array) max = Math.max(max, F16_TO_F32[h]);
    assert.equal(stats.max, max);
    assert.ok(readFileSync(f16).subarray(0, 4).toString() === 'GGUF');
  });
});
