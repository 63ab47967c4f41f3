/**
 * Guided screens: which mutants a run evaluates, and in what order, from the stored predictions.
 *
 * - `predicted` order: most likely NSMs first, so a screen's maps fill by importance. Mutants of one matrix
 *   share the fast path's products, so the ranking is cut into windows and each window is evaluated matrix by
 *   matrix: the order is the ranking's at the window's grain (1/64 of the plan), not mutant by mutant.
 * - a budget (`--budget N`, `select: { top: N }`): only the N most likely NSMs, plus a uniform random sample of
 *   the others, screened too, from which the NSMs the budget missed are estimated (estimate.ts).
 *
 * Over several generate assays a mutant ranks by its best rank in any of them (their margins are in different
 * units: logits when greedy, probability when sampled).
 */
import { Rng } from '../model/sampler.js';
import type { RunSelection } from '../screen/runner.js';

/** Each mutant's place in the ranking (0 = most likely an NSM), from per-assay predicted margins by ordinal. */
export function predictedRanks(total: number, margins: readonly Float32Array[]): Float64Array {
  const best = new Float64Array(total).fill(Infinity);
  for (const m of margins) {
    const order = Array.from({ length: total - 1 }, (_, i) => i + 1).filter((o) => !Number.isNaN(m[o]));
    order.sort((a, b) => m[a] - m[b] || a - b);
    order.forEach((o, r) => {
      if (r < best[o]) best[o] = r;
    });
  }
  return best;
}


/** The ranking cut into windows, each window matrix by matrix (targetOf: a mutant's target index). */
function windowed(ranked: number[], targetOf: (ordinal: number) => number, windows = 64): number[] {
  const size = Math.max(4096, Math.ceil(ranked.length / windows));
  const out: number[] = [];
  for (let i = 0; i < ranked.length; i += size) {
    const w = ranked.slice(i, i + size);
    w.sort((a, b) => targetOf(a) - targetOf(b) || a - b);
    out.push(...w);
  }
  return out;
}

/**
 * What a run evaluates. `ranks` from predictedRanks; `top`: the budget (undefined = every mutant, ranked);
 * `sample`: how many of the rest to screen for the estimate (default: a tenth of the budget, at least 200).
 * The sample is drawn with a fixed seed, so a resumed run picks the same one.
 */
export function selectMutants(total: number, ranks: Float64Array, targetOf: (ordinal: number) => number, top?: number, sample?: number): RunSelection {
  const ranked = Array.from({ length: total - 1 }, (_, i) => i + 1).sort((a, b) => ranks[a] - ranks[b] || a - b);
  if (top === undefined || top >= ranked.length) return { order: windowed(ranked, targetOf) };
  const chosen = ranked.slice(0, top);
  const rest = ranked.slice(top).sort((a, b) => a - b);
  const n = Math.min(rest.length, sample ?? Math.max(200, Math.round(top / 10)));
  // a partial Fisher–Yates shuffle with run.c's generator: the first n of a uniform random permutation
  const rng = new Rng(0x5eed);
  const pool = rest.slice();
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor((rng.nextU32() / 2 ** 32) * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const drawn = pool.slice(0, n).sort((a, b) => a - b);
  return { order: [...windowed(chosen, targetOf), ...drawn], budget: { top: chosen, sample: drawn, rest: rest.length } };
}
