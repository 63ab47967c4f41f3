/**
 * The families of 2024–2025 (Llama 3.x, Qwen3, OLMo 2, Gemma 2, Gemma 3) against llama.cpp: each synthesized
 * from its Hugging Face layout at odd sizes, F32 and BF16, converted to GGUF by `mutascan convert` and run by both
 * engines (teacher-forced logits, 64 greedy tokens, a mutant written by `mutascan mutate`). The rows printed are
 * docs/families.md's table.
 *
 * Tolerances in log-probability (see test/llamacpp.test.ts for F32 and BF16):
 * - F32 5e-5, BF16 1e-2, as for Llama. Tied random models put a token's own logit far above the rest (the
 *   comparison is scaled by the logits' size), so the BF16 cases, where rounding shows, are untied.
 * - OLMo 2 BF16 2e-2: its output norms scale each block's output back to unit size, so a product that the two
 *   engines' summation orders round to different BF16 neighbours moves the residual stream further (measured
 *   1.2e-2, while its F32 case agrees to 3e-6).
 * - Gemma F32 1e-3: llama.cpp's CPU GELU reads a table of fp16 inputs, so each GeGLU activation is rounded to
 *   half precision on the way in (measured 2.4e-4 here; its own output without that is within F32's).
 * - Phi-4-mini BF16 2e-2: at this shape (dim 192, 3 heads of 64, GQA 3:1) BF16's rounding boundaries alone give
 *   1.0–1.1e-2, for a plain Llama of the same shape too (measured 1.1e-2); longrope's attention factor (×1.2 on
 *   the scores) sharpens the attention and with it each difference (1.4e-2).
 * - Gemma BF16 2e-2: the same, on top of BF16's rounding boundaries; and Gemma's reference (which mutascan
 *   follows) rounds √dim to the weights' dtype before scaling the embeddings, llama.cpp does not (dims here
 *   are chosen with √dim exact in BF16 for one case and not for the other).
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { selectBackend } from '../src/backend/select.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { resultRows, runCli, STORIES_TOK, tempDir } from './helpers.js';
import { assertAgrees, checkFamily, familyRow } from './reference/family-check.js';

let backend: Backend;
before(async () => {
  backend = await selectBackend('native', 2);
});

type Spec = Omit<SynthSpec, 'tokenizer' | 'shards' | 'vocabSize' | 'maxSeqLen'>;
interface Case {
  name: string;
  spec: Spec;
  tol: number;
  /** more mutants, of the family's own matrices */
  more?: string[];
}

const LLAMA3_SCALING = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
const GEMMA2 = { attn_logit_softcapping: 10, final_logit_softcapping: 30, sliding_window: 8 };
const GEMMA3 = { sliding_window: 8, sliding_window_pattern: 6, rope_local_base_freq: 10000 };

// Phi-4-mini's structure: a quarter of each head unrotated, longrope's factors (the short ones, which both engines
// use within the original context; the long ones differ, so using them would show) and attention factor √1.2
const PHI4 = {
  partial_rotary_factor: 0.75, max_position_embeddings: 4096, original_max_position_embeddings: 1024,
  rope_scaling: { rope_type: 'longrope', short_factor: Array.from({ length: 24 }, (_, i) => 1 + 0.05 * i), long_factor: Array.from({ length: 24 }, (_, i) => 2 + i) },
};
const PHI_MUTANTS = ['0.k:3,5+4x4:max', '1.v:0,0+2x8:min', '0.up:7,9+3x3:max', '1.gate:11,2+4x4:min'];

const CASES: Case[] = [
  { name: 'Llama 3.2 F32 (llama3 RoPE scaling, tied, GQA 5:1)', tol: 5e-5, spec: { architecture: 'llama', dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: 1, tied: true, ropeTheta: 500000, ropeScaling: LLAMA3_SCALING, dtype: 'F32', seed: 11 } },
  { name: 'Llama 3.2 BF16, untied', tol: 1e-2, spec: { architecture: 'llama', dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: 1, tied: false, ropeTheta: 500000, ropeScaling: LLAMA3_SCALING, dtype: 'BF16', seed: 12 } },
  { name: 'Qwen3 F32 (q/k norms, head_dim 48 ≠ 176/4, tied)', tol: 5e-5, spec: { architecture: 'qwen3', dim: 176, hiddenDim: 333, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 48, tied: true, ropeTheta: 1e6, dtype: 'F32', seed: 13 } },
  { name: 'Qwen3 BF16', tol: 1e-2, spec: { architecture: 'qwen3', dim: 176, hiddenDim: 333, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 48, tied: false, ropeTheta: 1e6, dtype: 'BF16', seed: 14 } },
  { name: 'OLMo 2 F32 (output norms, whole-projection q/k norms)', tol: 5e-5, spec: { architecture: 'olmo2', dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: 5, tied: false, ropeTheta: 500000, dtype: 'F32', seed: 15 } },
  { name: 'OLMo 2 BF16, GQA', tol: 2e-2, spec: { architecture: 'olmo2', dim: 200, hiddenDim: 333, nLayers: 2, nHeads: 5, nKvHeads: 1, tied: false, ropeTheta: 500000, dtype: 'BF16', seed: 16 } },
  { name: 'Gemma 2 F32 (soft-capping, window 8 on even layers, head_dim 48)', tol: 1e-3, spec: { architecture: 'gemma2', dim: 192, hiddenDim: 333, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 48, tied: true, dtype: 'F32', seed: 17, configExtra: GEMMA2 } },
  { name: 'Gemma 2 BF16 (√256 exact in BF16)', tol: 2e-2, spec: { architecture: 'gemma2', dim: 256, hiddenDim: 333, nLayers: 2, nHeads: 4, nKvHeads: 1, headDim: 48, tied: true, dtype: 'BF16', seed: 18, configExtra: GEMMA2 } },
  { name: 'Gemma 3 F32 (5 local : 1 global, q/k norms)', tol: 1e-3, spec: { architecture: 'gemma3', dim: 176, hiddenDim: 333, nLayers: 6, nHeads: 4, nKvHeads: 1, headDim: 48, tied: false, ropeTheta: 1e6, dtype: 'F32', seed: 19, configExtra: GEMMA3 } },
  { name: 'Gemma 3 BF16 (√176 rounded in BF16)', tol: 2e-2, spec: { architecture: 'gemma3', dim: 176, hiddenDim: 333, nLayers: 6, nHeads: 4, nKvHeads: 2, headDim: 48, tied: false, ropeTheta: 1e6, dtype: 'BF16', seed: 20, configExtra: GEMMA3 } },
  { name: 'Phi-3 F32 (fused qkv and gate_up, window 2047)', tol: 5e-5, more: PHI_MUTANTS, spec: { architecture: 'phi3', dim: 192, hiddenDim: 333, nLayers: 2, nHeads: 4, nKvHeads: 4, tied: false, dtype: 'F32', seed: 21, configExtra: { sliding_window: 2047 } } },
  { name: 'Phi-4-mini F32 (partial rotary 0.75, longrope, GQA 3:1, tied)', tol: 5e-5, more: PHI_MUTANTS, spec: { architecture: 'phi3', dim: 192, hiddenDim: 333, nLayers: 2, nHeads: 3, nKvHeads: 1, tied: true, dtype: 'F32', seed: 22, configExtra: PHI4 } },
  { name: 'Phi-4-mini BF16', tol: 2e-2, more: PHI_MUTANTS, spec: { architecture: 'phi3', dim: 192, hiddenDim: 333, nLayers: 2, nHeads: 3, nKvHeads: 1, tied: false, dtype: 'BF16', seed: 23, configExtra: PHI4 } },
];

describe('the families of 2024–2025, from Hugging Face layouts through GGUF, against llama.cpp', () => {
  const dir = tempDir('families');
  after(() => dir.remove());
  const rows: string[] = [];
  after(() => console.log(`# ${rows.join('\n# ')}`));
  for (const c of CASES)
    it(`${c.name}: logits, greedy 64 tokens, a mutant`, async () => {
      const r = await checkFamily(backend, dir.path, `${c.spec.architecture}-${c.spec.seed}`, c.spec, c.more);
      rows.push(familyRow(c.name, r));
      assertAgrees(r, c.tol);
    });
});

describe('a screen of each family, fast path against plain path, and its report', () => {
  const dir = tempDir('family-screens');
  after(() => dir.remove());
  const SCREENS: [string, Spec][] = [
    ['qwen3', { architecture: 'qwen3', dim: 96, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 32, tied: false, dtype: 'BF16', seed: 31 }],
    ['olmo2', { architecture: 'olmo2', dim: 96, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, tied: false, dtype: 'BF16', seed: 32 }],
    ['gemma2', { architecture: 'gemma2', dim: 96, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 32, tied: true, dtype: 'BF16', seed: 33, configExtra: GEMMA2 }],
    ['gemma3', { architecture: 'gemma3', dim: 96, hiddenDim: 160, nLayers: 6, nHeads: 4, nKvHeads: 1, headDim: 32, tied: false, dtype: 'F32', seed: 34, configExtra: GEMMA3 }],
    ['phi3', { architecture: 'phi3', dim: 192, hiddenDim: 160, nLayers: 2, nHeads: 3, nKvHeads: 1, tied: false, dtype: 'BF16', seed: 35, configExtra: PHI4 }],
  ];
  for (const [name, spec] of SCREENS)
    it(`${name}: every class and text of a greedy and a sampled assay is the plain path's`, () => {
      const model = join(dir.path, name);
      writeSynthModel(model, { ...spec, vocabSize: 512, maxSeqLen: 256, shards: 1, tokenizer: STORIES_TOK });
      const last = spec.nLayers - 1;
      // o and down of the last layer: with output norms (OLMo 2, Gemma) they are recomputed inside their block;
      // layer 0's q, k, v, gate and up are views of Phi-3's fused tensors; the norm vectors of a layer and the
      // final norm are patched per sequence (Gemma's as the factor 1 + w)
      const screen = join(dir.path, `${name}.yaml`);
      writeFileSync(
        screen,
        `model: ${model}\ntargets: ["0.*", "${last}.o", "${last}.down", "embed", "${last}.norms", "final_norm"]\nunit: { block: 32 }\nkinds: [zero, max]\nassays:\n` +
          `  - name: greedy\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 12\n    temperature: 0\n` +
          `  - name: sampled\n    type: generate\n    prompt: "Lily saw a"\n    max_new_tokens: 12\n    temperature: 0.7\n    seed: 42\n`,
      );
      const fast = join(dir.path, `${name}-fast.sqlite`);
      const plain = join(dir.path, `${name}-plain.sqlite`);
      const f = runCli(['run', screen, '--store', fast]);
      assert.equal(f.status, 0, f.stderr);
      const p = runCli(['run', screen, '--store', plain, '--plain']);
      assert.equal(p.status, 0, p.stderr);
      const a = resultRows(fast);
      assert.ok(a.length > 100, `${a.length} results`);
      assert.deepEqual(a, resultRows(plain));
      const nsm = a.filter((r) => JSON.parse(r).silent === 0).length;
      assert.ok(nsm > 0 && nsm < a.length, `both silent and non-silent mutants (${nsm} NSMs of ${a.length})`);
      const out = join(dir.path, `${name}-report`);
      const r = runCli(['report', fast, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(join(out, 'index.html')));
    });
});
