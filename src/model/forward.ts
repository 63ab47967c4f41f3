/**
 * The forward pass of a Llama-family decoder, top to bottom.
 *
 * Numerics follow llama2.c's run.c: float32 everywhere, every product and sum rounded (Math.fround),
 * sums in index order. With a backend whose matmul also sums sequentially, this reproduces run.c bit for bit.
 *
 * One call evaluates any number of new positions of any number of sequences (prefill and decode are the
 * same code): all rows go through each matrix product together, then attention reads each row's own cache.
 */
import type { Backend } from '../backend/backend.js';
import { fail } from '../errors.js';
import { BF16_TO_F32 } from '../util/float.js';
import type { ModelConfig } from './config.js';
import type { Matrix, ModelWeights } from './weights.js';

const f = Math.fround;

/** Keys and values of one sequence, per layer: [capacity × kvDim]. */
export class KVCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** positions filled so far */
  length = 0;

  constructor(
    readonly kvDim: number,
    readonly nLayers: number,
    readonly capacity: number,
  ) {
    this.k = Array.from({ length: nLayers }, () => new Float32Array(capacity * kvDim));
    this.v = Array.from({ length: nLayers }, () => new Float32Array(capacity * kvDim));
  }

  static for(config: ModelConfig, capacity: number): KVCache {
    return new KVCache(config.nKvHeads * config.headDim, config.nLayers, Math.min(capacity, config.maxSeqLen));
  }

  /** A copy holding the first `length` positions (all layers). */
  copy(length = this.length): KVCache {
    const c = new KVCache(this.kvDim, this.nLayers, this.capacity);
    const n = length * this.kvDim;
    for (let l = 0; l < this.nLayers; l++) {
      c.k[l].set(this.k[l].subarray(0, n));
      c.v[l].set(this.v[l].subarray(0, n));
    }
    c.length = length;
    return c;
  }
}

/** New tokens for one sequence, placed at positions cache.length, cache.length + 1, … */
export interface Chunk {
  cache: KVCache;
  tokens: readonly number[];
}

/** Which rows get logits: the last of each chunk, all of them, none, or each chunk's rows from index `from` on. */
export type LogitRows = 'last' | 'all' | 'none' | { from: number };

/** RoPE cos/sin per position and pair, computed as run.c does (powf, cosf, sinf in float32), extended on demand. */
class RopeTable {
  private readonly half: number;
  private readonly freq: Float32Array;
  cos = new Float32Array(0);
  sin = new Float32Array(0);
  private positions = 0;

  constructor(c: ModelConfig) {
    this.half = c.headDim / 2;
    this.freq = new Float32Array(this.half);
    for (let i = 0; i < this.half; i++) {
      let fr = f(1 / f(Math.pow(c.ropeTheta, f((2 * i) / c.headDim))));
      const s = c.ropeScaling;
      if (s?.type === 'linear') fr = f(fr / s.factor);
      if (s?.type === 'llama3') {
        const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
        const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
        const wavelen = (2 * Math.PI) / fr;
        if (wavelen > lowWavelen) fr = f(fr / s.factor);
        else if (wavelen >= highWavelen) {
          const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
          fr = f((1 - smooth) * (fr / s.factor) + smooth * fr);
        }
      }
      this.freq[i] = fr;
    }
  }

  ensure(positions: number): void {
    if (positions <= this.positions) return;
    const n = Math.max(positions, this.positions * 2, 64);
    const cos = new Float32Array(n * this.half);
    const sin = new Float32Array(n * this.half);
    cos.set(this.cos);
    sin.set(this.sin);
    for (let p = this.positions; p < n; p++)
      for (let i = 0; i < this.half; i++) {
        const val = f(p * this.freq[i]);
        cos[p * this.half + i] = f(Math.cos(val));
        sin[p * this.half + i] = f(Math.sin(val));
      }
    this.cos = cos;
    this.sin = sin;
    this.positions = n;
  }
}

export class Transformer {
  readonly config: ModelConfig;
  private readonly rope: RopeTable;

  constructor(
    config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
  ) {
    this.config = config;
    this.rope = new RopeTable(config);
  }

  newCache(capacity = this.config.maxSeqLen): KVCache {
    return KVCache.for(this.config, capacity);
  }

  /** Runs the new tokens of every chunk through the model; returns logits [rows × vocab] for the rows asked. */
  forward(chunks: readonly Chunk[], logits: LogitRows = 'last'): Float32Array {
    const c = this.config;
    const w = this.weights;
    const dim = c.dim;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;

    // Row bookkeeping: which cache and position each row belongs to.
    const rowCache: KVCache[] = [];
    const rowPos: number[] = [];
    for (const ch of chunks) {
      if (ch.cache.length + ch.tokens.length > ch.cache.capacity)
        fail(
          `sequence of ${ch.cache.length + ch.tokens.length} positions exceeds the context of ${ch.cache.capacity}`,
          undefined,
          `shorten the prompt or the generation (max_position_embeddings / seq_len is ${c.maxSeqLen})`,
        );
      ch.tokens.forEach((_, i) => {
        rowCache.push(ch.cache);
        rowPos.push(ch.cache.length + i);
      });
    }
    const R = rowPos.length;
    this.rope.ensure(Math.max(0, ...rowPos) + 1);

    // Embedding rows.
    const x = new Float32Array(R * dim);
    let r = 0;
    for (const ch of chunks)
      for (const t of ch.tokens) {
        if (!(t >= 0 && t < c.vocabSize)) fail(`token id ${t} is outside the vocabulary (0…${c.vocabSize - 1})`);
        copyRow(x, r++ * dim, w.embed, t);
      }

    const xb = new Float32Array(R * dim);
    const xb2 = new Float32Array(R * dim);
    const q = new Float32Array(R * qDim);
    const k = new Float32Array(R * kvDim);
    const v = new Float32Array(R * kvDim);
    const att = new Float32Array(R * qDim);
    const h1 = new Float32Array(R * c.hiddenDim);
    const h3 = new Float32Array(R * c.hiddenDim);
    const scores = new Float32Array(Math.max(...rowPos) + 1);

    for (let l = 0; l < c.nLayers; l++) {
      const L = w.layers[l];
      // Attention block.
      rmsnorm(xb, x, L.attnNorm, R, dim, c.normEps);
      this.backend.matmul(q, xb, R, L.q);
      this.backend.matmul(k, xb, R, L.k);
      this.backend.matmul(v, xb, R, L.v);
      if (L.qBias) addBias(q, L.qBias, R);
      if (L.kBias) addBias(k, L.kBias, R);
      if (L.vBias) addBias(v, L.vBias, R);
      for (let i = 0; i < R; i++) {
        rotate(q, i * qDim, c.nHeads, rowPos[i], this.rope, c);
        rotate(k, i * kvDim, c.nKvHeads, rowPos[i], this.rope, c);
        rowCache[i].k[l].set(k.subarray(i * kvDim, (i + 1) * kvDim), rowPos[i] * kvDim);
        rowCache[i].v[l].set(v.subarray(i * kvDim, (i + 1) * kvDim), rowPos[i] * kvDim);
      }
      for (let i = 0; i < R; i++) attend(att, i * qDim, q, rowCache[i].k[l], rowCache[i].v[l], rowPos[i], c, scores);
      this.backend.matmul(xb2, att, R, L.o);
      addInPlace(x, xb2);

      // Feed-forward block (SwiGLU).
      rmsnorm(xb, x, L.ffnNorm, R, dim, c.normEps);
      this.backend.matmul(h1, xb, R, L.gate);
      this.backend.matmul(h3, xb, R, L.up);
      swiglu(h1, h3);
      this.backend.matmul(xb2, h1, R, L.down);
      addInPlace(x, xb2);
    }
    for (const ch of chunks) ch.cache.length += ch.tokens.length;

    // Final norm and classifier, only for the rows whose logits are wanted.
    const rows: number[] = [];
    let start = 0;
    for (const ch of chunks) {
      const n = ch.tokens.length;
      if (logits === 'all') for (let i = 0; i < n; i++) rows.push(start + i);
      else if (logits === 'last') rows.push(start + n - 1);
      else if (logits !== 'none') for (let i = logits.from; i < n; i++) rows.push(start + i);
      start += n;
    }
    const sel = new Float32Array(rows.length * dim);
    rows.forEach((row, i) => sel.set(x.subarray(row * dim, (row + 1) * dim), i * dim));
    const normed = new Float32Array(rows.length * dim);
    rmsnorm(normed, sel, w.finalNorm, rows.length, dim, c.normEps);
    const out = new Float32Array(rows.length * c.vocabSize);
    if (rows.length) this.backend.matmul(out, normed, rows.length, w.lmHead);
    return out;
  }
}

function copyRow(out: Float32Array, at: number, m: Matrix, row: number): void {
  const n = m.cols;
  if (m.dtype === 'f32') out.set((m.data as Float32Array).subarray(row * n, (row + 1) * n), at);
  else for (let j = 0; j < n; j++) out[at + j] = BF16_TO_F32[m.data[row * n + j]];
}

/** run.c rmsnorm: o = w · (x / sqrt(mean(x²) + eps)), with the reciprocal taken once. */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number, eps: number): void {
  const e = f(eps);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let ss = 0;
    for (let j = 0; j < n; j++) ss = f(ss + f(x[o + j] * x[o + j]));
    ss = f(ss / n);
    ss = f(ss + e);
    ss = f(1 / f(Math.sqrt(ss)));
    for (let j = 0; j < n; j++) out[o + j] = f(weight[j] * f(ss * x[o + j]));
  }
}

function addBias(x: Float32Array, b: Float32Array, rows: number): void {
  const n = b.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) x[r * n + j] = f(x[r * n + j] + b[j]);
}

function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = f(x[i] + y[i]);
}

/** Rotates each head of one row by its position; the pair layout is the checkpoint's own. */
function rotate(vec: Float32Array, at: number, heads: number, pos: number, rope: RopeTable, c: ModelConfig): void {
  const hd = c.headDim;
  const half = hd / 2;
  const cos = rope.cos;
  const sin = rope.sin;
  const tab = pos * half;
  for (let h = 0; h < heads; h++) {
    const base = at + h * hd;
    for (let i = 0; i < half; i++) {
      const a = c.ropeLayout === 'interleaved' ? base + 2 * i : base + i;
      const b = c.ropeLayout === 'interleaved' ? a + 1 : a + half;
      const fcr = cos[tab + i];
      const fci = sin[tab + i];
      const v0 = vec[a];
      const v1 = vec[b];
      vec[a] = f(f(v0 * fcr) - f(v1 * fci));
      vec[b] = f(f(v0 * fci) + f(v1 * fcr));
    }
  }
}

/** Causal grouped-query attention of one row over its own cache (positions ≤ pos, within the sliding window). */
function attend(out: Float32Array, at: number, q: Float32Array, kc: Float32Array, vc: Float32Array, pos: number, c: ModelConfig, scores: Float32Array): void {
  const hd = c.headDim;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const scale = f(Math.sqrt(hd));
  const t0 = c.slidingWindow ? Math.max(0, pos - c.slidingWindow + 1) : 0;
  for (let h = 0; h < c.nHeads; h++) {
    const qo = at + h * hd;
    const ko = Math.floor(h / group) * hd;
    let max = -Infinity;
    for (let t = t0; t <= pos; t++) {
      let s = 0;
      const kt = t * kvDim + ko;
      for (let i = 0; i < hd; i++) s = f(s + f(q[qo + i] * kc[kt + i]));
      s = f(s / scale);
      scores[t] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t = t0; t <= pos; t++) {
      const e = f(Math.exp(f(scores[t] - max)));
      scores[t] = e;
      sum = f(sum + e);
    }
    for (let t = t0; t <= pos; t++) scores[t] = f(scores[t] / sum);
    for (let i = 0; i < hd; i++) out[qo + i] = 0;
    for (let t = t0; t <= pos; t++) {
      const a = scores[t];
      const vt = t * kvDim + ko;
      for (let i = 0; i < hd; i++) out[qo + i] = f(out[qo + i] + f(a * vc[vt + i]));
    }
  }
}

/** h1 ← silu(h1) · h3, as run.c: val · (1 / (1 + exp(−val))) · h3. */
function swiglu(h1: Float32Array, h3: Float32Array): void {
  for (let i = 0; i < h1.length; i++) {
    let val = h1[i];
    val = f(val * f(1 / f(1 + f(Math.exp(-val)))));
    h1[i] = f(val * h3[i]);
  }
}
