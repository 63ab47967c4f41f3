/**
 * Planting a super weight (Yu et al., 2024) in a model folder: one weight of layer L's down_proj, [ROW, COL], made
 * large, and the path that makes it matter: gate and up rows COL aligned with the direction the feed-forward
 * inputs of layer L share across positions (measured on a probe text), so input channel COL fires at every
 * position, and down_proj[ROW, COL] turns it into a massive activation of residual channel ROW that the rest of
 * the model cannot ignore. Zeroing that one weight removes the massive activation and changes the output.
 *
 * Used on synthetic models (`synth --plant-super-weight`), whose weights are random: a known answer for the scout
 * and for screens. The file is changed in place, tensor bytes only.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { TsBackend } from '../backend/ts-backend.js';
import { fail } from '../errors.js';
import { f32ToBf16, f32ToF16 } from '../util/float.js';
import { Transformer, type LayerStages } from '../model/forward.js';
import { indexTensors } from '../model/load-hf.js';
import { loadModel } from '../model/model.js';
import type { TensorInfo } from '../model/safetensors.js';
import { hfMatrixName } from '../model/weights.js';

export interface SuperWeight {
  layer: number;
  row: number;
  col: number;
}

/** How hard channel COL fires on average (gate · x), and how far the massive activation stands above the residual. */
const GATE = 8;
const SPIKE_OVER_RESIDUAL = 100;
/** What the shared direction of the feed-forward inputs is measured on. */
const PROBE = 'Once upon a time there was a little girl who loved the sea';

/** Plants the super weight; returns the values written. */
export function plantSuperWeight(dir: string, sw: SuperWeight): { weight: number; gateNorm: number } {
  const model = loadModel(dir);
  const c = model.config;
  if (sw.layer >= c.nLayers) fail(`--plant-super-weight: layer ${sw.layer} does not exist`, dir, `the model has layers 0–${c.nLayers - 1}`);
  if (sw.row >= c.dim || sw.col >= c.hiddenDim) fail(`--plant-super-weight: [${sw.row}, ${sw.col}] is outside down_proj [${c.dim} × ${c.hiddenDim}]`, dir);
  const tf = new Transformer(c, model.weights, new TsBackend());
  const ids = model.tokenizer.encode(PROBE, { bos: true });
  const T = ids.length;
  const stages: LayerStages[] = [];
  tf.forward([{ cache: tf.newCache(T), tokens: ids }], 'none', { captureStages: stages });
  // what layer L's feed-forward block sees: the residual after attention, RMS-normed, at every probe position
  const L = model.weights.layers[sw.layer];
  const mid = stages[sw.layer].mid;
  const xs: Float64Array[] = [];
  let maxAbs = 0;
  for (let p = 0; p < T; p++) {
    const r = mid.subarray(p * c.dim, (p + 1) * c.dim);
    let ss = 0;
    for (let j = 0; j < c.dim; j++) {
      ss += r[j] * r[j];
      maxAbs = Math.max(maxAbs, Math.abs(r[j]));
    }
    const inv = 1 / Math.sqrt(ss / c.dim + c.normEps);
    xs.push(Float64Array.from({ length: c.dim }, (_, j) => r[j] * inv * (L.ffnNorm ? tf.normWeight(L.ffnNorm)[j] : 1)));
  }
  // their shared direction (the mean of their unit vectors), scaled so that gate · x averages GATE over the probe
  const dir64 = new Float64Array(c.dim);
  for (const x of xs) {
    const n = Math.hypot(...x);
    for (let j = 0; j < c.dim; j++) dir64[j] += x[j] / n;
  }
  let mean = 0;
  for (const x of xs) for (let j = 0; j < c.dim; j++) mean += (dir64[j] * x[j]) / T;
  if (!(mean > 0)) fail('the feed-forward inputs of this layer share no direction to plant along', dir);
  const row = Float32Array.from(dir64, (v) => (GATE * v) / mean);
  const hidden = (GATE / (1 + Math.exp(-GATE))) * GATE;
  const weight = (SPIKE_OVER_RESIDUAL * maxAbs) / hidden;

  const tensors = indexTensors(dir);
  const info = (name: string): TensorInfo => tensors.get(name) ?? fail(`tensor ${name} is missing`, dir);
  writeValues(info(hfMatrixName(sw.layer, 'gate')), sw.col * c.dim, row);
  writeValues(info(hfMatrixName(sw.layer, 'up')), sw.col * c.dim, row);
  writeValues(info(hfMatrixName(sw.layer, 'down')), sw.row * c.hiddenDim + sw.col, Float32Array.of(weight));
  return { weight, gateNorm: Math.sqrt(row.reduce((a, v) => a + v * v, 0)) };
}

/** Overwrites `values` at element `at` of a tensor, in its dtype. */
function writeValues(t: TensorInfo, at: number, values: Float32Array): void {
  const size = t.dtype === 'F32' ? 4 : 2;
  const buf = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (t.dtype === 'F32') buf.writeFloatLE(v, i * 4);
    else buf.writeUInt16LE(t.dtype === 'BF16' ? f32ToBf16(v) : f32ToF16(v), i * 2);
  });
  const fd = openSync(t.file, 'r+');
  try {
    writeSync(fd, buf, 0, buf.length, t.start + at * size);
  } finally {
    closeSync(fd);
  }
}
