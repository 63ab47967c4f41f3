/**
 * Token choice, as llama2.c's run.c makes it, so a seed means the same tokens here and there.
 *
 * - temperature 0: argmax (first maximum wins).
 * - otherwise: logits / T, float32 softmax, one uniform `coin` per sampled token from xorshift64*;
 *   top-k (ours; run.c has none) keeps the k most probable tokens, top-p in (0,1) applies run.c's nucleus rule,
 *   and the token is the first whose cumulative probability exceeds the (scaled) coin.
 *
 * Every choice also reports its margin: how far the decision was from going another way (the top-2 logit
 * gap for argmax, the coin's distance to the nearest cumulative-probability boundary when sampling).
 * Screens use it to spot float32 near-ties.
 */
const f = Math.fround;

export interface Sampling {
  temperature: number;
  /** nucleus mass; values outside (0,1) disable it, as in run.c */
  topP: number;
  /** 0 disables */
  topK: number;
  seed: number;
}

export interface Choice {
  token: number;
  margin: number;
}

/** xorshift64* exactly as run.c's random_u32/random_f32. */
export class Rng {
  /** Seed 0 would make xorshift emit zeros forever; it is replaced by this fixed non-zero state. */
  static readonly SEED_ZERO_STATE = 0x9e3779b97f4a7c15n;
  private state: bigint;

  constructor(seed: number) {
    const s = BigInt.asUintN(64, BigInt(seed));
    this.state = s === 0n ? Rng.SEED_ZERO_STATE : s;
  }

  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s ^= BigInt.asUintN(64, s << 25n);
    s ^= s >> 27n;
    this.state = s;
    return Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 32n);
  }

  /** The coin of run.c: 24 random bits / 2^24, in [0, 1). */
  nextF32(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

/** The first n coins of a seed: every mutant of a screen sees these same numbers. */
export function coins(seed: number, n: number): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextF32();
  return out;
}

export function argmax(logits: Float32Array, at = 0, n = logits.length - at): Choice {
  let best = 0;
  let bestVal = logits[at];
  let second = -Infinity;
  for (let i = 1; i < n; i++) {
    const v = logits[at + i];
    if (v > bestVal) {
      second = bestVal;
      bestVal = v;
      best = i;
    } else if (v > second) second = v;
  }
  return { token: best, margin: bestVal - second };
}

/** run.c softmax in float32, written into a new array. */
export function softmaxScaled(logits: Float32Array, at: number, n: number, temperature: number): Float32Array {
  const t = f(temperature);
  const p = new Float32Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    p[i] = f(logits[at + i] / t);
    if (p[i] > max) max = p[i];
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = f(Math.exp(f(p[i] - max)));
    sum = f(sum + p[i]);
  }
  for (let i = 0; i < n; i++) p[i] = f(p[i] / sum);
  return p;
}

/** Chooses the token for one row of logits, given that step's coin (ignored when greedy). */
export function choose(logits: Float32Array, s: Sampling, coin: number, at = 0, n = logits.length - at): Choice {
  if (s.temperature === 0) return argmax(logits, at, n);
  const probs = softmaxScaled(logits, at, n, s.temperature);
  const topP = f(s.topP);
  const nucleus = topP > 0 && topP < 1;
  if (!nucleus && !(s.topK > 0 && s.topK < n)) return sampleMult(probs, coin);
  return sampleSorted(probs, coin, nucleus ? topP : 0, s.topK);
}

/** run.c sample_mult: first index whose cumulative probability exceeds the coin. */
function sampleMult(p: Float32Array, coin: number): Choice {
  let cdf = 0;
  for (let i = 0; i < p.length; i++) {
    const before = cdf;
    cdf = f(cdf + p[i]);
    if (coin < cdf) return { token: i, margin: Math.min(coin - before, cdf - coin) };
  }
  return { token: p.length - 1, margin: coin - cdf };
}

/** run.c sample_topp (cutoff, stable sort by probability, cut after mass exceeds top-p), plus our top-k. */
function sampleSorted(p: Float32Array, coin: number, topP: number, topK: number): Choice {
  const n = p.length;
  const cutoff = topP > 0 ? f(f(1 - topP) / (n - 1)) : 0;
  let idx: number[] = [];
  for (let i = 0; i < n; i++) if (p[i] >= cutoff) idx.push(i);
  idx.sort((a, b) => p[b] - p[a]); // stable, like glibc's merge-sort qsort: equal probabilities keep index order
  if (topK > 0 && topK < idx.length) idx = idx.slice(0, topK);
  let cum = 0;
  let last = idx.length - 1;
  for (let i = 0; i < idx.length; i++) {
    cum = f(cum + p[idx[i]]);
    if (topP > 0 && cum > topP) {
      last = i;
      break;
    }
  }
  const r = f(coin * cum);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    const before = cdf;
    cdf = f(cdf + p[idx[i]]);
    if (r < cdf) return { token: idx[i], margin: Math.min(r - before, cdf - r) };
  }
  return { token: idx[last], margin: r - cdf };
}
