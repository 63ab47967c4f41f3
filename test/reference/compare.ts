/**
 * mutascan's numbers beside llama.cpp's: teacher-forced log-probabilities and greedy continuations.
 */
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { Transformer } from '../../src/model/forward.js';
import type { Model } from '../../src/model/model.js';
import { llamaCppGreedy } from './llamacpp.js';

/** mutascan's logits of `ids`, teacher-forced, [positions × vocab]. */
export function logitsOf(backend: Backend, model: Model, ids: number[]): Float32Array {
  const tf = new Transformer(model.config, model.weights, backend);
  return tf.forward([{ cache: tf.newCache(ids.length + 1), tokens: ids }], 'all');
}

/**
 * max |Δ log-probability| between mutascan's logits and llama.cpp's distributions, over tokens above e^-60, each
 * row's differences divided by its logits' size (max |logit| / 4, at least 1: random tied models put a token's own
 * logit near |e|², where an ulp is larger). Every position must have a finite distribution.
 */
export function worstLogprob(logits: Float32Array, vocab: number, ref: Map<number, number>[]): number {
  let worst = 0;
  assert.equal(ref.length * vocab, logits.length, 'llama.cpp gave a distribution for every position');
  ref.forEach((m, pos) => {
    let scale = 4;
    for (let v = 0; v < vocab; v++) scale = Math.max(scale, Math.abs(logits[pos * vocab + v]));
    scale /= 4;
    let mass = 0;
    for (const lp of m.values()) mass += Math.exp(lp);
    assert.ok(Math.abs(mass - 1) < 1e-3, `llama.cpp's distribution at position ${pos} sums to ${mass}`);
    let mx = -Infinity;
    for (let v = 0; v < vocab; v++) mx = Math.max(mx, logits[pos * vocab + v]);
    let s = 0;
    for (let v = 0; v < vocab; v++) s += Math.exp(logits[pos * vocab + v] - mx);
    const lse = mx + Math.log(s);
    for (const [t, lp] of m) if (lp > -60) worst = Math.max(worst, Math.abs(logits[pos * vocab + t] - lse - lp) / scale);
  });
  return worst;
}

/** llama.cpp's greedy continuation fed to mutascan: steps where mutascan's own argmax differs, with their gaps. */
export async function greedyAgreement(backend: Backend, file: string, model: Model, prompt: number[], n: number): Promise<{ differ: number; worstGap: number; ids: number[] }> {
  const g = await llamaCppGreedy(file, prompt, n);
  const all = [...prompt, ...g.ids];
  const logits = logitsOf(backend, model, all.slice(0, -1));
  const V = model.config.vocabSize;
  let differ = 0;
  let worstGap = 0;
  for (let i = 0; i < n; i++) {
    const row = prompt.length - 1 + i;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[row * V + v] > logits[row * V + best]) best = v;
    if (best !== g.ids[i]) {
      differ++;
      worstGap = Math.max(worstGap, logits[row * V + best] - logits[row * V + g.ids[i]], g.gaps[i]);
    }
  }
  return { differ, worstGap, ids: g.ids };
}
