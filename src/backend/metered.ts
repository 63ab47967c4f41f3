/**
 * A backend that counts and times what the forward pass asks of another one, for the benchmarks: how many
 * FLOPs of matrix products a screen really does, at which shapes and row counts, and where the rest of the
 * time goes (attention, sampling, norms…). `npm run bench:7b` sets these counts against the product rates
 * measured on the same shapes and row counts to say how far the fast path is from the machine's limit.
 *
 * Timing every call costs about a microsecond: noise on a 7B model, not on stories260K.
 */
import type { Sampling } from '../model/sampler.js';
import type { DType, Matrix } from '../model/weights.js';
import type { AttentionShape, Backend } from './backend.js';

/** Products of one shape and dtype whose row counts fall in one power-of-two bucket. */
export interface ProductTally {
  /** the matrix's [out × in] as stored */
  out: number;
  in: number;
  dtype: DType;
  /** row counts up to this power of two (and above half of it) */
  bucket: number;
  calls: number;
  rows: number;
  flops: number;
  seconds: number;
}

export interface OpTally {
  calls: number;
  rows: number;
  flops: number;
  seconds: number;
}

export class MeteredBackend implements Backend {
  readonly name: Backend['name'];
  readonly products = new Map<string, ProductTally>();
  /** everything else, by method name (attention's FLOPs: scores and weighted sum, 4 per head dimension and position) */
  readonly ops = new Map<string, OpTally>();

  constructor(readonly inner: Backend) {
    this.name = inner.name;
  }

  reset(): void {
    this.products.clear();
    this.ops.clear();
  }

  /** Seconds spent in calls, products and the rest. */
  seconds(): { products: number; ops: number } {
    let products = 0;
    let ops = 0;
    for (const p of this.products.values()) products += p.seconds;
    for (const o of this.ops.values()) ops += o.seconds;
    return { products, ops };
  }

  private product(w: Matrix, rows: number, seconds: number): void {
    const bucket = 2 ** Math.ceil(Math.log2(Math.max(1, rows)));
    const key = `${w.rows}x${w.cols}:${w.dtype}:${bucket}`;
    let t = this.products.get(key);
    if (!t) this.products.set(key, (t = { out: w.rows, in: w.cols, dtype: w.dtype, bucket, calls: 0, rows: 0, flops: 0, seconds: 0 }));
    t.calls++;
    t.rows += rows;
    t.flops += 2 * rows * w.rows * w.cols;
    t.seconds += seconds;
  }

  private op(name: string, rows: number, flops: number, seconds: number): void {
    let t = this.ops.get(name);
    if (!t) this.ops.set(name, (t = { calls: 0, rows: 0, flops: 0, seconds: 0 }));
    t.calls++;
    t.rows += rows;
    t.flops += flops;
    t.seconds += seconds;
  }

  rowExact(dtype: DType): boolean {
    return this.inner.rowExact(dtype);
  }

  numerics(): string {
    return this.inner.numerics();
  }

  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void {
    const t = performance.now();
    this.inner.matmul(out, x, rows, w);
    this.product(w, rows, (performance.now() - t) / 1000);
  }

  matmulInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Matrix): void {
    const t = performance.now();
    this.inner.matmulInto(out, ldo, x, rows, w);
    this.product(w, rows, (performance.now() - t) / 1000);
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number, eps: number): void {
    const t = performance.now();
    this.inner.rmsnorm(out, x, weight, rows, n, eps);
    this.op('rmsnorm', rows, 0, (performance.now() - t) / 1000);
  }

  rope(vec: Float32Array, rows: number, heads: number, headDim: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean, rotDim?: number): void {
    const t = performance.now();
    this.inner.rope(vec, rows, heads, headDim, pos, cos, sin, interleaved, rotDim);
    this.op('rope', rows, 0, (performance.now() - t) / 1000);
  }

  storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void {
    const t = performance.now();
    this.inner.storeKv(kc, vc, k, v, offset, pos, rows, kvDim);
    this.op('storeKv', rows, 0, (performance.now() - t) / 1000);
  }

  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, shape: AttentionShape): void {
    const t = performance.now();
    this.inner.attention(out, q, k, v, offset, pos, rows, shape);
    const seconds = (performance.now() - t) / 1000;
    let positions = 0;
    for (let r = 0; r < rows; r++) positions += shape.window > 0 ? Math.min(pos[r] + 1, shape.window) : pos[r] + 1;
    this.op('attention', rows, 4 * positions * shape.nHeads * shape.headDim, seconds);
  }

  geglu(h1: Float32Array, h3: Float32Array): void {
    const t = performance.now();
    this.inner.geglu(h1, h3);
    this.op('geglu', 0, 0, (performance.now() - t) / 1000);
  }

  swiglu(h1: Float32Array, h3: Float32Array): void {
    const t = performance.now();
    this.inner.swiglu(h1, h3);
    this.op('swiglu', 0, 0, (performance.now() - t) / 1000);
  }

  add(x: Float32Array, y: Float32Array): void {
    const t = performance.now();
    this.inner.add(x, y);
    this.op('add', 0, 0, (performance.now() - t) / 1000);
  }

  transposeF32(out: Float32Array, w: Matrix): void {
    const t = performance.now();
    this.inner.transposeF32(out, w);
    this.op('transposeF32', 0, 0, (performance.now() - t) / 1000);
  }

  sampleRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, s: Sampling, coins: Float64Array): void {
    const t = performance.now();
    this.inner.sampleRows(tokens, margins, logits, rows, vocab, s, coins);
    this.op('sampleRows', rows, 0, (performance.now() - t) / 1000);
  }
}
