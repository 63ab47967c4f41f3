/**
 * NSMs decoding together. Once the teacher-forced pass finds where a mutant's output leaves the baseline's, the
 * mutant must generate the rest of it. Decoding one sequence at a time costs a call per matrix per token, for a
 * single row; here every live sequence of an assay steps together: one forward call per token for all of them
 * (every matrix one product over all rows, each mutant's own rows recomputed from its patch, attention over each
 * sequence's own cache in one call), then every row's token chosen in one call (Backend.sampleRows), each with
 * the coin of its own step.
 *
 * Continuous batching: a sequence takes a slot when its pass finds it and leaves when it stops, and NSMs found
 * by later passes take the freed slots, so the batch stays full. The number of slots follows the memory the
 * keys and values may use (see `decodeSlots`); when every slot is taken, the sequences decode until one stops.
 *
 * Each row's arithmetic does not depend on the other rows on a row-exact backend, so a sequence gets the bits it
 * would get alone; elsewhere the tie epsilon covers the difference (fast.ts re-checks near-ties).
 */
import { KVCache, type Patch, type Transformer } from '../model/forward.js';
import type { Sampling } from '../model/sampler.js';

/** A mutant's generation while it is checked and decoded. */
export interface Live {
  ids: number[];
  margins: number[];
  diverged: boolean;
  done: boolean;
}

/**
 * What one assay's decoding needs: its sampling, coins, stops and length. Replicates of an assay (the same
 * prompt and settings under other seeds) share one decoder, each sequence bringing its own seed's coins.
 */
export interface DecodeSettings {
  settings: Sampling;
  /** the coins of sequences admitted without their own */
  coins: Float64Array;
  stopIds: readonly number[];
  budget: number;
  /** positions a sequence can hold: prompt + budget */
  capacity: number;
}

interface Slot {
  index: number;
  live: Live;
  patch?: Patch;
  cache: KVCache;
  coins: Float64Array;
  done(): void;
}

/** Bytes of keys and values one sequence of `capacity` positions needs. */
export function kvBytesPerSequence(tf: Transformer, capacity: number): number {
  const c = tf.config;
  return 2 * 4 * c.nLayers * capacity * c.nKvHeads * c.headDim;
}

/** How many sequences of `capacity` positions decode together within `budgetBytes` of keys and values. */
export function decodeSlots(tf: Transformer, capacity: number, budgetBytes: number): number {
  return Math.max(1, Math.floor(budgetBytes / kvBytesPerSequence(tf, capacity)));
}

export class Decoder {
  /** slots' caches, made when a slot is first used (a chunk may reserve thousands and use a few) */
  private caches: (KVCache | undefined)[] = [];
  /** slots given back, and the next slot never used yet */
  private free: number[] = [];
  private fresh = 0;
  private live: Slot[] = [];
  /** key/value buffers of the slots, one per layer, kept between calls (only grown) */
  private bufs?: { k: Float32Array[]; v: Float32Array[]; count: number };
  /** rows decoded, for the benchmark's accounting */
  rows = 0;
  /** each step's choices and coins, one per live sequence (reused) */
  private tokens = new Int32Array(0);
  private margins = new Float64Array(0);
  private coins = new Float64Array(0);

  constructor(
    private readonly tf: Transformer,
    private readonly d: DecodeSettings,
    /** most sequences at once (the memory bound; FastEvaluator sets it from the KV budget) */
    public maxSlots: number,
  ) {}

  /** Makes room for `n` sequences (at most maxSlots): slots are parts of one pool, so attention is one call. */
  reserve(n: number): void {
    const want = Math.min(this.maxSlots, Math.max(1, n));
    if ((this.bufs?.count ?? 0) >= want || this.live.length) return;
    const c = this.tf.config;
    const size = this.d.capacity * c.nKvHeads * c.headDim;
    // grow in powers of two so that chunks of varying size reuse the buffers
    const count = Math.min(this.maxSlots, 2 ** Math.ceil(Math.log2(want)));
    this.bufs = { count, k: Array.from({ length: c.nLayers }, () => new Float32Array(count * size)), v: Array.from({ length: c.nLayers }, () => new Float32Array(count * size)) };
    this.caches = [];
    this.free = [];
    this.fresh = 0;
  }

  private slot(i: number): KVCache {
    let cache = this.caches[i];
    if (!cache) {
      const c = this.tf.config;
      const kvDim = c.nKvHeads * c.headDim;
      const size = this.d.capacity * kvDim;
      const { k, v } = this.bufs!;
      cache = this.caches[i] = new KVCache(kvDim, c.nLayers, this.d.capacity, { k: k.map((b) => b.subarray(i * size, (i + 1) * size)), v: v.map((b) => b.subarray(i * size, (i + 1) * size)) });
    }
    return cache;
  }

  /**
   * A sequence joins: its generation so far, its patch, and its keys and values for the first `length` positions
   * of each layer (`kv`). When no slot is free, the live sequences decode until one stops.
   */
  admit(live: Live, patch: Patch | undefined, length: number, kv: (layer: number, which: 'k' | 'v') => Float32Array, done: () => void, coins = this.d.coins): void {
    if (!this.bufs) this.reserve(1);
    while (!this.free.length && this.fresh >= this.bufs!.count) this.step();
    const index = this.free.length ? this.free.pop()! : this.fresh++;
    const cache = this.slot(index);
    const kvDim = cache.kvDim;
    for (let layer = 0; layer < this.tf.config.nLayers; layer++) {
      cache.k[layer].set(kv(layer, 'k').subarray(0, length * kvDim));
      cache.v[layer].set(kv(layer, 'v').subarray(0, length * kvDim));
    }
    cache.length = length;
    this.live.push({ index, live, patch, cache, coins, done });
  }

  /** Decodes every live sequence to its end. */
  drain(): void {
    while (this.live.length) this.step();
  }

  /** One token for every live sequence; those that stop leave (their `done` is called) and free their slot. */
  private step(): void {
    const tf = this.tf;
    const vocab = tf.config.vocabSize;
    const { settings, stopIds, budget } = this.d;
    const live = this.live;
    const logits = tf.forward(
      live.map((s) => ({ cache: s.cache, tokens: [s.live.ids[s.live.ids.length - 1]], patch: s.patch })),
      'last',
    );
    this.rows += live.length;
    const n = live.length;
    if (this.tokens.length < n) {
      this.tokens = new Int32Array(n);
      this.margins = new Float64Array(n);
      this.coins = new Float64Array(n);
    }
    for (let k = 0; k < n; k++) this.coins[k] = live[k].coins[live[k].live.ids.length];
    tf.backend.sampleRows(this.tokens, this.margins, logits, n, vocab, settings, this.coins);
    const finished: Slot[] = [];
    for (let k = 0; k < n; k++) {
      const l = live[k].live;
      const token = this.tokens[k];
      l.ids.push(token);
      l.margins.push(this.margins[k]);
      if (stopIds.includes(token) || l.ids.length >= budget) {
        l.done = true;
        finished.push(live[k]);
      }
    }
    if (!finished.length) return;
    this.live = live.filter((s) => !s.live.done);
    for (const s of finished) {
      this.free.push(s.index);
      s.done();
    }
  }
}
