/**
 * One synthesized Hugging Face model against llama.cpp: converted to GGUF by `mutascan convert`, read back by
 * mutascan, run by llama.cpp (teacher-forced log-probabilities, 64 greedy tokens), and a mutant written by
 * `mutascan mutate` run by both. Shared by the architecture and family tests.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Backend } from '../../src/backend/backend.js';
import { NORM_SLOTS } from '../../src/model/family.js';
import { loadModel } from '../../src/model/model.js';
import { NORM_TARGETS } from '../../src/model/weights.js';
import { writeSynthModel, type SynthSpec } from '../../src/make/synth.js';
import { matrixStats, mutate } from '../../src/screen/mutate.js';
import { parseMutantKey } from '../../src/screen/plan.js';
import { runCli, STORIES_TOK } from '../helpers.js';
import { greedyAgreement, logitsOf, worstLogprob } from './compare.js';
import { llamaCppLogprobs } from './llamacpp.js';

export const PROMPT = [1, 403, 407, 261, 378]; // "Once upon a time" in the stories vocabulary
export const forced = (n: number, seed: number): number[] => [1, ...Array.from({ length: n }, (_, i) => ((i * 37 + seed * 101 + 11) % 500) + 3)];

export interface FamilyResult {
  /** max |Δ log p| of the model, and of its mutant, against llama.cpp (scaled as worstLogprob scales) */
  worst: number;
  mutantWorst: number;
  /** greedy steps out of 64 where mutascan's argmax differs from llama.cpp's token */
  differ: number;
  mutantDiffer: number;
  worstGap: number;
  /** max |Δ logit| between mutascan on the folder and on its GGUF, unmutated and with the same mutants applied by key */
  self: number;
  /**
   * what `self` may be: 0, but for
   * - Llama 3's RoPE scaling, which a GGUF file holds as per-frequency factors in float32 (rope_freqs.weight): the
   *   frequencies of its smoothed band are then one rounding away from the formula's;
   * - Gemma's norm vectors, mutated as the factor 1 + w: a Hugging Face file stores w, so a mutated factor is
   *   stored as f(factor − 1), which can round (a GGUF file stores the factor itself).
   * In BF16 such a difference can move an activation across a BF16 rounding boundary (see numerics.md).
   */
  selfTol: number;
}

/**
 * Writes `spec` (vocabulary: the stories tokenizer's 512 tokens) under `dir`, converts it, and compares. The
 * mutants: a block of q (rows permuted in a `llama` GGUF), of down, and any `more`.
 */
export async function checkFamily(backend: Backend, dir: string, name: string, spec: Omit<SynthSpec, 'tokenizer' | 'shards' | 'vocabSize' | 'maxSeqLen'>, more: string[] = []): Promise<FamilyResult> {
  const hf = join(dir, name);
  writeSynthModel(hf, { vocabSize: 512, maxSeqLen: 256, shards: 1, tokenizer: STORIES_TOK, ...spec });
  const file = `${hf}.gguf`;
  const r = runCli(['convert', hf, '--out', file]);
  assert.equal(r.status, 0, r.stderr);
  const model = loadModel(hf);
  const gguf = loadModel(file);
  const ids = forced(48, spec.seed);
  const ours = logitsOf(backend, model, ids);
  const again = logitsOf(backend, gguf, ids);
  const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  let self = maxDiff(ours, again);
  const worst = worstLogprob(ours, model.config.vocabSize, await llamaCppLogprobs(file, ids));
  const g = await greedyAgreement(backend, file, model, PROMPT, 64);

  // and a few elements of every norm vector the family has (mutated as the factor RMSNorm multiplies by)
  const kinds = ['max', 'zero', 'min', 'value:0.5', 'negate', 'scale:0.5'];
  const norms = NORM_SLOTS.filter((slot) => model.weights.layers[0][slot]).map((slot, i) => `${i % spec.nLayers}.${NORM_TARGETS[slot]}:0,${i}+1x${3 + i}:${kinds[i]}`);
  const keys = [`${spec.nLayers - 1}.q:${spec.seed * 7},${spec.seed * 3}+4x4:max`, '0.down:10,20+3x3:min', ...norms, 'final_norm:0,2+1x4:zero', ...more];
  const mutFile = join(dir, `${name}-mutant.gguf`);
  const rm = runCli(['mutate', hf, '--mutant', ...keys, '--out', mutFile]);
  assert.equal(rm.status, 0, rm.stderr);
  const mutated = loadModel(hf);
  // the same keys on the GGUF name the same weights (its q/k rows are in the folder's order once loaded)
  const mutatedGguf = loadModel(file);
  for (const k of keys)
    for (const x of [mutated, mutatedGguf]) {
      const m = parseMutantKey(k, x);
      mutate(m.target.weights, m.unit, m.kind, matrixStats(m.target.weights));
    }
  const mutLogits = logitsOf(backend, mutated, ids);
  self = Math.max(self, maxDiff(mutLogits, logitsOf(backend, mutatedGguf, ids)));
  let moved = 0;
  for (let i = 0; i < ours.length; i++) moved = Math.max(moved, Math.abs(ours[i] - mutLogits[i]));
  assert.ok(moved > 1e-3, 'the mutant changes the logits');
  const mutantWorst = worstLogprob(mutLogits, model.config.vocabSize, await llamaCppLogprobs(mutFile, ids));
  const mg = await greedyAgreement(backend, mutFile, mutated, PROMPT, 64);
  const inexact = (spec.ropeScaling as { rope_type?: string } | undefined)?.rope_type === 'llama3' || model.config.normOffset !== undefined;
  const selfTol = !inexact ? 0 : spec.dtype === 'BF16' ? 1e-2 : 1e-4;
  return { worst, mutantWorst, differ: g.differ, mutantDiffer: mg.differ, worstGap: Math.max(g.worstGap, mg.worstGap), self, selfTol };
}

/** The result as a row of docs/families.md's table. */
export function familyRow(name: string, r: FamilyResult): string {
  return `| ${name} | yes | yes | ${r.worst.toExponential(1)} | ${64 - r.differ}/64 | ${r.mutantWorst.toExponential(1)}, greedy ${64 - r.mutantDiffer}/64 |`;
}

/** The assertions every case makes, with its tolerance in log-probability. */
export function assertAgrees(r: FamilyResult, tol: number): void {
  // mutascan reading its own GGUF computes the very bits it computes from the folder, mutants applied by key too
  assert.ok(r.self <= r.selfTol, `GGUF vs folder in mutascan: max |Δ logit| ${r.self}`);
  assert.ok(r.worst < tol, `max |Δ log p| ${r.worst} (tolerance ${tol})`);
  assert.ok(r.mutantWorst < tol, `mutant: max |Δ log p| ${r.mutantWorst} (tolerance ${tol})`);
  assert.ok((r.differ === 0 && r.mutantDiffer === 0) || r.worstGap <= 2 * tol, `${r.differ} + ${r.mutantDiffer} greedy steps differ, not near-ties (gap ${r.worstGap})`);
}
