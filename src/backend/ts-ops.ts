/**
 * The per-position arithmetic of the forward pass, in float32 exactly as llama2.c's run.c does it: every product
 * and sum rounded (Math.fround), sums in index order. native/src/ops.cc is its twin.
 */
import type { Matrix } from '../model/weights.js';
import { F16_TO_F32 } from '../util/float.js';

const f = Math.fround;

/** run.c rmsnorm: o = w · (x · (1 / sqrt(mean(x²) + eps))). */
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

/**
 * Rotates the first rd dimensions of each head of each row by the row's position (the rest pass unchanged);
 * pairs are (2i, 2i+1) or (i, i + rd/2); cos and sin are [position × rd/2].
 */
export function rope(vec: Float32Array, rows: number, heads: number, hd: number, pos: Int32Array, cos: Float32Array, sin: Float32Array, interleaved: boolean, rd = hd): void {
  const half = rd / 2;
  const width = heads * hd;
  for (let r = 0; r < rows; r++) {
    const tab = pos[r] * half;
    for (let h = 0; h < heads; h++) {
      const base = r * width + h * hd;
      for (let i = 0; i < half; i++) {
        const a = interleaved ? base + 2 * i : base + i;
        const b = interleaved ? a + 1 : a + half;
        const fcr = cos[tab + i];
        const fci = sin[tab + i];
        const v0 = vec[a];
        const v1 = vec[b];
        vec[a] = f(f(v0 * fcr) - f(v1 * fci));
        vec[b] = f(f(v0 * fci) + f(v1 * fcr));
      }
    }
  }
}

export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** 0 = none; otherwise a position attends to at most this many positions, itself included */
  window: number;
  /** scores multiplied by this; without it divided by √headDim (run.c's rule) */
  scale?: number;
  /** scores soft-capped to cap · tanh(score / cap) before the softmax */
  softcap?: number;
}

/**
 * Causal grouped-query attention: each row attends over its own cache, which starts at element offset[r] of
 * kc/vc ([positions × kvDim]), up to its position pos[r].
 */
export function storeKv(kc: Float32Array, vc: Float32Array, k: Float32Array, v: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, kvDim: number): void {
  for (let r = 0; r < rows; r++) {
    const at = offset[r] + pos[r] * kvDim;
    kc.set(k.subarray(r * kvDim, (r + 1) * kvDim), at);
    vc.set(v.subarray(r * kvDim, (r + 1) * kvDim), at);
  }
}

export function attention(out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array, offset: Float64Array, pos: Int32Array, rows: number, s: AttentionShape): void {
  const hd = s.headDim;
  const kvDim = s.nKvHeads * hd;
  const qDim = s.nHeads * hd;
  const group = s.nHeads / s.nKvHeads;
  const scale = f(Math.sqrt(hd));
  const mul = s.scale === undefined ? 0 : f(s.scale);
  const cap = f(s.softcap ?? 0);
  let scores = new Float32Array(64);
  for (let r = 0; r < rows; r++) {
    const p = pos[r];
    if (scores.length < p + 1) scores = new Float32Array(2 * (p + 1));
    const t0 = s.window > 0 ? Math.max(0, p - s.window + 1) : 0;
    const base = offset[r];
    for (let h = 0; h < s.nHeads; h++) {
      const qo = r * qDim + h * hd;
      const ko = base + Math.floor(h / group) * hd;
      let max = -Infinity;
      for (let t = t0; t <= p; t++) {
        let sc = 0;
        const kt = t * kvDim + ko;
        for (let i = 0; i < hd; i++) sc = f(sc + f(q[qo + i] * kc[kt + i]));
        sc = mul ? f(sc * mul) : f(sc / scale);
        if (cap) sc = f(cap * f(Math.tanh(f(sc / cap))));
        scores[t] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      for (let t = t0; t <= p; t++) {
        const e = f(Math.exp(f(scores[t] - max)));
        scores[t] = e;
        sum = f(sum + e);
      }
      for (let t = t0; t <= p; t++) scores[t] = f(scores[t] / sum);
      for (let i = 0; i < hd; i++) out[qo + i] = 0;
      for (let t = t0; t <= p; t++) {
        const a = scores[t];
        const vt = t * kvDim + ko;
        for (let i = 0; i < hd; i++) out[qo + i] = f(out[qo + i] + f(a * vc[vt + i]));
      }
    }
  }
}

/** h1 ← silu(h1) · h3, as run.c: val · (1 / (1 + exp(−val))) · h3. */
export function swiglu(h1: Float32Array, h3: Float32Array): void {
  for (let i = 0; i < h1.length; i++) {
    let val = h1[i];
    val = f(val * f(1 / f(1 + f(Math.exp(-val)))));
    h1[i] = f(val * h3[i]);
  }
}

const GELU_C = f(Math.sqrt(2 / Math.PI));
const GELU_A = f(0.044715);

/** h1 ← gelu(h1) · h3 with GELU's tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as Gemma's reference computes it. */
export function geglu(h1: Float32Array, h3: Float32Array): void {
  for (let i = 0; i < h1.length; i++) {
    const x = h1[i];
    const inner = f(GELU_C * f(x + f(GELU_A * f(f(x * x) * x))));
    const g = f(f(0.5 * x) * f(1 + f(Math.tanh(inner))));
    h1[i] = f(g * h3[i]);
  }
}

/**
 * out [cols × rows] = Wᵀ as float32, bf16 widened by shifting its bits up, f16 by its table; copied as bits (a float read into
 * JavaScript would quiet a signalling NaN). In tiles, so that reads and writes both stay in cache.
 */
export function transposeF32(out: Float32Array, w: Matrix): void {
  const { rows, cols } = w;
  const B = 64;
  const to = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const f32 = w.dtype === 'f32' ? new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length) : null;
  const bf16 = w.data as Uint16Array;
  const f16 = w.dtype === 'f16' ? new Uint32Array(F16_TO_F32.buffer) : null;
  for (let o0 = 0; o0 < rows; o0 += B)
    for (let j0 = 0; j0 < cols; j0 += B) {
      const o1 = Math.min(rows, o0 + B);
      const j1 = Math.min(cols, j0 + B);
      for (let o = o0; o < o1; o++) {
        const at = o * cols;
        if (f32) for (let j = j0; j < j1; j++) to[j * rows + o] = f32[at + j];
        else if (f16) for (let j = j0; j < j1; j++) to[j * rows + o] = f16[bf16[at + j]];
        else for (let j = j0; j < j1; j++) to[j * rows + o] = bf16[at + j] << 16;
      }
    }
}

/** x ← x + y */
export function add(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = f(x[i] + y[i]);
}
