/**
 * K-quant blocks (Q4_K, Q5_K, Q6_K: super-blocks of 256 values) made by a plain quantizer of the test's own, laid
 * out as ggml's block_q4_K / block_q5_K / block_q6_K, with the values ggml's dequantize_row_* give for them. The
 * quantizer is not ggml's (which searches for better scales); a reader only has to read whatever valid blocks a
 * file holds, and llama.cpp reads the same bytes.
 */
import { f16ToF32, f32ToF16 } from '../../src/util/float.js';

const f = Math.fround;
const clamp = (x: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, x));

export type KQuant = 'Q4_K' | 'Q5_K' | 'Q6_K';
export const K_BLOCK_BYTES: Record<KQuant, number> = { Q4_K: 144, Q5_K: 176, Q6_K: 210 };

/** Quantizes `x` (a multiple of 256 long): the blocks' bytes, and the values they stand for. */
export function kQuantize(type: KQuant, x: Float32Array): { bytes: Uint8Array; values: Float32Array } {
  const n = x.length / 256;
  const bytes = new Uint8Array(n * K_BLOCK_BYTES[type]);
  const values = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    const xs = x.subarray(b * 256, (b + 1) * 256);
    const out = bytes.subarray(b * K_BLOCK_BYTES[type], (b + 1) * K_BLOCK_BYTES[type]);
    const ys = values.subarray(b * 256, (b + 1) * 256);
    if (type === 'Q6_K') q6(xs, out, ys);
    else q45(xs, out, ys, type === 'Q5_K' ? 31 : 15);
  }
  return { bytes, values };
}

/** An f16 of `v` and the float it stands for. */
function half(v: number): [number, number] {
  const h = f32ToF16(v);
  return [h, f16ToF32(h)];
}

function q45(x: Float32Array, out: Uint8Array, y: Float32Array, top: number): void {
  const five = top === 31;
  const scale: number[] = [];
  const mins: number[] = [];
  for (let j = 0; j < 8; j++) {
    const s = x.subarray(j * 32, j * 32 + 32);
    const mn = Math.min(0, ...s);
    scale.push((Math.max(...s) - mn) / top);
    mins.push(-mn);
  }
  const [dh, d] = half(Math.max(...scale) / 63);
  const [mh, dmin] = half(Math.max(...mins) / 63);
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint16(0, dh, true);
  view.setUint16(2, mh, true);
  const sc = scale.map((s) => (d > 0 ? clamp(Math.round(s / d), 0, 63) : 0));
  const m = mins.map((s) => (dmin > 0 ? clamp(Math.round(s / dmin), 0, 63) : 0));
  for (let j = 0; j < 4; j++) {
    out[4 + j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
    out[4 + j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
    out[4 + j + 8] = (sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4);
  }
  const qs = five ? 48 : 16;
  for (let j = 0; j < 8; j++) {
    const dj = f(d * sc[j]);
    const mj = f(dmin * m[j]);
    for (let l = 0; l < 32; l++) {
      const q = dj > 0 ? clamp(Math.round((x[j * 32 + l] + mj) / dj), 0, top) : 0;
      const at = qs + (j >> 1) * 32 + l;
      out[at] |= (q & 0xf) << (j & 1 ? 4 : 0);
      if (five && q & 16) out[16 + l] |= 1 << j;
      y[j * 32 + l] = f(f(dj * q) - mj);
    }
  }
}

function q6(x: Float32Array, out: Uint8Array, y: Float32Array): void {
  const scale: number[] = [];
  for (let j = 0; j < 16; j++) scale.push(Math.max(...x.subarray(j * 16, j * 16 + 16).map(Math.abs)) / 32);
  const [dh, d] = half(Math.max(...scale) / 127);
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint16(208, dh, true);
  const sc = scale.map((s) => (d > 0 ? clamp(Math.round(s / d), -128, 127) : 0));
  sc.forEach((s, j) => view.setInt8(192 + j, s));
  const q = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const dj = f(d * sc[i >> 4]);
    q[i] = (dj > 0 ? clamp(Math.round(x[i] / dj), -32, 31) : 0) + 32;
    y[i] = f(dj * (q[i] - 32));
  }
  for (let n = 0; n < 2; n++)
    for (let l = 0; l < 32; l++) {
      const [a, b, c, e] = [q[n * 128 + l], q[n * 128 + l + 32], q[n * 128 + l + 64], q[n * 128 + l + 96]];
      out[n * 64 + l] = (a & 0xf) | ((c & 0xf) << 4);
      out[n * 64 + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
      out[128 + n * 32 + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
    }
}
