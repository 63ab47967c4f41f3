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
  return softmaxInto(new Float32Array(n), logits, at, n, temperature);
}

/** run.c softmax in float32 into `p` (its first n elements). */
function softmaxInto(p: Float32Array, logits: Float32Array, at: number, n: number, temperature: number): Float32Array {
  const t = f(temperature);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = f(logits[at + i] / t);
    p[i] = x;
    if (x > max) max = x;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = f(Math.exp(f(p[i] - max)));
    p[i] = e;
    sum = f(sum + e);
  }
  for (let i = 0; i < n; i++) p[i] = f(p[i] / sum);
  return p;
}

/**
 * Scratch of `choose`: screens choose millions of tokens, and a fresh vocabulary-sized array per choice cost more
 * in allocation and garbage collection than the choice itself. `choose` is synchronous and never re-entered.
 */
let probs = new Float32Array(0);
let heap = new Int32Array(0);

/** Chooses the token for one row of logits, given that step's coin (ignored when greedy). */
export function choose(logits: Float32Array, s: Sampling, coin: number, at = 0, n = logits.length - at): Choice {
  if (s.temperature === 0) return argmax(logits, at, n);
  if (probs.length < n) probs = new Float32Array(n);
  const p = softmaxInto(probs, logits, at, n, s.temperature);
  const topP = f(s.topP);
  const nucleus = topP > 0 && topP < 1;
  if (!nucleus && !(s.topK > 0 && s.topK < n)) return sampleMult(p, n, coin);
  return sampleSorted(p, n, coin, nucleus ? topP : 0, s.topK);
}

/** `choose` for each of `rows` rows of logits, row r with coins[r] (the TypeScript backend's sampleRows). */
export function chooseRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, s: Sampling, coinList: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const c = choose(logits, s, coinList[r], r * vocab, vocab);
    tokens[r] = c.token;
    margins[r] = c.margin;
  }
}

/** run.c sample_mult: first index whose cumulative probability exceeds the coin. */
function sampleMult(p: Float32Array, n: number, coin: number): Choice {
  let cdf = 0;
  for (let i = 0; i < n; i++) {
    const before = cdf;
    cdf = f(cdf + p[i]);
    if (coin < cdf) return { token: i, margin: Math.min(coin - before, cdf - coin) };
  }
  return { token: n - 1, margin: coin - cdf };
}

/**
 * run.c sample_topp (cutoff, stable sort by probability, cut after mass exceeds top-p), plus our top-k.
 *
 * Only the head of the sorted order is ever read (until the mass exceeds top-p, or k tokens), so the tokens past
 * the cutoff go into a binary heap ordered as the stable sort orders them (higher probability first, then lower
 * index: what glibc's merge-sort qsort gives equal probabilities) and are taken from it one at a time: the same
 * sequence as sorting them all, for a few pops instead of a sort of hundreds.
 */
function sampleSorted(p: Float32Array, n: number, coin: number, topP: number, topK: number): Choice {
  const cutoff = topP > 0 ? f(f(1 - topP) / (n - 1)) : 0;
  if (heap.length < n) heap = new Int32Array(n);
  const h = heap;
  let size = 0;
  for (let i = 0; i < n; i++) if (p[i] >= cutoff) h[size++] = i;
  // a before b in the sorted order
  const before = (a: number, b: number): boolean => p[a] > p[b] || (p[a] === p[b] && a < b);
  const down = (at: number): void => {
    const x = h[at];
    for (;;) {
      let c = 2 * at + 1;
      if (c >= size) break;
      if (c + 1 < size && before(h[c + 1], h[c])) c++;
      if (!before(h[c], x)) break;
      h[at] = h[c];
      at = c;
    }
    h[at] = x;
  };
  for (let i = (size >> 1) - 1; i >= 0; i--) down(i);
  const limit = topK > 0 && topK < size ? topK : size;
  // The sorted head, taken from the heap's root; written to the array's end, which the heap no longer uses.
  let taken = 0;
  let cum = 0;
  let cumBefore = 0;
  const sorted = (k: number): number => h[n - 1 - k];
  while (taken < limit) {
    const top = h[0];
    h[0] = h[--size];
    if (size > 0) down(0);
    h[n - 1 - taken++] = top;
    cumBefore = cum;
    cum = f(cum + p[top]);
    if (topP > 0 && cum > topP) break;
  }
  // nothing past the cutoff (NaN probabilities): the last token, with a zero margin so the output is flagged
  if (taken === 0) return { token: n - 1, margin: 0 };
  const last = taken - 1;
  const r = f(coin * cum);
  let cdf = 0;
  let at = last;
  let margin = 0;
  for (let i = 0; i <= last; i++) {
    const before = cdf;
    cdf = f(cdf + p[sorted(i)]);
    if (r < cdf) {
      at = i;
      margin = Math.min(r - before, cdf - r);
      break;
    }
    if (i === last) margin = r - cdf;
  }
  // next: the first token the sort placed after the taken ones (the heap's root), if any
  const next = size > 0 ? h[0] : -1;
  const cut = topP > 0 && cum > topP;
  return { token: sorted(at), margin: Math.min(margin, sortedMargin(p, n, at, last, sorted, next, cut ? [cum, cumBefore, topP] : undefined, !cut && next < 0 ? cutoff : 0)) };
}

/**
 * How far the sorted sampler's other decisions were from going another way, in probability units as the coin's
 * margin: a change smaller than this could not have changed the token.
 * - the order: the chosen token's probability against its neighbours' in the sorted order (two tokens that swap
 *   places move the chosen one's interval by the other's probability);
 * - the nucleus: the mass against top-p where it was cut (one token more or fewer rescales the coin);
 * - the chosen token, when it is the last one taken, against the first one left out (top-p's or top-k's cut);
 * - when the nucleus took every token past the cutoff, the probabilities nearest the cutoff (`cutoff` > 0).
 */
function sortedMargin(p: Float32Array, n: number, at: number, last: number, sorted: (k: number) => number, next: number, nucleus: [number, number, number] | undefined, cutoff: number): number {
  let m = Infinity;
  const pa = p[sorted(at)];
  if (at > 0) m = Math.min(m, p[sorted(at - 1)] - pa);
  if (at < last) m = Math.min(m, pa - p[sorted(at + 1)]);
  // the last token taken against the first left out matters only when it is the one chosen
  if (at === last && next >= 0) m = Math.min(m, pa - p[next]);
  if (nucleus) m = Math.min(m, nucleus[0] - nucleus[2], nucleus[2] - nucleus[1]);
  if (cutoff > 0)
    for (let i = 0; i < n; i++) m = Math.min(m, Math.abs(p[i] - cutoff));
  return m;
}
