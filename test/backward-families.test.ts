/**
 * The backward pass on the families whose numerics the PyTorch twin does not have (q/k norms per head and over
 * the whole projection, output norms, blocks without input norms, GeGLU, scaled embeddings, scaled and
 * soft-capped scores and logits, 5 local : 1 global layers with their own RoPE bases, partial rotary
 * embeddings with longrope, fused matrices), checked against the
 * forward pass itself: for every matrix and a direction D, ⟨∂s/∂W, D⟩ must equal the central difference of
 * s(W + hD). The forward pass is the one test/families.test.ts checks against llama.cpp, so this ties the
 * gradients to an independent engine.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { TsBackend } from '../src/backend/ts-backend.js';
import { backward, record, type Objective } from '../src/model/backward.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { allMatrices } from '../src/model/weights.js';
import { seededRandom } from '../src/util/random.js';
import { STORIES_TOK, tempDir } from './helpers.js';

const base: SynthSpec = {
  architecture: 'llama', dim: 48, hiddenDim: 83, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16, vocabSize: 512, maxSeqLen: 64,
  tied: false, dtype: 'F32', shards: 1, seed: 1, tokenizer: STORIES_TOK,
};
const CASES: { name: string; spec: Partial<SynthSpec> }[] = [
  { name: 'Llama (the control: the twin checks it too)', spec: {} },
  { name: 'Qwen3: per-head q/k norms, tied', spec: { architecture: 'qwen3', tied: true, seed: 2 } },
  { name: 'OLMo 2: output norms only, q/k norms over the whole projection', spec: { architecture: 'olmo2', nKvHeads: 4, seed: 3 } },
  { name: 'Gemma 2: query_pre_attn_scalar ≠ head_dim, soft-capped scores and logits, window 4 on even layers', spec: { architecture: 'gemma2', nLayers: 3, dim: 40, tied: true, seed: 5, configExtra: { query_pre_attn_scalar: 24, attn_logit_softcapping: 2, final_logit_softcapping: 3, sliding_window: 4 } } },
  { name: 'Phi-4-mini: fused qkv and gate_up, RoPE over 12 of 16 dimensions, longrope factors and attention factor', spec: { architecture: 'phi3', nKvHeads: 1, seed: 6, configExtra: { partial_rotary_factor: 0.75, max_position_embeddings: 4096, original_max_position_embeddings: 1024, rope_scaling: { rope_type: 'longrope', short_factor: [1, 1.2, 1.5, 2, 3, 5], long_factor: [2, 3, 4, 5, 6, 7] } } } },
  { name: 'Gemma 3: (1 + w) norms, GeGLU, scaled embeddings, window 4 and local RoPE on 5 of 6 layers', spec: { architecture: 'gemma3', nLayers: 6, dim: 40, tied: true, seed: 4, ropeTheta: 1e6, configExtra: { sliding_window: 4, sliding_window_pattern: 6, rope_local_base_freq: 10000 } } },
];

/** s(W) = Σ_p ⟨dlogits_p, logits_p⟩ in float64 over the objectives' positions */
function objectiveValue(tf: Transformer, tokens: number[], objectives: Objective[]): number {
  const logits = tf.forward([{ cache: tf.newCache(tokens.length), tokens }], 'all');
  const V = tf.config.vocabSize;
  let s = 0;
  for (const o of objectives) for (let v = 0; v < V; v++) s += o.dlogits[v] * logits[o.position * V + v];
  return s;
}

describe('the backward pass of each family against finite differences of its forward pass', () => {
  const dir = tempDir('grad-fam');
  after(() => dir.remove());
  for (const k of CASES)
    it(k.name, () => {
      const path = join(dir.path, k.spec.architecture ?? 'llama');
      writeSynthModel(path, { ...base, ...k.spec });
      const m = loadModel(path);
      const tf = new Transformer(m.config, m.weights, new TsBackend());
      const rand = seededRandom(7);
      const tokens = Array.from({ length: 12 }, () => Math.floor(rand() * m.config.vocabSize));
      const V = m.config.vocabSize;
      // a margin per position (two tokens' logits): few terms, so float32 rounding of the logits stays small
      const objectives: Objective[] = [3, 11].map((position) => {
        const dlogits = new Float32Array(V);
        dlogits[tokens[position]] = 1;
        dlogits[(tokens[position] + 1 + Math.floor(rand() * (V - 1))) % V] = -1;
        return { position, dlogits };
      });
      const tape = record(tf, tokens);
      const analytic = new Map<string, Float32Array>();
      backward(tf, tape, objectives, (g) => {
        const sum = new Float32Array(g.matrix.rows * g.matrix.cols);
        const one = new Float32Array(sum.length);
        objectives.forEach((_, s) => {
          g.of(s, one);
          for (let i = 0; i < sum.length; i++) sum[i] += one[i];
        });
        analytic.set(g.matrix.name, sum);
      });
      const worst: string[] = [];
      const off: string[] = [];
      for (const [name, mat] of allMatrices(m.weights)) {
        const grad = analytic.get(name);
        assert.ok(grad, `${name} was never visited`);
        const W = mat.data as Float32Array;
        // along the gradient's signs (random sizes): the objective moves by Σ|∂s/∂W|·u, far above float32's
        // rounding of the logits, and an error in any entry of the gradient adds to the difference, never cancels
        const D = Float32Array.from(grad, (g) => Math.sign(g) * rand());
        let predicted = 0;
        for (let i = 0; i < W.length; i++) predicted += grad[i] * D[i];
        // h·D moves each weight by at most 0.1 % of the matrix's spread: large enough that float32 rounding of the
        // logits stays far below the difference; Richardson's combination of steps h and 2h cancels the h² term
        let spread = 0;
        for (const x of W) spread = Math.max(spread, Math.abs(x));
        const h = 1e-3 * spread;
        const orig = W.slice();
        const at = (step: number): number => {
          for (let i = 0; i < W.length; i++) W[i] = orig[i] + step * D[i];
          return objectiveValue(tf, tokens, objectives);
        };
        const central = (step: number): number => (at(step) - at(-step)) / (2 * step);
        const measured = (4 * central(h) - central(2 * h)) / 3;
        W.set(orig);
        const rel = Math.abs(measured - predicted) / Math.max(Math.abs(measured), 1e-12);
        worst.push(`${name.replace("model.", "")} ${rel.toExponential(1)}`);
        assert.ok(Math.abs(measured) > 1e-6, `${name}: the objective does not move (${measured})`);
        if (!(rel < 1e-3)) off.push(`${name}: gradient predicts ${predicted}, the forward pass moves ${measured} (relative ${rel.toExponential(2)})`);
      }
      console.log(`# ${k.name}: relative differences ${worst.join(', ')}`);
      assert.deepEqual(off, [], `${k.name}: ${off.length} matrices off`);
    });
});
