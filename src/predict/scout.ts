/**
 * The scout: where single weights may matter most, from one instrumented forward pass (the Super Weight paper,
 * Yu et al. 2024). A super weight shows as a super activation: at some layer's down_proj output, one channel's
 * largest |activation| far above every other channel's, at the position where it happens fed mostly by one
 * weight of down_proj (that channel's row × the one input channel carrying a spike of its own).
 *
 * Each layer gives its strongest channel; candidates are ranked by how far that channel stands above the
 * layer's other channels (its peak over the median of the channels' peaks).
 */
import type { Transformer } from '../model/forward.js';
import { record } from '../model/backward.js';
import { elementValue } from '../model/weights.js';

export interface SuperCandidate {
  layer: number;
  /** down_proj's output channel (its row) and the position of its peak */
  row: number;
  position: number;
  /** the channel's peak |activation|, and that over the median of the layer's channel peaks */
  peak: number;
  ratio: number;
  /** the input channel (column) whose weight contributes most to the peak, that weight, and its share of the peak */
  col: number;
  weight: number;
  share: number;
  /** the input activation there, and how far it stands above the median |input| at that position */
  input: number;
  inputRatio: number;
}

export function scoutSuperWeights(tf: Transformer, tokens: readonly number[]): SuperCandidate[] {
  const c = tf.config;
  const tape = record(tf, tokens);
  const T = tokens.length;
  const out: SuperCandidate[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const down = tf.weights.layers[l].down;
    const hidden = tape.layers[l].stages.hidden;
    const y = new Float32Array(T * c.dim);
    tf.backend.matmul(y, hidden, T, down);
    const peaks = new Float64Array(c.dim);
    const at = new Int32Array(c.dim);
    for (let p = 0; p < T; p++)
      for (let i = 0; i < c.dim; i++) {
        const v = Math.abs(y[p * c.dim + i]);
        if (v > peaks[i]) {
          peaks[i] = v;
          at[i] = p;
        }
      }
    let row = 0;
    for (let i = 1; i < c.dim; i++) if (peaks[i] > peaks[row]) row = i;
    const position = at[row];
    const w = (j: number): number => elementValue(down, row * down.cols + j);
    let col = 0;
    let best = -Infinity;
    for (let j = 0; j < down.cols; j++) {
      const contrib = Math.abs(w(j) * hidden[position * down.cols + j]);
      if (contrib > best) {
        best = contrib;
        col = j;
      }
    }
    const input = hidden[position * down.cols + col];
    const inputs = Array.from(hidden.subarray(position * down.cols, (position + 1) * down.cols), Math.abs);
    out.push({
      layer: l,
      row,
      position,
      peak: peaks[row],
      ratio: peaks[row] / Math.max(1e-30, median(Array.from(peaks))),
      col,
      weight: w(col),
      share: best / Math.max(1e-30, Math.abs(y[position * c.dim + row])),
      input,
      inputRatio: Math.abs(input) / Math.max(1e-30, median(inputs)),
    });
  }
  return out.sort((a, b) => b.ratio - a.ratio);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
