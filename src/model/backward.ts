/**
 * The backward pass: gradients of chosen scalars of one sequence's logits (objectives: one per generated step,
 * e.g. its decision margin) with respect to every matrix of the model, at the unmutated weights.
 *
 * Screens use them for first-order predictions (src/predict/): a mutation that adds ΔW to a matrix moves
 * objective s by about ⟨∂s/∂W, ΔW⟩. The gradients are never held for all matrices at once: the pass walks the
 * layers from the top and hands each matrix's gradient to the caller as it reaches it (`WeightGradient`), as
 * the product of two small factors (the matrix's input rows and the gradients at its output rows), so a 7B
 * model needs memory for its activations and one matrix's worth of scratch, not a second copy of its weights.
 *
 * Objectives are batched: every array of the pass holds S × T rows (objective s, position p), rows past the
 * objective's own position staying zero (causal attention carries nothing back from them). The products go
 * through the backend; per-position work is float64 arithmetic stored as float32.
 */
import type { Backend } from '../backend/backend.js';
import { BF16_TO_F32, f32ToBf16 } from '../util/float.js';
import type { ModelConfig } from './config.js';
import { addBias, type LayerStages, type Transformer } from './forward.js';
import { LAYER_MATRICES, matrix, type Matrix } from './weights.js';

/** A scalar of the logits at one position, given by its gradient there (the first-order view is all we need). */
export interface Objective {
  /** position in the sequence whose logits it reads */
  position: number;
  /** ∂objective/∂logits at that position [vocab] */
  dlogits: Float32Array;
}

/** One matrix's gradients, for every objective of the batch. */
export interface WeightGradient {
  matrix: Matrix;
  /** writes ∂(objective s)/∂W ([rows × cols], as the matrix is stored) into out */
  of(s: number, out: Float32Array): void;
}

/** What the forward pass computed on the way, per layer: what the backward pass reads. */
interface LayerTape {
  xIn: Float32Array;
  xn1: Float32Array;
  /** queries and keys after RoPE, values */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** attention weights [head × T × T] (row i: over positions ≤ i) */
  probs: Float32Array;
  stages: LayerStages;
  xn2: Float32Array;
  /** gate and up products before SwiGLU */
  h1: Float32Array;
  h3: Float32Array;
}

/** One sequence run forward with everything the backward pass needs. */
export interface Tape {
  tokens: readonly number[];
  /** logits of every position [T × vocab] */
  logits: Float32Array;
  layers: LayerTape[];
  /** the residual stream entering the final norm, and the norm's output [T × dim] */
  xFinal: Float32Array;
  normedFinal: Float32Array;
}

/** Runs `tokens` forward (teacher-forced, the unmutated model) and keeps what the backward pass reads. */
export function record(tf: Transformer, tokens: readonly number[]): Tape {
  const c = tf.config;
  const be = tf.backend;
  const w = tf.weights;
  const T = tokens.length;
  const layerInputs: Float32Array[] = [];
  const stages: LayerStages[] = [];
  const logits = tf.forward([{ cache: tf.newCache(T), tokens }], 'all', { captureLayerInputs: layerInputs, captureStages: stages }).slice();
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const pos = Int32Array.from({ length: T }, (_, i) => i);
  const { cos, sin } = tf.rotations(T);
  const interleaved = c.ropeLayout === 'interleaved';
  const layers: LayerTape[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const L = w.layers[l];
    const xIn = layerInputs[l];
    const xn1 = new Float32Array(T * c.dim);
    be.rmsnorm(xn1, xIn, L.attnNorm, T, c.dim, c.normEps);
    const q = new Float32Array(T * qDim);
    const k = new Float32Array(T * kvDim);
    const v = new Float32Array(T * kvDim);
    be.matmul(q, xn1, T, L.q);
    be.matmul(k, xn1, T, L.k);
    be.matmul(v, xn1, T, L.v);
    if (L.qBias) addBias(q, L.qBias, T);
    if (L.kBias) addBias(k, L.kBias, T);
    if (L.vBias) addBias(v, L.vBias, T);
    be.rope(q, T, c.nHeads, c.headDim, pos, cos, sin, interleaved);
    be.rope(k, T, c.nKvHeads, c.headDim, pos, cos, sin, interleaved);
    const probs = attentionWeights(c, q, k, T);
    const xn2 = new Float32Array(T * c.dim);
    be.rmsnorm(xn2, stages[l].mid, L.ffnNorm, T, c.dim, c.normEps);
    const h1 = new Float32Array(T * c.hiddenDim);
    const h3 = new Float32Array(T * c.hiddenDim);
    be.matmul(h1, xn2, T, L.gate);
    be.matmul(h3, xn2, T, L.up);
    layers.push({ xIn, xn1, q, k, v, probs, stages: stages[l], xn2, h1, h3 });
  }
  const xFinal = layerInputs[c.nLayers];
  const normedFinal = new Float32Array(T * c.dim);
  be.rmsnorm(normedFinal, xFinal, w.finalNorm, T, c.dim, c.normEps);
  return { tokens, logits, layers, xFinal, normedFinal };
}

/**
 * Backpropagates every objective through the whole model and calls `visit` once per matrix, from the top
 * (lm_head) down to the embedding (or only down to layer `downTo`'s matrices). A tied embedding is visited once,
 * with both of its uses summed.
 */
export function backward(tf: Transformer, tape: Tape, objectives: readonly Objective[], visit: (g: WeightGradient) => void, opts: { downTo?: number } = {}): void {
  const c = tf.config;
  const be = tf.backend;
  const w = tf.weights;
  const S = objectives.length;
  const T = tape.tokens.length;
  const R = S * T;
  const dim = c.dim;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const vocab = c.vocabSize;
  const last = objectives.map((o) => o.position);
  for (const p of last) if (!(p >= 0 && p < T)) throw new RangeError(`objective at position ${p} of a ${T}-token sequence`);

  // Classifier: ∂/∂(final norm output) at each objective's position.
  const dz = new Float32Array(S * vocab);
  objectives.forEach((o, s) => dz.set(o.dlogits, s * vocab));
  const dNormed = new Float32Array(R * dim);
  {
    const t = new Float32Array(S * dim);
    be.matmul(t, dz, S, transposed(w.lmHead));
    for (let s = 0; s < S; s++) dNormed.set(t.subarray(s * dim, (s + 1) * dim), (s * T + last[s]) * dim);
  }
  const headGradient = (s: number, out: Float32Array, accumulate: boolean): void => {
    let nf = tape.normedFinal.subarray(last[s] * dim, (last[s] + 1) * dim);
    if (w.lmHead.dtype === 'bf16') nf = nf.map((x) => BF16_TO_F32[f32ToBf16(x)]);
    for (let v = 0; v < vocab; v++) {
      const g = dz[s * vocab + v];
      const at = v * dim;
      if (!accumulate) for (let j = 0; j < dim; j++) out[at + j] = g * nf[j];
      else if (g !== 0) for (let j = 0; j < dim; j++) out[at + j] += g * nf[j];
    }
  };
  releaseTransposes([w.lmHead]);
  const tied = w.lmHead === w.embed;
  if (!tied) visit({ matrix: w.lmHead, of: (s, out) => headGradient(s, out, false) });

  let dx = rmsnormBackward(dNormed, tape.xFinal, w.finalNorm, R, T, dim, c.normEps);
  const linear = (m: Matrix, input: Float32Array, dOut: Float32Array): WeightGradient => ({ matrix: m, of: (s, out) => weightGradient(be, m, input, dOut, s, T, out) });

  // `downTo`: no matrix below that layer is wanted (nor the embedding), so the pass stops there
  const downTo = opts.downTo ?? 0;
  for (let l = c.nLayers - 1; l >= downTo; l--) {
    const L = w.layers[l];
    const t = tape.layers[l];
    // Feed-forward block: x_out = mid + down(silu(gate(xn2)) · up(xn2)).
    visit(linear(L.down, t.stages.hidden, dx));
    const dHidden = product(be, dx, R, L.down);
    const dh1 = new Float32Array(R * c.hiddenDim);
    const dh3 = new Float32Array(R * c.hiddenDim);
    swigluBackward(dHidden, t.h1, t.h3, dh1, dh3, S, T, c.hiddenDim, last);
    visit(linear(L.gate, t.xn2, dh1));
    visit(linear(L.up, t.xn2, dh3));
    const dXn2 = product(be, dh1, R, L.gate);
    addInto(dXn2, product(be, dh3, R, L.up));
    const dMid = rmsnormBackward(dXn2, t.stages.mid, L.ffnNorm, R, T, dim, c.normEps);
    addInto(dMid, dx);
    // Attention block: mid = x_in + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1))).
    visit(linear(L.o, t.stages.attention, dMid));
    const dAtt = product(be, dMid, R, L.o);
    const dq = new Float32Array(R * qDim);
    const dk = new Float32Array(R * kvDim);
    const dv = new Float32Array(R * kvDim);
    attentionBackward(c, t, dAtt, dq, dk, dv, S, T, last);
    const { cos, sin } = tf.rotations(T);
    const back = sin.map((x) => -x);
    const pos = Int32Array.from({ length: R }, (_, r) => r % T);
    const interleaved = c.ropeLayout === 'interleaved';
    be.rope(dq, R, c.nHeads, c.headDim, pos, cos, back, interleaved);
    be.rope(dk, R, c.nKvHeads, c.headDim, pos, cos, back, interleaved);
    visit(linear(L.q, t.xn1, dq));
    visit(linear(L.k, t.xn1, dk));
    visit(linear(L.v, t.xn1, dv));
    if (l === downTo && downTo > 0) {
      releaseTransposes(LAYER_MATRICES.map((m) => L[m]));
      return;
    }
    const dXn1 = product(be, dq, R, L.q);
    addInto(dXn1, product(be, dk, R, L.k));
    addInto(dXn1, product(be, dv, R, L.v));
    dx = rmsnormBackward(dXn1, t.xIn, L.attnNorm, R, T, dim, c.normEps);
    addInto(dx, dMid);
    // one layer's transposed copies alive at a time (a 7B model's would otherwise add 26 GB of float32)
    releaseTransposes(LAYER_MATRICES.map((m) => L[m]));
  }

  // Embedding: each position's row of the table gets that position's gradient.
  const dEmbed = dx;
  visit({
    matrix: w.embed,
    of: (s, out) => {
      out.fill(0);
      for (let p = 0; p <= last[s]; p++) {
        const at = tape.tokens[p] * dim;
        const from = (s * T + p) * dim;
        for (let j = 0; j < dim; j++) out[at + j] += dEmbed[from + j];
      }
      if (tied) headGradient(s, out, true);
    },
  });
}

/** ∂s/∂W = Σ_p dOut[s,p] ⊗ input[p], as one product on the backend: (dOut_sᵀ)(inputᵀ)ᵀ. */
function weightGradient(be: Backend, m: Matrix, input: Float32Array, dOut: Float32Array, s: number, T: number, out: Float32Array): void {
  const rows = m.rows;
  const cols = m.cols;
  const dT = new Float32Array(rows * T);
  for (let p = 0; p < T; p++) {
    const from = (s * T + p) * rows;
    for (let o = 0; o < rows; o++) dT[o * T + p] = dOut[from + o];
  }
  be.matmul(out, dT, rows, inputTransposed(input, T, cols, m.dtype === 'bf16'));
}

const inputsT = { f32: new WeakMap<Float32Array, Matrix>(), bf16: new WeakMap<Float32Array, Matrix>() };
/**
 * inputᵀ [cols × T] as a matrix, made once per recorded activation. A bf16 matrix multiplies bf16-rounded
 * inputs (the engine's rule, native/src/bf16exact.cc), so its gradient is taken at the rounded inputs.
 */
function inputTransposed(input: Float32Array, T: number, cols: number, bf16: boolean): Matrix {
  const cache = bf16 ? inputsT.bf16 : inputsT.f32;
  let m = cache.get(input);
  if (!m) {
    const d = new Float32Array(cols * T);
    for (let p = 0; p < T; p++) for (let j = 0; j < cols; j++) d[j * T + p] = bf16 ? BF16_TO_F32[f32ToBf16(input[p * cols + j])] : input[p * cols + j];
    cache.set(input, (m = matrix('inputᵀ', cols, T, d)));
  }
  return m;
}

/** dOut · W ([rows × W.cols]): what a product's input gets back. */
function product(be: Backend, dOut: Float32Array, rows: number, m: Matrix): Float32Array {
  const out = new Float32Array(rows * m.cols);
  be.matmul(out, dOut, rows, transposed(m));
  return out;
}

const transposes = new WeakMap<Matrix, Matrix>();
/** Wᵀ as float32, made for the products of one layer of one pass (released as the pass leaves the layer). */
function transposed(m: Matrix): Matrix {
  let t = transposes.get(m);
  if (!t) {
    const { rows, cols } = m;
    const d = new Float32Array(rows * cols);
    if (m.dtype === 'f32') {
      const src = m.data as Float32Array;
      for (let o = 0; o < rows; o++) for (let j = 0; j < cols; j++) d[j * rows + o] = src[o * cols + j];
    } else for (let o = 0; o < rows; o++) for (let j = 0; j < cols; j++) d[j * rows + o] = BF16_TO_F32[m.data[o * cols + j]];
    transposes.set(m, (t = matrix(`${m.name}ᵀ`, cols, rows, d)));
  }
  return t;
}

/** Forgets the transposed copies of a model's matrices (a 7B model's would otherwise stay until collected). */
export function releaseTransposes(ms: Iterable<Matrix>): void {
  for (const m of ms) transposes.delete(m);
}

function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** y = w ⊙ x / rms(x): dx = (w ⊙ dy − x · ⟨w ⊙ dy, x⟩ / (n · (mean x² + eps))) / rms(x); x is row (r mod T). */
function rmsnormBackward(dy: Float32Array, x: Float32Array, w: Float32Array, R: number, T: number, n: number, eps: number): Float32Array {
  const dx = new Float32Array(R * n);
  const inv = new Float64Array(T);
  for (let p = 0; p < T; p++) {
    let ss = 0;
    for (let j = 0; j < n; j++) ss += x[p * n + j] * x[p * n + j];
    inv[p] = 1 / Math.sqrt(ss / n + eps);
  }
  for (let r = 0; r < R; r++) {
    const p = r % T;
    const xo = p * n;
    const o = r * n;
    let dot = 0;
    let any = false;
    for (let j = 0; j < n; j++) {
      const g = dy[o + j];
      if (g !== 0) any = true;
      dot += w[j] * g * x[xo + j];
    }
    if (!any) continue;
    const a = inv[p];
    const b = (dot * a * a * a) / n;
    for (let j = 0; j < n; j++) dx[o + j] = a * w[j] * dy[o + j] - b * x[xo + j];
  }
  return dx;
}

/** hidden = silu(h1) · h3 */
function swigluBackward(dHidden: Float32Array, h1: Float32Array, h3: Float32Array, dh1: Float32Array, dh3: Float32Array, S: number, T: number, n: number, last: number[]): void {
  for (let s = 0; s < S; s++)
    for (let p = 0; p <= last[s]; p++) {
      const o = (s * T + p) * n;
      const fo = p * n;
      for (let j = 0; j < n; j++) {
        const g = dHidden[o + j];
        const a = h1[fo + j];
        const sig = 1 / (1 + Math.exp(-a));
        dh3[o + j] = g * a * sig;
        dh1[o + j] = g * h3[fo + j] * sig * (1 + a * (1 - sig));
      }
    }
}

/** The first position row i attends to (a sliding window starts later). */
function firstKey(c: ModelConfig, i: number): number {
  const win = c.slidingWindow ?? 0;
  return win > 0 ? Math.max(0, i - win + 1) : 0;
}

/** softmax over j ≤ i of q_i · k_j / √headDim, per head: [head × T × T] */
function attentionWeights(c: ModelConfig, q: Float32Array, k: Float32Array, T: number): Float32Array {
  const hd = c.headDim;
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const scale = Math.sqrt(hd);
  const P = new Float32Array(c.nHeads * T * T);
  const row = new Float64Array(T);
  for (let h = 0; h < c.nHeads; h++) {
    const ko = Math.floor(h / group) * hd;
    for (let i = 0; i < T; i++) {
      const j0 = firstKey(c, i);
      let max = -Infinity;
      for (let j = j0; j <= i; j++) {
        let sc = 0;
        for (let d = 0; d < hd; d++) sc += q[i * qDim + h * hd + d] * k[j * kvDim + ko + d];
        row[j] = sc / scale;
        if (row[j] > max) max = row[j];
      }
      let sum = 0;
      for (let j = j0; j <= i; j++) sum += row[j] = Math.exp(row[j] - max);
      const at = (h * T + i) * T;
      for (let j = j0; j <= i; j++) P[at + j] = row[j] / sum;
    }
  }
  return P;
}

/** out_i = Σ_j P_ij v_j with P = softmax(q_i·k_j/√d): gradients of q and k (after RoPE) and v. */
function attentionBackward(c: ModelConfig, t: LayerTape, dAtt: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, S: number, T: number, last: number[]): void {
  const hd = c.headDim;
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const inv = 1 / Math.sqrt(hd);
  const { q, k, v, probs } = t;
  const dP = new Float64Array(T);
  const g = new Float64Array(hd);
  const acc = new Float64Array(hd);
  for (let s = 0; s < S; s++)
    for (let h = 0; h < c.nHeads; h++) {
      const ko = Math.floor(h / group) * hd;
      for (let i = 0; i <= last[s]; i++) {
        const ro = (s * T + i) * qDim + h * hd;
        let any = false;
        for (let d = 0; d < hd; d++) if ((g[d] = dAtt[ro + d]) !== 0) any = true;
        if (!any) continue;
        const j0 = firstKey(c, i);
        const pAt = (h * T + i) * T;
        let dot = 0;
        for (let j = j0; j <= i; j++) {
          const vo = j * kvDim + ko;
          let x = 0;
          for (let d = 0; d < hd; d++) x += g[d] * v[vo + d];
          dP[j] = x;
          dot += probs[pAt + j] * x;
        }
        const qo = i * qDim + h * hd;
        acc.fill(0);
        for (let j = j0; j <= i; j++) {
          const pij = probs[pAt + j];
          const ds = pij * (dP[j] - dot) * inv;
          const kvo = j * kvDim + ko;
          const dko = (s * T + j) * kvDim + ko;
          for (let d = 0; d < hd; d++) {
            acc[d] += ds * k[kvo + d];
            dk[dko + d] += ds * q[qo + d];
            dv[dko + d] += pij * g[d];
          }
        }
        for (let d = 0; d < hd; d++) dq[ro + d] += acc[d];
      }
    }
}
