/**
 * The forward pass of a Llama-family decoder, top to bottom.
 *
 * Numerics follow llama2.c's run.c: float32 everywhere, every product and sum rounded (Math.fround),
 * sums in index order. Its logits agree with run.c's within 2e-5, not bit for bit: glibc's cosf, sinf and expf
 * are not correctly rounded, and mutascan's are (docs/engine.md, `npm run check:libm`).
 *
 * One call evaluates any number of new positions of any number of sequences (prefill and decode are the
 * same code): all rows go through each matrix product together, then attention reads each row's own cache.
 */
import type { AttentionShape, Backend } from '../backend/backend.js';
import { fail } from '../errors.js';
import { BF16_TO_F32, f32ToBf16, widening } from '../util/float.js';
import type { ModelConfig } from './config.js';
import { windowed, windowOf } from './family.js';
import type { Matrix, ModelWeights } from './weights.js';

const f = Math.fround;

/**
 * Keys and values of one sequence, per layer: [capacity × kvDim]. Caches made together by `KVCache.pool` share
 * one buffer per layer, so attention over a whole batch is one backend call.
 */
export class KVCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** positions filled so far */
  length = 0;

  constructor(
    readonly kvDim: number,
    readonly nLayers: number,
    readonly capacity: number,
    storage?: { k: Float32Array[]; v: Float32Array[] },
  ) {
    this.k = storage?.k ?? Array.from({ length: nLayers }, () => new Float32Array(capacity * kvDim));
    this.v = storage?.v ?? Array.from({ length: nLayers }, () => new Float32Array(capacity * kvDim));
  }

  static for(config: ModelConfig, capacity: number): KVCache {
    return new KVCache(config.nKvHeads * config.headDim, config.nLayers, Math.min(capacity, config.maxSeqLen));
  }

  /**
   * `count` caches of a model whose layers live side by side in one buffer per layer. `reuse` keeps the buffers
   * of earlier pools of the same size (the fast path makes one per pass); a fresh cache never reads a position
   * before writing it, so what earlier pools left there does not matter.
   */
  static pool(config: ModelConfig, capacity: number, count: number, reuse?: Map<string, { k: Float32Array[]; v: Float32Array[] }>): KVCache[] {
    const kvDim = config.nKvHeads * config.headDim;
    const nLayers = config.nLayers;
    const size = capacity * kvDim;
    const key = `${capacity}x${count}`;
    let bufs = reuse?.get(key);
    if (!bufs) {
      bufs = { k: Array.from({ length: nLayers }, () => new Float32Array(count * size)), v: Array.from({ length: nLayers }, () => new Float32Array(count * size)) };
      reuse?.set(key, bufs);
    }
    const { k: kb, v: vb } = bufs;
    return Array.from({ length: count }, (_, i) => new KVCache(kvDim, nLayers, capacity, {
      k: kb.map((b) => b.subarray(i * size, (i + 1) * size)),
      v: vb.map((b) => b.subarray(i * size, (i + 1) * size)),
    }));
  }
}

/**
 * A mutation seen by one sequence only: the rows `row … row+rows−1` of `matrix` replaced by `weights`
 * ([rows × matrix.cols], the matrix's dtype). The shared product is computed with the original weights, then
 * those output features are recomputed for this sequence's rows by the backend's `matmulInto` — which, on a
 * row-exact backend, gives what the mutated matrix itself would: mutants of one matrix share every product and
 * still get exact results. A norm vector's patch (`matrix` a 1 × n view of the vector, as screen targets hold
 * norms) replaces the whole vector for the sequence: its rows are normed again with `weights`' data.
 */
export interface Patch {
  matrix: Matrix;
  row: number;
  rows: number;
  weights: Matrix;
}

/** New tokens for one sequence, placed at positions cache.length, cache.length + 1, … */
export interface Chunk {
  cache: KVCache;
  tokens: readonly number[];
  patch?: Patch;
}

export interface ForwardOptions {
  /** start at this layer, with `input` as the residual stream entering it (the prefix-layer cache) */
  fromLayer?: number;
  /** [rows × dim], rows in chunk order; required with fromLayer > 0. Used as workspace: it is overwritten. */
  input?: Float32Array;
  /** with fromLayer: `input` is the residual stream after that layer's attention block, which is skipped */
  fromStage?: 'attention' | 'ffn';
  /** filled with a copy of the residual stream entering each layer (index 0 = embeddings) */
  captureLayerInputs?: Float32Array[];
  /** filled per layer with copies of what mutants of one matrix can start from (fast.ts) */
  captureStages?: LayerStages[];
  /**
   * return the classifier's input (the final norm's output) for the rows asked instead of their logits; the
   * array returned is this transformer's workspace, valid until its next forward call
   */
  classifierInput?: boolean;
  /**
   * with fromStage 'ffn': every chunk's residual is the same sequence's, and its feed-forward block's input and
   * gate and up products are these (one sequence's rows, [n × dim] and [n × hiddenDim]); only patched gate/up
   * features are recomputed (gate and up mutants, whose products differ from the baseline's only there)
   */
  ffnProducts?: FfnProducts;
}

/** A feed-forward block's normed input and its gate and up products over one sequence's rows. */
export interface FfnProducts {
  input: Float32Array;
  gate: Float32Array;
  up: Float32Array;
}

/** Inside one layer, over the rows of a call: what its o and down products multiply, and the residual between. */
export interface LayerStages {
  /** attention output, the o product's input [rows × nHeads·headDim] */
  attention: Float32Array;
  /** residual stream after the attention block [rows × dim] */
  mid: Float32Array;
  /** SwiGLU output, the down product's input [rows × hiddenDim] */
  hidden: Float32Array;
}

/** Per norm vector, the chunks that see another one: [first row, row count, the vector they see]. */
type NormPatches = Map<Float32Array, [number, number, Float32Array][]>;

/**
 * The buffers of one forward call: the normed residual and the block outputs (xb, xb2), q, k, v, attention output,
 * the feed-forward products (h1, h3), and the rows that reach the classifier before and after the final norm.
 */
type WorkBuffer = 'xb' | 'xb2' | 'q' | 'k' | 'v' | 'att' | 'h1' | 'h3' | 'sel' | 'normed';
const EMPTY = new Float32Array(0);

/** Which rows get logits: the last of each chunk, all of them, none, or each chunk's rows from index `from` on. */
export type LogitRows = 'last' | 'all' | 'none' | { from: number };

/** RoPE cos/sin per position and pair, computed as run.c does (powf, cosf, sinf in float32), extended on demand. */
class RopeTable {
  private readonly half: number;
  private readonly freq: Float32Array;
  cos = new Float32Array(0);
  sin = new Float32Array(0);
  private positions = 0;

  /** cos and sin multiplied by this (longrope's attention factor) */
  private readonly mscale: number;

  constructor(c: ModelConfig, theta: number, s: ModelConfig['ropeScaling']) {
    const rd = c.ropeDim ?? c.headDim;
    this.half = rd / 2;
    this.freq = new Float32Array(this.half);
    this.mscale = s?.type === 'longrope' ? f(s.attnFactor) : 1;
    for (let i = 0; i < this.half; i++) {
      const p = f(Math.pow(theta, f((2 * i) / rd)));
      let fr = f(1 / p);
      // as transformers computes it: 1 / (factor · θ^(2i/d))
      if (s?.type === 'longrope') fr = f(1 / f(s.short[i] * p));
      if (s?.type === 'linear') fr = f(fr / s.factor);
      if (s?.type === 'factors') fr = f(fr / s.factors[i]);
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
        cos[p * this.half + i] = this.mscale === 1 ? f(Math.cos(val)) : f(f(Math.cos(val)) * this.mscale);
        sin[p * this.half + i] = this.mscale === 1 ? f(Math.sin(val)) : f(f(Math.sin(val)) * this.mscale);
      }
    this.cos = cos;
    this.sin = sin;
    this.positions = n;
  }
}

export class Transformer {
  readonly config: ModelConfig;
  private readonly rope: RopeTable;
  /** windowed layers' own RoPE (Gemma 3), or the same table */
  private readonly localRope: RopeTable;
  /** every norm vector of the model: a patch of one of them is a norm patch (see Patch) */
  private readonly normVectors: Set<Float32Array>;

  constructor(
    config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
  ) {
    this.config = config;
    this.rope = new RopeTable(config, config.ropeTheta, config.ropeScaling);
    this.localRope = config.localRopeTheta !== undefined ? new RopeTable(config, config.localRopeTheta, undefined) : this.rope;
    this.normVectors = new Set([weights.finalNorm, ...weights.layers.flatMap((l) => [l.attnNorm, l.attnOutNorm, l.qNorm, l.kNorm, l.ffnNorm, l.ffnOutNorm].filter((v): v is Float32Array => v !== undefined))]);
  }

  /**
   * What RMSNorm multiplies by for a stored norm vector: offset + w, rounded to float32, as Gemma's reference
   * computes it. Made at each use (n additions): a screen mutates norm vectors in place.
   */
  normWeight(w: Float32Array): Float32Array {
    const offset = this.config.normOffset ?? 0;
    return offset ? w.map((x) => f(offset + x)) : w;
  }

  /**
   * out = RMSNorm of `rows` rows of x by the stored vector w, or a copy of x where the family has no such norm.
   * Chunks that see another vector (`patches`, in token rows of `perToken` rows each) are normed again with it.
   */
  norm(out: Float32Array, x: Float32Array, w: Float32Array | undefined, rows: number, n: number, patches?: NormPatches, perToken = 1): void {
    if (!w) {
      if (out !== x) out.set(x.subarray(0, rows * n));
      return;
    }
    const mine = patches?.get(w);
    const span = perToken * n;
    // normed in place: the patched rows' input is kept first
    const inputs = mine?.map(([first, count]) => (out === x ? x.slice(first * span, (first + count) * span) : x.subarray(first * span, (first + count) * span)));
    this.backend.rmsnorm(out, x, this.normWeight(w), rows, n, this.config.normEps);
    mine?.forEach(([first, count, v], i) => this.backend.rmsnorm(out.subarray(first * span), inputs![i], this.normWeight(v), count * perToken, n, this.config.normEps));
  }

  /** The feed-forward block's input for the residual rows `mid` of layer l (its norm, or mid itself). */
  ffnInput(out: Float32Array, mid: Float32Array, l: number, rows: number, patches?: NormPatches): void {
    this.norm(out, mid, this.weights.layers[l].ffnNorm, rows, this.config.dim, patches);
  }

  /**
   * Layer l's feed-forward input (its norm of the residual rows `mid`) and the gate and up products of it, in
   * arrays of their own: what the fast path starts gate and up mutants from, and what the backward pass differentiates.
   */
  ffnProducts(mid: Float32Array, l: number, rows: number): FfnProducts {
    const c = this.config;
    const L = this.weights.layers[l];
    const input = new Float32Array(rows * c.dim);
    this.ffnInput(input, mid, l, rows);
    const gate = new Float32Array(rows * c.hiddenDim);
    const up = new Float32Array(rows * c.hiddenDim);
    this.backend.matmul(gate, input, rows, L.gate);
    this.backend.matmul(up, input, rows, L.up);
    return { input, gate, up };
  }

  /** Layer l's RoPE tables: a windowed layer's own base where the family has one (Gemma 3). */
  private ropeOf(l: number): RopeTable {
    return windowed(this.config, l) ? this.localRope : this.rope;
  }

  /**
   * Workspace of one forward call, kept between calls: screens make millions of calls of the same size, and
   * fresh arrays each time cost more in allocation and garbage collection than small models' arithmetic.
   * Every element is written before it is read.
   */
  private readonly work: Record<WorkBuffer, Float32Array> = { xb: EMPTY, xb2: EMPTY, q: EMPTY, k: EMPTY, v: EMPTY, att: EMPTY, h1: EMPTY, h3: EMPTY, sel: EMPTY, normed: EMPTY };
  private scratch(name: WorkBuffer, size: number): Float32Array {
    if (this.work[name].length < size) this.work[name] = new Float32Array(size);
    return this.work[name].subarray(0, size);
  }

  /** Layer l's RoPE cos and sin tables ([position × rotated dims / 2]) covering `positions` positions (the backward pass rotates back). */
  rotations(positions: number, layer = 0): { cos: Float32Array; sin: Float32Array } {
    const r = this.ropeOf(layer);
    r.ensure(positions);
    return { cos: r.cos, sin: r.sin };
  }

  newCache(capacity = this.config.maxSeqLen): KVCache {
    return KVCache.for(this.config, capacity);
  }

  /** Recomputes the patched output features of `n` rows from `start` (see Patch). */
  private applyPatch(out: Float32Array, input: Float32Array, start: number, n: number, p: Patch): void {
    const m = p.matrix;
    if (n > 0) this.backend.matmulInto(out.subarray(start * m.rows + p.row), m.rows, input.subarray(start * m.cols, (start + n) * m.cols), n, p.weights);
  }

  /** Runs the new tokens of every chunk through the model; returns logits [rows × vocab] for the rows asked. */
  forward(chunks: readonly Chunk[], logits: LogitRows = 'last', opts: ForwardOptions = {}): Float32Array {
    const c = this.config;
    const w = this.weights;
    const dim = c.dim;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;

    // Row bookkeeping: each row's position (a chunk's rows are consecutive positions of its cache).
    let R = 0;
    for (const ch of chunks) {
      if (ch.cache.length + ch.tokens.length > ch.cache.capacity)
        fail(
          `sequence of ${ch.cache.length + ch.tokens.length} positions exceeds the context of ${ch.cache.capacity}`,
          undefined,
          `shorten the prompt or the generation (max_position_embeddings / seq_len is ${c.maxSeqLen})`,
        );
      R += ch.tokens.length;
    }
    const pos = new Int32Array(R);
    let maxPos = 0;
    for (let ci = 0, r = 0; ci < chunks.length; ci++) {
      const ch = chunks[ci];
      for (let i = 0; i < ch.tokens.length; i++) pos[r++] = ch.cache.length + i;
      maxPos = Math.max(maxPos, ch.cache.length + ch.tokens.length - 1);
    }
    this.rope.ensure(maxPos + 1);
    this.localRope.ensure(maxPos + 1);

    const fromLayer = opts.fromLayer ?? 0;
    let x: Float32Array;
    if (fromLayer > 0 || opts.fromStage === 'ffn') {
      if (!opts.input || opts.input.length !== R * dim) throw new Error(`forward from layer ${fromLayer} needs ${R} input rows`);
      x = opts.input;
    } else {
      // Embedding rows.
      x = new Float32Array(R * dim);
      let r = 0;
      for (const ch of chunks)
        for (const t of ch.tokens) {
          if (!(t >= 0 && t < c.vocabSize)) fail(`token id ${t} is outside the vocabulary (0…${c.vocabSize - 1})`);
          const p = ch.patch;
          if (p && p.matrix === w.embed && t >= p.row && t < p.row + p.rows) copyRow(x, r++ * dim, p.weights, t - p.row);
          else copyRow(x, r++ * dim, w.embed, t);
        }
      if (c.embedScale) {
        const s = embedScale(c, w.embed);
        for (let i = 0; i < x.length; i++) x[i] = f(x[i] * s);
      }
    }
    // Patches, by matrix: [first row of the chunk, row count, patch]; norm patches by vector.
    const patches = new Map<Matrix, [number, number, Patch][]>();
    const normPatches: NormPatches = new Map();
    {
      let start = 0;
      for (const ch of chunks) {
        const p = ch.patch;
        if (p && this.normVectors.has(p.matrix.data as Float32Array)) {
          const v = p.matrix.data as Float32Array;
          if (!normPatches.has(v)) normPatches.set(v, []);
          normPatches.get(v)!.push([start, ch.tokens.length, p.weights.data as Float32Array]);
        } else if (p) {
          if (!patches.has(p.matrix)) patches.set(p.matrix, []);
          patches.get(p.matrix)!.push([start, ch.tokens.length, p]);
        }
        start += ch.tokens.length;
      }
    }
    const mm = (out: Float32Array, input: Float32Array, m: Matrix): void => {
      this.backend.matmul(out, input, R, m);
      const list = patches.get(m);
      if (list) for (const [start, n, p] of list) this.applyPatch(out, input, start, n, p);
    };

    const be = this.backend;
    const xb = this.scratch('xb', R * dim);
    const xb2 = this.scratch('xb2', R * dim);
    const q = this.scratch('q', R * qDim);
    const k = this.scratch('k', R * kvDim);
    const v = this.scratch('v', R * kvDim);
    const att = this.scratch('att', R * qDim);
    const h1 = this.scratch('h1', R * c.hiddenDim);
    const h3 = this.scratch('h3', R * c.hiddenDim);
    // Rows whose caches share a buffer are attended in one call.
    const groups = attentionGroups(chunks);

    for (let l = fromLayer; l < c.nLayers; l++) {
      const L = w.layers[l];
      if (opts.captureLayerInputs) opts.captureLayerInputs[l] = x.slice();
      if (!(l === fromLayer && opts.fromStage === 'ffn')) this.attentionBlock(l, x, R, chunks, pos, groups, mm, normPatches, { xb, xb2, q, k, v, att });
      // the residual between the blocks, before the feed-forward block adds to it
      const mid = opts.captureStages ? x.slice() : undefined;

      // Feed-forward block (SwiGLU or GeGLU).
      if (l === fromLayer && opts.fromStage === 'ffn' && opts.ffnProducts) this.sharedFfnProducts(opts.ffnProducts, chunks, h1, h3, patches, L.gate, L.up);
      else {
        this.ffnInput(xb, x, l, R, normPatches);
        mm(h1, xb, L.gate);
        mm(h3, xb, L.up);
      }
      if (c.activation === 'gelu_tanh') be.geglu(h1, h3);
      else be.swiglu(h1, h3);
      if (opts.captureStages) opts.captureStages[l] = { attention: att.slice(), mid: mid!, hidden: h1.slice() };
      mm(xb2, h1, L.down);
      if (L.ffnOutNorm) this.norm(xb2, xb2, L.ffnOutNorm, R, dim, normPatches);
      be.add(x, xb2);
    }
    if (opts.captureLayerInputs) opts.captureLayerInputs[c.nLayers] = x.slice();
    for (const ch of chunks) ch.cache.length += ch.tokens.length;
    return this.classify(x, chunks, logits, opts, patches);
  }

  /** Gate and up products of every chunk from one sequence's (ForwardOptions.ffnProducts), patched features recomputed. */
  private sharedFfnProducts(s: FfnProducts, chunks: readonly Chunk[], h1: Float32Array, h3: Float32Array, patches: Map<Matrix, [number, number, Patch][]>, gate: Matrix, up: Matrix): void {
    const hidden = this.config.hiddenDim;
    const n = s.gate.length / hidden;
    let start = 0;
    for (const ch of chunks) {
      if (ch.tokens.length !== n) throw new Error(`ffnProducts hold ${n} rows, a chunk has ${ch.tokens.length}`);
      h1.set(s.gate, start * hidden);
      h3.set(s.up, start * hidden);
      start += n;
    }
    for (const [m, out] of [[gate, h1], [up, h3]] as const)
      for (const [first, rows, p] of patches.get(m) ?? []) this.backend.matmulInto(out.subarray(first * hidden + p.row), hidden, s.input, rows, p.weights);
  }

  /** Layer l's attention block over all rows, added into the residual stream x. */
  private attentionBlock(
    l: number,
    x: Float32Array,
    R: number,
    chunks: readonly Chunk[],
    pos: Int32Array,
    groups: AttentionGroup[],
    mm: (out: Float32Array, input: Float32Array, m: Matrix) => void,
    np: NormPatches,
    buf: { xb: Float32Array; xb2: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; att: Float32Array },
  ): void {
    const c = this.config;
    const be = this.backend;
    const L = this.weights.layers[l];
    const dim = c.dim;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const { xb, xb2, q, k, v, att } = buf;
    const shape = attentionShape(c, l);
    const interleaved = c.ropeLayout === 'interleaved';
    const rope = this.ropeOf(l);
    this.norm(xb, x, L.attnNorm, R, dim, np);
    mm(q, xb, L.q);
    mm(k, xb, L.k);
    mm(v, xb, L.v);
    if (L.qBias) addBias(q, L.qBias, R);
    if (L.kBias) addBias(k, L.kBias, R);
    if (L.vBias) addBias(v, L.vBias, R);
    this.qkNorm(q, k, L, R, np);
    be.rope(q, R, c.nHeads, c.headDim, pos, rope.cos, rope.sin, interleaved, c.ropeDim);
    be.rope(k, R, c.nKvHeads, c.headDim, pos, rope.cos, rope.sin, interleaved, c.ropeDim);
    for (const g of groups) {
      const kb = new Float32Array(g.cache.k[l].buffer);
      const vb = new Float32Array(g.cache.v[l].buffer);
      const offset = g.offset;
      // every row's key and value into its cache, one call for the group
      if (g.contiguous) be.storeKv(kb, vb, k.subarray(g.rows[0] * kvDim), v.subarray(g.rows[0] * kvDim), offset, pos.subarray(g.rows[0]), g.rows.length, kvDim);
      else
        g.rows.forEach((i, j) => {
          const at = offset[j] + pos[i] * kvDim;
          kb.set(k.subarray(i * kvDim, (i + 1) * kvDim), at);
          vb.set(v.subarray(i * kvDim, (i + 1) * kvDim), at);
        });
      if (g.contiguous) be.attention(att.subarray(g.rows[0] * qDim), q.subarray(g.rows[0] * qDim), kb, vb, offset, pos.subarray(g.rows[0]), g.rows.length, shape);
      else {
        const qg = new Float32Array(g.rows.length * qDim);
        g.rows.forEach((i, j) => qg.set(q.subarray(i * qDim, (i + 1) * qDim), j * qDim));
        const ag = new Float32Array(g.rows.length * qDim);
        be.attention(ag, qg, kb, vb, offset, Int32Array.from(g.rows, (i) => pos[i]), g.rows.length, shape);
        g.rows.forEach((i, j) => att.set(ag.subarray(j * qDim, (j + 1) * qDim), i * qDim));
      }
    }
    mm(xb2, att, L.o);
    if (L.attnOutNorm) this.norm(xb2, xb2, L.attnOutNorm, R, dim, np);
    be.add(x, xb2);
  }

  /** Queries' and keys' RMSNorm before RoPE, in place: each head's (Qwen3, Gemma 3) or each row's whole projection (OLMo 2). */
  qkNorm(q: Float32Array, k: Float32Array, L: ModelWeights['layers'][number], R: number, np?: NormPatches): void {
    const c = this.config;
    const perHead = c.qkNorm !== 'whole';
    if (L.qNorm) this.norm(q, q, L.qNorm, perHead ? R * c.nHeads : R, perHead ? c.headDim : c.nHeads * c.headDim, np, perHead ? c.nHeads : 1);
    if (L.kNorm) this.norm(k, k, L.kNorm, perHead ? R * c.nKvHeads : R, perHead ? c.headDim : c.nKvHeads * c.headDim, np, perHead ? c.nKvHeads : 1);
  }

  /** Final norm and classifier for the rows asked (see LogitRows). */
  private classify(x: Float32Array, chunks: readonly Chunk[], logits: LogitRows, opts: ForwardOptions, patches: Map<Matrix, [number, number, Patch][]>): Float32Array {
    const c = this.config;
    const w = this.weights;
    const dim = c.dim;
    // Final norm and classifier, only for the rows whose logits are wanted.
    // Each chunk's wanted rows are consecutive: [first row, count] per chunk.
    const ranges: [number, number][] = [];
    let count = 0;
    let start = 0;
    for (const ch of chunks) {
      const n = ch.tokens.length;
      const first = logits === 'all' ? 0 : logits === 'last' ? n - 1 : logits === 'none' ? n : Math.min(n, logits.from);
      ranges.push([start + first, n - first]);
      count += n - first;
      start += n;
    }
    const sel = this.scratch('sel', count * dim);
    let at = 0;
    // a final-norm patch's chunk, in selected rows
    const finalPatches: NormPatches = new Map();
    ranges.forEach(([first, n], ci) => {
      sel.set(x.subarray(first * dim, (first + n) * dim), at * dim);
      const p = chunks[ci].patch;
      if (p && p.matrix.data === w.finalNorm) {
        if (!finalPatches.has(w.finalNorm)) finalPatches.set(w.finalNorm, []);
        finalPatches.get(w.finalNorm)!.push([at, n, p.weights.data as Float32Array]);
      }
      at += n;
    });
    const normed = this.scratch('normed', count * dim);
    this.norm(normed, sel, w.finalNorm, count, dim, finalPatches);
    if (opts.classifierInput) return normed;
    const out = new Float32Array(count * c.vocabSize);
    if (count) {
      this.backend.matmul(out, normed, count, w.lmHead);
      // A patched classifier (lm_head / tied embedding mutants) needs its rows recomputed too.
      const list = patches.get(w.lmHead);
      if (list) {
        let k = 0;
        for (const ch of chunks) {
          const n = ch.tokens.length;
          const mine = logits === 'all' ? n : logits === 'last' ? 1 : logits === 'none' ? 0 : Math.max(0, n - logits.from);
          if (ch.patch && ch.patch.matrix === w.lmHead) this.applyPatch(out, normed, k, mine, ch.patch);
          k += mine;
        }
      }
      if (c.finalSoftcap) softcap(out, c.finalSoftcap);
    }
    return out;
  }
}

/** x ← cap · tanh(x / cap), each step rounded to float32 (Gemma 2's logit soft-capping). */
export function softcap(x: Float32Array, cap: number): void {
  const c = f(cap);
  for (let i = 0; i < x.length; i++) x[i] = f(c * f(Math.tanh(f(x[i] / c))));
}

/** Gemma's embedding multiplier: √dim rounded to the embedding's dtype, as its reference rounds it. */
export function embedScale(c: ModelConfig, embed: Matrix): number {
  const s = Math.sqrt(c.dim);
  return embed.dtype === 'bf16' ? BF16_TO_F32[f32ToBf16(s)] : f(s);
}

/** Layer l's attention: its window, and the family's score scale and cap where they differ from Llama's. */
export function attentionShape(c: ModelConfig, l: number): AttentionShape {
  return {
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    headDim: c.headDim,
    window: windowOf(c, l),
    ...(c.attnScale !== undefined ? { scale: c.attnScale } : {}),
    ...(c.attnSoftcap ? { softcap: c.attnSoftcap } : {}),
  };
}

function copyRow(out: Float32Array, at: number, m: Matrix, row: number): void {
  const n = m.cols;
  if (m.dtype === 'f32') out.set((m.data as Float32Array).subarray(row * n, (row + 1) * n), at);
  else {
    const t = widening(m.dtype);
    for (let j = 0; j < n; j++) out[at + j] = t[m.data[row * n + j]];
  }
}

/** q/k/v bias: b added to each of `rows` rows of x, rounded as run.c rounds (the backward pass's record uses it too). */
export function addBias(x: Float32Array, b: Float32Array, rows: number): void {
  const n = b.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) x[r * n + j] = f(x[r * n + j] + b[j]);
}

interface AttentionGroup {
  /** a cache of the group: the buffers are its layers' */
  cache: KVCache;
  rows: Int32Array;
  contiguous: boolean;
  /** where each row's cache starts in the group's buffer, in floats: the same in every layer, since a pool's
   * caches take the same slice of each layer's buffer (and a lone cache starts each of its own at 0) */
  offset: Float64Array;
}

/** Rows grouped by the buffer their caches live in (one attention call per group). */
function attentionGroups(chunks: readonly Chunk[]): AttentionGroup[] {
  const byBuffer = new Map<ArrayBufferLike, { cache: KVCache; parts: [number, number, number][] }>();
  let start = 0;
  for (const ch of chunks) {
    const b = ch.cache.k[0]?.buffer;
    let g = byBuffer.get(b);
    if (!g) byBuffer.set(b, (g = { cache: ch.cache, parts: [] }));
    g.parts.push([start, ch.tokens.length, (ch.cache.k[0]?.byteOffset ?? 0) / 4]);
    start += ch.tokens.length;
  }
  return [...byBuffer.values()].map(({ cache, parts }) => {
    const n = parts.reduce((a, p) => a + p[1], 0);
    const rows = new Int32Array(n);
    const offset = new Float64Array(n);
    let k = 0;
    let contiguous = true;
    for (const [first, count, off] of parts) {
      if (k > 0 && rows[k - 1] !== first - 1) contiguous = false;
      for (let i = 0; i < count; i++, k++) {
        rows[k] = first + i;
        offset[k] = off;
      }
    }
    return { cache, rows, contiguous, offset };
  });
}
