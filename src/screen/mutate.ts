/**
 * Mutating a unit of a matrix in place, and restoring it bit for bit.
 *
 * A kind names the value it writes: `max`/`min` write the largest/smallest value of the whole unmutated matrix
 * (computed once per matrix), `zero` writes 0, `value:x` writes x, `scale:k` multiplies each element by k,
 * `negate` flips each sign. For bf16 matrices the written value is rounded to bf16 (round to nearest even). Norm
 * vectors are mutated as the factor RMSNorm multiplies by (Matrix.offset + w in Gemma's Hugging Face files, where
 * `zero` thus writes −1), so a kind means the same whichever file the model came from.
 */
import { BF16_TO_F32, F16_TO_F32, f32ToBf16, f32ToF16, widening } from '../util/float.js';
import type { Matrix } from '../model/weights.js';
import type { Kind } from '../spec/spec.js';

export type { Kind };

/** A rectangle of a matrix as stored ([out_features, in_features]): first row/col and its extent. */
export interface Unit {
  row: number;
  col: number;
  rows: number;
  cols: number;
}

export interface MatrixStats {
  max: number;
  min: number;
}

export function matrixStats(m: Matrix): MatrixStats {
  let max = -Infinity;
  let min = Infinity;
  const d = m.data;
  if (m.offset) {
    const off = m.offset;
    for (let i = 0; i < d.length; i++) {
      const v = Math.fround(off + d[i]);
      if (v > max) max = v;
      if (v < min) min = v;
    }
    return { max, min };
  }
  if (m.dtype === 'f32') for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v > max) max = v;
    if (v < min) min = v;
  }
  else for (let i = 0, t = widening(m.dtype); i < d.length; i++) {
    const v = t[d[i]];
    if (v > max) max = v;
    if (v < min) min = v;
  }
  return { max, min };
}

/** The raw bits a mutation overwrote, enough to put them back exactly. */
export interface Saved {
  matrix: Matrix;
  unit: Unit;
  bits: Uint32Array | Uint16Array;
}

function rawView(m: Matrix): Uint32Array | Uint16Array {
  return m.data instanceof Float32Array ? new Uint32Array(m.data.buffer, m.data.byteOffset, m.data.length) : m.data;
}

/** The float32 value `kind` writes over an element whose current value is `old` (NaN-free inputs). */
export function mutatedValue(kind: Kind, old: number, stats: MatrixStats): number {
  switch (kind.type) {
    case 'max':
      return stats.max;
    case 'min':
      return stats.min;
    case 'zero':
      return 0;
    case 'value':
      return kind.value;
    case 'scale':
      return old * kind.factor;
    case 'negate':
      return -old;
  }
}

/**
 * The bits `mutate` leaves in an element of `m` whose stored bits are `old`: the kind's value, rounded to bf16 or
 * f16 (to nearest even) in a bf16 or f16 matrix; for a norm vector with an offset, the kind acts on offset + w and w is stored.
 */
export function storedBits(m: Matrix, kind: Kind, old: number, stats: MatrixStats): number {
  if (m.dtype === 'bf16') return f32ToBf16(mutatedValue(kind, BF16_TO_F32[old], stats));
  if (m.dtype === 'f16') return f32ToF16(mutatedValue(kind, F16_TO_F32[old], stats));
  if (!m.offset) return Math.fround(mutatedValue(kind, old, stats));
  return Math.fround(mutatedValue(kind, Math.fround(m.offset + old), stats) - m.offset);
}

/** What `mutate` leaves in an element of `m` whose value is `old`, as a number (float32, or bf16 and f16 widened). */
export function writtenValue(m: Matrix, kind: Kind, old: number, stats: MatrixStats): number {
  if (m.dtype === 'bf16') return BF16_TO_F32[f32ToBf16(mutatedValue(kind, old, stats))];
  if (m.dtype === 'f16') return F16_TO_F32[f32ToF16(mutatedValue(kind, old, stats))];
  return storedBits(m, kind, old, stats);
}

/** Writes the mutation into the matrix and returns what it overwrote. */
export function mutate(m: Matrix, u: Unit, kind: Kind, stats: MatrixStats): Saved {
  if (u.row < 0 || u.col < 0 || u.rows <= 0 || u.cols <= 0 || u.row + u.rows > m.rows || u.col + u.cols > m.cols)
    throw new RangeError(`unit rows ${u.row}+${u.rows}, cols ${u.col}+${u.cols} is outside ${m.name} [${m.rows} × ${m.cols}]`);
  const raw = rawView(m);
  const bits = raw instanceof Uint32Array ? new Uint32Array(u.rows * u.cols) : new Uint16Array(u.rows * u.cols);
  for (let r = 0; r < u.rows; r++) {
    const at = (u.row + r) * m.cols + u.col;
    bits.set(raw.subarray(at, at + u.cols), r * u.cols);
  }
  const d = m.data;
  for (let r = 0; r < u.rows; r++) {
    const at = (u.row + r) * m.cols + u.col;
    for (let c = 0; c < u.cols; c++) d[at + c] = storedBits(m, kind, d[at + c], stats);
  }
  return { matrix: m, unit: u, bits };
}

export function restore(s: Saved): void {
  const raw = rawView(s.matrix);
  const { unit: u } = s;
  for (let r = 0; r < u.rows; r++) raw.set(s.bits.subarray(r * u.cols, (r + 1) * u.cols), (u.row + r) * s.matrix.cols + u.col);
}
