import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { chooseRows, type Sampling } from '../model/sampler.js';
import type { DType, Matrix } from '../model/weights.js';
import { scatterRows } from './ts-backend.js';
import * as tsOps from './ts-ops.js';
import type { AttentionShape, Backend } from './backend.js';

/** The addon's functions (native/src/addon.cc). All arrays are used in place. */
export interface NativeAddon {
  sgemm(out: Float32Array, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  bf16gemm(out: Float32Array, x: Float32Array, rows: number, w: Uint16Array, m: number, n: number): void;
  /** bf16 product with a fixed order of operations per output (native/src/bf16exact.cc); out rows ldo apart */
  bf16exact(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Uint16Array, m: number, n: number): void;
  /** fp32 product with a fixed order of operations per output (native/src/f32exact.cc); W float32, or float16 bits */
  f32exact(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Float32Array | Uint16Array, m: number, n: number): void;
  /** fp32 product summed left to right (the TypeScript twin's order); out rows ldo apart */
  sgemmInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  dnnlSgemm(out: Float32Array, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  /** GFLOP/s of a tight loop of the instruction a kind's products are bound by at the level in use */
  peak(kind: 'f32' | 'bf16', threads: number, seconds: number): number;
  /** GB/s of a STREAM-like sweep over `bytes` of arrays: the triad a = b + s·c, or a read-only sum */
  bandwidth(kind: 'triad' | 'read', bytes: number, threads: number, seconds: number): number;
  info(): AddonInfo;
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

/** What the addon runs here (native/src/addon.cc, Info). */
export interface AddonInfo {
  openblas: string;
  onednn: string;
  /** the instruction-set level the kernels run at (native/src/isa.h): the host's, capped by MUTASCAN_ISA */
  isa: IsaLevel;
  hostIsa: IsaLevel;
  onednnIsa: string;
  /** whether oneDNN has bf16 matmuls at this level (MUTASCAN_KERNEL=library) */
  onednnBf16: boolean;
  /** the row-exact bf16 kernel: amx, avx512bf16, avx512f, avx2 or portable */
  bf16exact: IsaLevel;
  /** the bits it gives: bf16-dp (every level but AMX) or bf16-amx */
  bf16Numerics: 'bf16-dp' | 'bf16-amx';
  /** the row-exact fp32 kernel: avx512f, avx2 or portable (the same bits on each) */
  f32exact: IsaLevel;
  /** the instruction each kind's peak is measured with */
  peakF32: string;
  peakBf16: string;
  threads: number;
}

export const ISA_LEVELS = ['portable', 'avx2', 'avx512f', 'avx512bf16', 'amx'] as const;
export type IsaLevel = (typeof ISA_LEVELS)[number];

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
  // OpenMP threads (the addon's kernels and oneDNN's) that wait for work by spinning burn the cores other
  // processes need, and on a busy machine every parallel region then waits for a thread the scheduler has not
  // run: a screen that took 3.3 s alone took 15.6 s beside two busy processes on 2 cores, and 5.9 s with
  // threads that sleep while they wait (as fast alone, with 30 % less CPU time; npm run bench:busy). libgomp
  // reads the policy when the addon loads it; one set by the user stands.
  process.env.OMP_WAIT_POLICY ??= 'passive';
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
 * Products run by the row-exact kernels (native/src/f32exact.cc, bf16exact.cc): every output is computed by the
 * same operations in the same order whatever else shares the call and whatever the CPU's level, AMX excepted
 * (its own order), so the fast path equals the plain path and a cluster of mixed machines gives one answer
 * (docs/numerics.md). MUTASCAN_KERNEL=library runs OpenBLAS and oneDNN instead: faster on some shapes, but their
 * order of summation changes with the shape and the CPU, so screens re-check near-ties on the plain path.
 */
export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly kernels: KernelChoice;
  private readonly onednnBf16: boolean;
  private warned = false;
  private onednnRefused = false;
  constructor(readonly addon: NativeAddon) {
    this.kernels = kernelChoice();
    this.onednnBf16 = addon.info().onednnBf16;
  }

  rowExact(dtype: DType): boolean {
    // f16 weights multiply through the row-exact kernel whatever the choice: no library multiplies them as they are
    return this.kernels === 'exact' || dtype === 'f16' || (dtype === 'bf16' && !this.onednnBf16);
  }

  numerics(): string {
    return nativeNumerics(this.addon.info(), this.kernels);
  }

  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void {
    if (w.dtype === 'f32' && this.kernels === 'library' && !this.onednnRefused) {
      if (rows === 1) return this.addon.sgemm(out, x, rows, w.data as Float32Array, w.rows, w.cols);
      try {
        return this.addon.dnnlSgemm(out, x, rows, w.data as Float32Array, w.rows, w.cols);
      } catch (e) {
        // oneDNN could not make a primitive at this CPU level: say so once, and go on with the row-exact kernel
        this.onednnRefused = true;
        process.stderr.write(`mutascan: ${(e as Error).message}; fp32 products of several rows use the row-exact kernel\n`);
      }
    }
    this.matmulInto(out, w.rows, x, rows, w);
  }

  matmulInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Matrix): void {
    if (w.dtype === 'f16') {
      // widened exactly as the kernel reads them: the bits of the row-exact product on the float32 matrix
      this.addon.f32exact(out, ldo, x, rows, w.data as Uint16Array, w.rows, w.cols);
      return;
    }
    if (w.dtype === 'f32') {
      // Strided fp32 under the libraries (a patch's rows): summed in index order, as the TypeScript twin does.
      if (this.kernels === 'library') this.addon.sgemmInto(out, ldo, x, rows, w.data as Float32Array, w.rows, w.cols);
      else this.addon.f32exact(out, ldo, x, rows, w.data as Float32Array, w.rows, w.cols);
      return;
    }
    if (this.kernels === 'exact' || !this.onednnBf16) {
      if (this.kernels === 'library' && !this.warned) {
        this.warned = true;
        process.stderr.write(`mutascan: oneDNN has no bf16 matmul at this CPU level (${this.addon.info().isa}); bf16 products use the row-exact kernel\n`);
      }
      this.addon.bf16exact(out, ldo, x, rows, w.data as Uint16Array, w.rows, w.cols);
    } else if (ldo === w.rows) this.addon.bf16gemm(out, x, rows, w.data as Uint16Array, w.rows, w.cols);
    else scatterRows(out, ldo, rows, w.rows, (tmp) => this.addon.bf16gemm(tmp, x, rows, w.data as Uint16Array, w.rows, w.cols));
  }

  setThreads(n: number): void {
    this.addon.setThreads(n);
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number, eps: number): void {
    this.addon.rmsnorm(out, x, weight, rows, n, eps);
  }

  rope(vec: Float32Array, rows: number, heads: number, hd: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean, rotDim = hd): void {
    // partial rotation (Phi-3/4) is rare and cheap: the TypeScript loop, the same float32 arithmetic
    if (rotDim !== hd) return tsOps.rope(vec, rows, heads, hd, pos, cos, sin, interleaved, rotDim);
    this.addon.rope(vec, rows, heads, hd, pos, cos, sin, interleaved);
  }

  storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void {
    this.addon.storeKv(kc, vc, k, v, offset, pos, rows, kvDim);
  }

  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, s: AttentionShape): void {
    // the native kernels divide by √headDim and do not cap: other scales and soft-capping (Gemma 2) run in the twin
    if (s.scale !== undefined || s.softcap) return tsOps.attention(out, q, k, v, offset, pos, rows, s);
    this.addon.attention(out, q, k, v, offset, pos, rows, s.nHeads, s.nKvHeads, s.headDim, s.window);
  }

  swiglu(h1: Float32Array, h3: Float32Array): void {
    this.addon.swiglu(h1, h3);
  }

  /** elementwise and a small share of a step: the twin's */
  geglu(h1: Float32Array, h3: Float32Array): void {
    tsOps.geglu(h1, h3);
  }

  add(x: Float32Array, y: Float32Array): void {
    this.addon.add(x, y);
  }

  transposeF32(out: Float32Array, w: Matrix): void {
    // the addon widens 16-bit weights as bf16; f16 is rare enough here (the backward pass) for the twin's loop
    if (w.dtype === 'f16') return tsOps.transposeF32(out, w);
    this.addon.transposeF32(out, w.data, w.rows, w.cols);
  }

  sampleRows(tokens: Int32Array, margins: Float64Array, logits: Float32Array, rows: number, vocab: number, s: Sampling, coins: Float64Array): void {
    // argmax is a single pass over the row: no call needed
    if (s.temperature === 0) chooseRows(tokens, margins, logits, rows, vocab, s, coins);
    else this.addon.sampleRows(tokens, margins, logits, rows, vocab, s.temperature, s.topP, s.topK, coins);
  }
}

export type KernelChoice = 'exact' | 'library';

/** MUTASCAN_KERNEL: exact (the default) or library. */
export function kernelChoice(): KernelChoice {
  const v = process.env.MUTASCAN_KERNEL || 'exact';
  if (v !== 'exact' && v !== 'library') fail(`MUTASCAN_KERNEL=${v} names no kernel choice`, 'the environment', 'use exact (the default: row-exact kernels) or library (OpenBLAS and oneDNN)');
  return v;
}

/**
 * The numerics a native run's results carry: two runs whose strings are equal compute the same bits for the same
 * model and inputs (docs/numerics.md). Row-exact products are the same on every level but AMX; the per-position
 * kernels (attention, SwiGLU, sampling) are the same on AVX2 and up, and scalar below; library products depend
 * on the level oneDNN runs at.
 */
export function nativeNumerics(info: AddonInfo, kernels: KernelChoice): string {
  const ops = info.isa === 'portable' ? 'ops-scalar' : 'ops-vector';
  if (kernels === 'exact') return `native/f32-fma16/${info.bf16Numerics}/${ops}`;
  return `native/library-${info.onednnIsa}/${info.onednnBf16 ? 'bf16-onednn' : info.bf16Numerics}/${ops}`;
}

export function loadNativeBackend(): NativeBackend {
  return new NativeBackend(loadAddon());
}
