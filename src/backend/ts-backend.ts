import { BF16_TO_F32, F16_TO_F32, f32ToBf16 } from '../util/float.js';
import type { Matrix } from '../model/weights.js';
import type { Backend } from './backend.js';
import { add, attention, geglu, rmsnorm, rope, storeKv, swiglu, transposeF32 } from './ts-ops.js';
import { chooseRows } from '../model/sampler.js';

const f = Math.fround;

/**
 * The reference twin: each dot product summed left to right in float32, every product and sum rounded,
 * exactly like run.c's `val += w[i*n+j] * x[j]`. Four outputs are computed side by side only to reuse x loads;
 * each keeps its own sequential sum.
 */
export class TsBackend implements Backend {
  readonly name = 'ts' as const;
  rowExact(): boolean {
    return true;
  }

  numerics(): string {
    return 'ts/index-order';
  }

  matmul(out: Float32Array, x: Float32Array, rows: number, w: Matrix): void {
    const n = w.cols;
    const m = w.rows;
    if (w.dtype === 'f32') matmulF32(out, x, rows, w.data as Float32Array, m, n);
    // f16: the float32 product of the widened matrix (exact widening), made per call since mutations write in place
    else if (w.dtype === 'f16') matmulF32(out, x, rows, Float32Array.from(w.data, (h) => F16_TO_F32[h]), m, n);
    else matmulBf16(out, x, rows, w.data as Uint16Array, m, n);
  }

  matmulInto(out: Float32Array, ldo: number, x: Float32Array, rows: number, w: Matrix): void {
    scatterRows(out, ldo, rows, w.rows, (tmp) => this.matmul(tmp, x, rows, w));
  }

  rmsnorm = rmsnorm;
  rope = rope;
  storeKv = storeKv;
  attention = attention;
  swiglu = swiglu;
  geglu = geglu;
  add = add;
  transposeF32 = transposeF32;
  sampleRows = chooseRows;
}

/** Runs `fill` into a compact [rows × m] buffer, then copies each row to out[r·ldo …]. */
export function scatterRows(out: Float32Array, ldo: number, rows: number, m: number, fill: (tmp: Float32Array) => void): void {
  const tmp = new Float32Array(rows * m);
  fill(tmp);
  for (let r = 0; r < rows; r++) out.set(tmp.subarray(r * m, (r + 1) * m), r * ldo);
}

/** w[wo…wo+n) · x[xo…xo+n) in float32, summed left to right (run.c's order, the twin's for every fp32 output). */
export function dotF32(w: ArrayLike<number>, wo: number, x: ArrayLike<number>, xo: number, n: number): number {
  let a = 0;
  for (let j = 0; j < n; j++) a = f(a + f(w[wo + j] * x[xo + j]));
  return a;
}

export function matmulF32(out: Float32Array, x: Float32Array, rows: number, w: Float32Array, m: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const xo = r * n;
    const oo = r * m;
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const w0 = i * n, w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let j = 0; j < n; j++) {
        const xv = x[xo + j];
        a0 = f(a0 + f(w[w0 + j] * xv));
        a1 = f(a1 + f(w[w1 + j] * xv));
        a2 = f(a2 + f(w[w2 + j] * xv));
        a3 = f(a3 + f(w[w3 + j] * xv));
      }
      out[oo + i] = a0;
      out[oo + i + 1] = a1;
      out[oo + i + 2] = a2;
      out[oo + i + 3] = a3;
    }
    for (; i < m; i++) out[oo + i] = dotF32(w, i * n, x, xo, n);
  }
}

/**
 * bf16 matrices multiply bf16-rounded activations (round to nearest even) with float32 accumulation — the rule
 * of the native backend's oneDNN kernel and of torch.autocast(bfloat16). Products of two bf16 values are exact
 * in float32, so only the order of the sums can differ between backends.
 */
function matmulBf16(out: Float32Array, x: Float32Array, rows: number, w: Uint16Array, m: number, n: number): void {
  const t = BF16_TO_F32;
  const xr = new Float32Array(n);
  for (let r = 0; r < rows; r++) {
    const xo = r * n;
    const oo = r * m;
    for (let j = 0; j < n; j++) xr[j] = t[f32ToBf16(x[xo + j])];
    for (let i = 0; i < m; i++) {
      const w0 = i * n;
      let a = 0;
      for (let j = 0; j < n; j++) a = f(a + f(t[w[w0 + j]] * xr[j]));
      out[oo + i] = a;
    }
  }
}
