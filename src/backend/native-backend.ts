import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseRows, type Sampling } from '../model/sampler.js';
import type { DType, Matrix } from '../model/weights.js';
import { scatterRows } from './ts-backend.js';
import type { AttentionShape, Backend } from './backend.js';

/** The addon's functions (native/src/addon.cc). All arrays are used in place. */
export interface NativeAddon {
  sgemm(out: Float32Array, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  bf16gemm(out: Float32Array, x: Float32Array, rows: number, w: Uint16Array, m: number, n: number): void;
  /** bf16 product with a fixed order of summation per output (native/src/bf16exact.cc); out rows ldo apart */
  bf16exact(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Uint16Array, m: number, n: number): void;
  bf16exactSupported(): boolean;
  /** fp32 product summed left to right (the TypeScript twin's order); out rows ldo apart */
  sgemmInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  dnnlSgemm(out: Float32Array, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  /** GFLOP/s of a tight FMA loop on `threads` threads (null when the CPU lacks the instructions) */
  peak(kind: 'f32' | 'bf16', threads: number, seconds: number): number | null;
  info(): { openblas: string; onednn: string; bf16: boolean; threads: number; /** the row-exact bf16 kernel: amx, avx512bf16, avx512f or none */ bf16exact: string };
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, eps: number): void;
  rope(vec: Float32Array, rows: number, heads: number, hd: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean): void;
  storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void;
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, nHeads: number, nKvHeads: number, headDim: number, window: number): void;
  swiglu(h1: Float32Array, h3: Float32Array): void;
  add(x: Float32Array, y: Float32Array): void;
  transposeF32(out: Float32Array, w: Float32Array | Uint16Array, rows: number, cols: number): void;
  /** sampled choices of many rows with sampler.ts's arithmetic (native/src/sample.cc); temperature > 0 */
  sampleRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, temperature: number, topP: number, topK: number, coins: Float64Array): void;
  /** the softmax's terms exp(p[i] − max) as float, as sample.cc computes them (the test compares them with Math.exp) */
  expTerms(out: Float32Array, p: Float32Array, max: number): void;
  /** private, writable mappings of byte ranges of a file (src/model/mapped.ts) */
  mapTensors(path: string, starts: Float64Array, lengths: Float64Array): ArrayBuffer[];
}

/** Where the addon is built; MUTASCAN_ADDON points elsewhere (a custom build, or a test of the missing-addon path). */
function addonPath(): string {
  return process.env.MUTASCAN_ADDON || join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'build', 'Release', 'mutascan_native.node');
}

let cached: NativeAddon | undefined;

/** Loads the addon; throws with the reason when it is not built or cannot load. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const file = addonPath();
  if (!existsSync(file)) throw new Error(`the addon is not built (${file} is missing)`);
  const addon = createRequire(import.meta.url)(file) as NativeAddon;
  addon.setThreads(defaultThreads());
  cached = addon;
  return addon;
}

/** MUTASCAN_THREADS, else every core. */
export function defaultThreads(): number {
  const env = Number(process.env.MUTASCAN_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/**
 * fp32 matrices: OpenBLAS sgemv for a single row (memory-bound), oneDNN's AVX-512 matmul for more rows (OpenBLAS
 * is pinned to its Haswell kernels on these machines by OPENBLAS_CORETYPE and reaches half the speed; see
 * bench:gemm). bf16 matrices: oneDNN matmul on bf16-rounded activations with float32 accumulation, the same rule
 * as the TypeScript twin. Sums run in BLAS order (blocked, with FMA), so results differ from the twin in the last
 * bits; screens treat decisions within the tie epsilon as ties.
 */
export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  private readonly bf16Exact: boolean;
  constructor(readonly addon: NativeAddon) {
    this.bf16Exact = addon.bf16exactSupported() && process.env.MUTASCAN_BF16_KERNEL !== 'onednn';
  }

  rowExact(dtype: DType): boolean {
    return dtype === 'bf16' && this.bf16Exact;
  }

  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void {
    if (w.dtype === 'f32') {
      if (rows === 1) this.addon.sgemm(out, x, rows, w.data as Float32Array, w.rows, w.cols);
      else this.addon.dnnlSgemm(out, x, rows, w.data as Float32Array, w.rows, w.cols);
    } else this.matmulInto(out, w.rows, x, rows, w);
  }

  matmulInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Matrix): void {
    if (w.dtype === 'bf16' && this.bf16Exact) this.addon.bf16exact(out, ldo, x, rows, w.data as Uint16Array, w.rows, w.cols);
    else if (w.dtype === 'bf16' && ldo === w.rows) this.addon.bf16gemm(out, x, rows, w.data as Uint16Array, w.rows, w.cols);
    // Strided fp32 (a patch's rows): summed in index order, as the TypeScript twin does.
    else if (w.dtype === 'f32') this.addon.sgemmInto(out, ldo, x, rows, w.data as Float32Array, w.rows, w.cols);
    else scatterRows(out, ldo, rows, w.rows, (tmp) => this.addon.bf16gemm(tmp, x, rows, w.data as Uint16Array, w.rows, w.cols));
  }

  setThreads(n: number): void {
    this.addon.setThreads(n);
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number, eps: number): void {
    this.addon.rmsnorm(out, x, weight, rows, n, eps);
  }

  rope(vec: Float32Array, rows: number, heads: number, hd: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean): void {
    this.addon.rope(vec, rows, heads, hd, pos, cos, sin, interleaved);
  }

  storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void {
    this.addon.storeKv(kc, vc, k, v, offset, pos, rows, kvDim);
  }

  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, s: AttentionShape): void {
    this.addon.attention(out, q, k, v, offset, pos, rows, s.nHeads, s.nKvHeads, s.headDim, s.window);
  }

  swiglu(h1: Float32Array, h3: Float32Array): void {
    this.addon.swiglu(h1, h3);
  }

  add(x: Float32Array, y: Float32Array): void {
    this.addon.add(x, y);
  }

  transposeF32(out: Float32Array, w: Matrix): void {
    this.addon.transposeF32(out, w.data, w.rows, w.cols);
  }

  sampleRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, s: Sampling, coins: Float64Array): void {
    // argmax is a single pass over the row: no call needed
    if (s.temperature === 0) chooseRows(tokens, margins, logits, rows, vocab, s, coins);
    else this.addon.sampleRows(tokens, margins, logits, rows, vocab, s.temperature, s.topP, s.topK, coins);
  }
}

export function loadNativeBackend(): NativeBackend {
  return new NativeBackend(loadAddon());
}
