/** float32 helpers: the engine reproduces C float arithmetic, so every rounding is spelled out. */
export const f32 = Math.fround;

/** bf16 → f32 is exact (bf16 is the top half of an f32); a table avoids bit tricks in hot loops. */
export const BF16_TO_F32: Float32Array = (() => {
  const t = new Float32Array(65536);
  const u = new Uint32Array(t.buffer);
  for (let i = 0; i < 65536; i++) u[i] = i << 16;
  return t;
})();

/** f16 → f32, exact. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** f16 → f32 as a table, for hot loops (every f16 value is exact in f32). */
export const F16_TO_F32: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = f16ToF32(i);
  return t;
})();

/** The table that widens a 16-bit matrix type's bits to float32. */
export function widening(dtype: 'bf16' | 'f16'): Float32Array {
  return dtype === 'bf16' ? BF16_TO_F32 : F16_TO_F32;
}

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** f32 → bf16 with round-to-nearest-even, as PyTorch does. */
export function f32ToBf16(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40; // quiet NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 → f16 with round-to-nearest-even. */
export function f32ToF16(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}
