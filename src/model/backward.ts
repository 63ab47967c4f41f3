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
import { addBias, embedScale, type LayerStages, type Transformer } from './forward.js';
import { windowOf } from './family.js';
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
  /** queries and keys before their norms (where the family has them), for the norms' backward */
  qRaw?: Float32Array;
  kRaw?: Float32Array;
  /** the o and down products before their output norms (Gemma, OLMo 2) */
  oOut?: Float32Array;
  downOut?: Float32Array;
  /** queries and keys after RoPE, values */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** attention weights [head × T × T] (row i: over positions ≤ i) */
  probs: Float32Array;
  /** with soft-capped scores (Gemma 2): ∂capped/∂raw score, 1 − tanh², in the same layout */
  capSlope?: Float32Array;
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
  const interleaved = c.ropeLayout === 'interleaved';
  const layers: LayerTape[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const L = w.layers[l];
    const xIn = layerInputs[l];
    const { cos, sin } = tf.rotations(T, l);
    const xn1 = new Float32Array(T * c.dim);
    tf.norm(xn1, xIn, L.attnNorm, T, c.dim);
    const q = new Float32Array(T * qDim);
    const k = new Float32Array(T * kvDim);
    const v = new Float32Array(T * kvDim);
    be.matmul(q, xn1, T, L.q);
    be.matmul(k, xn1, T, L.k);
    be.matmul(v, xn1, T, L.v);
    if (L.qBias) addBias(q, L.qBias, T);
    if (L.kBias) addBias(k, L.kBias, T);
    if (L.vBias) addBias(v, L.vBias, T);
    const qRaw = L.qNorm ? q.slice() : undefined;
    const kRaw = L.kNorm ? k.slice() : undefined;
    tf.qkNorm(q, k, L, T);
    be.rope(q, T, c.nHeads, c.headDim, pos, cos, sin, interleaved, c.ropeDim);
    be.rope(k, T, c.nKvHeads, c.headDim, pos, cos, sin, interleaved, c.ropeDim);
    const { probs, capSlope } = attentionWeights(c, q, k, T, l);
    let oOut: Float32Array | undefined;
    if (L.attnOutNorm) be.matmul((oOut = new Float32Array(T * c.dim)), stages[l].attention, T, L.o);
    const { input: xn2, gate: h1, up: h3 } = tf.ffnProducts(stages[l].mid, l, T);
    let downOut: Float32Array | undefined;
    if (L.ffnOutNorm) be.matmul((downOut = new Float32Array(T * c.dim)), stages[l].hidden, T, L.down);
    layers.push({ xIn, xn1, qRaw, kRaw, oOut, downOut, q, k, v, probs, capSlope, stages: stages[l], xn2, h1, h3 });
  }
  const xFinal = layerInputs[c.nLayers];
  const normedFinal = new Float32Array(T * c.dim);
  tf.norm(normedFinal, xFinal, w.finalNorm, T, c.dim);
  return { tokens, logits, layers, xFinal, normedFinal };
}

/**
 * Backpropagates every objective through the whole model and calls `visit` once per matrix, from the top
 * (lm_head) down to the embedding (or only down to layer `downTo`'s matrices). A tied embedding is visited once,
 * with both of its uses summed.
 */
export function backward(tf: Transformer, tape: Tape, objectives: readonly Objective[], visit: (g: WeightGradient) => void, opts: { downTo?: number } = {}): void {
  backwardGroups(tf, tape, [objectives], (g) => visit(g), opts);
}

/**
 * The same for several groups of objectives over one tape (the groups a memory budget cuts a generation's steps
 * into), layer by layer: a layer's transposed matrices are made once and serve every group, where a pass per
 * group made them once per group (on a 7B model, a second or more per matrix). Between layers a group holds
 * only the gradient at the layer's input ([its rows × dim]). `visit` gets each group's gradients with its index.
 */
export function backwardGroups(tf: Transformer, tape: Tape, groups: readonly (readonly Objective[])[], visit: (g: WeightGradient, group: number) => void, opts: { downTo?: number } = {}): void {
  const c = tf.config;
  const be = tf.backend;
  const w = tf.weights;
  const T = tape.tokens.length;
  const dim = c.dim;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const vocab = c.vocabSize;
  const tied = w.lmHead === w.embed;
  /** RMSNorm's backward by a stored vector (its effective weight), or the gradient itself where there is no norm */
  const normBackward = (dy: Float32Array, x: Float32Array, v: Float32Array | undefined, R: number, T: number, n: number): Float32Array =>
    v ? rmsnormBackward(dy, x, tf.normWeight(v), R, T, n, c.normEps) : dy;

  // Classifier: ∂/∂(final norm output) at each objective's position.
  const state = groups.map((objectives, group) => {
    const S = objectives.length;
    const R = S * T;
    const last = objectives.map((o) => o.position);
    for (const p of last) if (!(p >= 0 && p < T)) throw new RangeError(`objective at position ${p} of a ${T}-token sequence`);
    const dz = new Float32Array(S * vocab);
    objectives.forEach((o, s) => dz.set(o.dlogits, s * vocab));
    // objectives read the capped logits (Gemma 2): through cap·tanh(z/cap), whose slope is 1 − (capped/cap)²
    const cap = c.finalSoftcap;
    if (cap)
      objectives.forEach((o, s) => {
        for (let v = 0; v < vocab; v++) {
          const y = tape.logits[o.position * vocab + v] / cap;
          dz[s * vocab + v] *= 1 - y * y;
        }
      });
    const dNormed = new Float32Array(R * dim);
    const t = new Float32Array(S * dim);
    be.matmul(t, dz, S, transposed(be, w.lmHead));
    for (let s = 0; s < S; s++) dNormed.set(t.subarray(s * dim, (s + 1) * dim), (s * T + last[s]) * dim);
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
    if (!tied) visit({ matrix: w.lmHead, of: (s, out) => headGradient(s, out, false) }, group);
    const dx = normBackward(dNormed, tape.xFinal, w.finalNorm, R, T, dim);
    return { S, R, last, rows: activeRows(last, T), headGradient, dx, pos: Int32Array.from({ length: R }, (_, r) => r % T) };
  });
  releaseTransposes([w.lmHead]);
  const linear = (m: Matrix, input: Float32Array, dOut: Float32Array): WeightGradient => ({ matrix: m, of: (s, out) => weightGradient(be, m, input, dOut, s, T, out) });
  const interleaved = c.ropeLayout === 'interleaved';

  // `downTo`: no matrix below that layer is wanted (nor the embedding), so the pass stops there
  const downTo = opts.downTo ?? 0;
  for (let l = c.nLayers - 1; l >= downTo; l--) {
    const L = w.layers[l];
    const t = tape.layers[l];
    const bottom = l === downTo && downTo > 0;
    const { cos, sin } = tf.rotations(T, l);
    const rot = { cos, back: sin.map((x) => -x) };
    state.forEach((g, group) => {
      const { S, R, last, rows, dx } = g;
      const see = (x: WeightGradient): void => visit(x, group);
      // Feed-forward block: x_out = mid + N_out(down(act(gate(xn2)) · up(xn2))), xn2 = N_in(mid) (either norm may be absent).
      const dDown = L.ffnOutNorm ? normBackward(dx, t.downOut!, L.ffnOutNorm, R, T, dim) : dx;
      see(linear(L.down, t.stages.hidden, dDown));
      const dHidden = product(be, dDown, R, L.down, rows);
      const dh1 = new Float32Array(R * c.hiddenDim);
      const dh3 = new Float32Array(R * c.hiddenDim);
      gatedBackward(c.activation === 'gelu_tanh', dHidden, t.h1, t.h3, dh1, dh3, S, T, c.hiddenDim, last);
      see(linear(L.gate, t.xn2, dh1));
      see(linear(L.up, t.xn2, dh3));
      const dXn2 = product(be, dh1, R, L.gate, rows);
      addInto(dXn2, product(be, dh3, R, L.up, rows));
      const dMid = L.ffnNorm ? normBackward(dXn2, t.stages.mid, L.ffnNorm, R, T, dim) : dXn2;
      addInto(dMid, dx);
      // Attention block: mid = x_in + N_out(o(attention(rope(N_q(q(xn1))), rope(N_k(k(xn1))), v(xn1)))).
      const dO = L.attnOutNorm ? normBackward(dMid, t.oOut!, L.attnOutNorm, R, T, dim) : dMid;
      see(linear(L.o, t.stages.attention, dO));
      const dAtt = product(be, dO, R, L.o, rows);
      let dq: Float32Array = new Float32Array(R * qDim);
      let dk: Float32Array = new Float32Array(R * kvDim);
      const dv = new Float32Array(R * kvDim);
      attentionBackward(be, c, t, dAtt, dq, dk, dv, rows, T);
      be.rope(dq, R, c.nHeads, c.headDim, g.pos, rot.cos, rot.back, interleaved, c.ropeDim);
      be.rope(dk, R, c.nKvHeads, c.headDim, g.pos, rot.cos, rot.back, interleaved, c.ropeDim);
      const perHead = c.qkNorm !== 'whole';
      if (L.qNorm) dq = perHead ? normBackward(dq, t.qRaw!, L.qNorm, R * c.nHeads, T * c.nHeads, c.headDim) : normBackward(dq, t.qRaw!, L.qNorm, R, T, qDim);
      if (L.kNorm) dk = perHead ? normBackward(dk, t.kRaw!, L.kNorm, R * c.nKvHeads, T * c.nKvHeads, c.headDim) : normBackward(dk, t.kRaw!, L.kNorm, R, T, kvDim);
      see(linear(L.q, t.xn1, dq));
      see(linear(L.k, t.xn1, dk));
      see(linear(L.v, t.xn1, dv));
      if (bottom) return;
      const dXn1 = product(be, dq, R, L.q, rows);
      addInto(dXn1, product(be, dk, R, L.k, rows));
      addInto(dXn1, product(be, dv, R, L.v, rows));
      g.dx = L.attnNorm ? normBackward(dXn1, t.xIn, L.attnNorm, R, T, dim) : dXn1;
      addInto(g.dx, dMid);
    });
    // one layer's transposed copies alive at a time (a 7B model's would otherwise add 26 GB of float32)
    releaseTransposes(LAYER_MATRICES.map((m) => L[m]));
    if (bottom) return;
  }

  // Embedding: each position's row of the table gets that position's gradient.
  // Gemma's embeddings enter the residual stream scaled
  const scale = c.embedScale ? embedScale(c, w.embed) : 1;
  state.forEach(({ last, dx: dEmbed, headGradient }, group) =>
    visit(
      {
        matrix: w.embed,
        of: (s, out) => {
          out.fill(0);
          for (let p = 0; p <= last[s]; p++) {
            const at = tape.tokens[p] * dim;
            const from = (s * T + p) * dim;
            for (let j = 0; j < dim; j++) out[at + j] += scale * dEmbed[from + j];
          }
          if (tied) headGradient(s, out, true);
        },
      },
      group,
    ),
  );
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

/** The rows of a batch that carry gradient: (objective s, position p ≤ its own), in that order. */
interface ActiveRows {
  /** row s·T + p of each */
  index: Int32Array;
  /** where objective s's rows start in `index` (its positions 0…last[s] follow one another) */
  start: Int32Array;
  last: readonly number[];
}

function activeRows(last: readonly number[], T: number): ActiveRows {
  const start = new Int32Array(last.length);
  const index: number[] = [];
  last.forEach((p, s) => {
    start[s] = index.length;
    for (let i = 0; i <= p; i++) index.push(s * T + i);
  });
  return { index: Int32Array.from(index), start, last };
}

/**
 * dOut · W ([R × W.cols]): what a product's input gets back. Rows past their objective's position are zero
 * (causality), about half of a batch over a generation's steps, so only the active rows are multiplied.
 */
function product(be: Backend, dOut: Float32Array, R: number, m: Matrix, rows: ActiveRows): Float32Array {
  const out = new Float32Array(R * m.cols);
  const { index } = rows;
  if (index.length === R) {
    be.matmul(out, dOut, R, transposed(be, m));
    return out;
  }
  const n = m.rows;
  const x = new Float32Array(index.length * n);
  index.forEach((r, a) => x.set(dOut.subarray(r * n, (r + 1) * n), a * n));
  const y = new Float32Array(index.length * m.cols);
  be.matmul(y, x, index.length, transposed(be, m));
  index.forEach((r, a) => out.set(y.subarray(a * m.cols, (a + 1) * m.cols), r * m.cols));
  return out;
}

const transposes = new WeakMap<Matrix, Matrix>();
/** Wᵀ as float32, made for the products of one layer of one pass (released as the pass leaves the layer). */
function transposed(be: Backend, m: Matrix): Matrix {
  let t = transposes.get(m);
  if (!t) {
    const d = new Float32Array(m.rows * m.cols);
    be.transposeF32(d, m);
    transposes.set(m, (t = matrix(`${m.name}ᵀ`, m.cols, m.rows, d)));
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

/**
 * Through hidden = act(h1) · h3, act SiLU (SwiGLU) or GELU's tanh form (GeGLU): per element, dh3 = g · act(a)
 * and dh1 = g · h3 · act'(a), with a = h1.
 */
function gatedBackward(gelu: boolean, dHidden: Float32Array, h1: Float32Array, h3: Float32Array, dh1: Float32Array, dh3: Float32Array, S: number, T: number, n: number, last: number[]): void {
  const C = Math.sqrt(2 / Math.PI);
  for (let s = 0; s < S; s++)
    for (let p = 0; p <= last[s]; p++) {
      const o = (s * T + p) * n;
      const fo = p * n;
      for (let j = 0; j < n; j++) {
        const g = dHidden[o + j];
        const a = h1[fo + j];
        if (gelu) {
          const t = Math.tanh(C * (a + 0.044715 * a * a * a));
          dh3[o + j] = g * 0.5 * a * (1 + t);
          dh1[o + j] = g * h3[fo + j] * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * 0.044715 * a * a));
        } else {
          const sig = 1 / (1 + Math.exp(-a));
          dh3[o + j] = g * a * sig;
          dh1[o + j] = g * h3[fo + j] * sig * (1 + a * (1 - sig));
        }
      }
    }
}

/** The first position row i of layer l attends to (a sliding window starts later). */
function firstKey(c: ModelConfig, i: number, l: number): number {
  const win = windowOf(c, l);
  return win > 0 ? Math.max(0, i - win + 1) : 0;
}

/**
 * softmax over j ≤ i of q_i · k_j · scale (1/√headDim unless the family says), soft-capped where the family caps
 * scores, per head: [head × T × T]
 */
function attentionWeights(c: ModelConfig, q: Float32Array, k: Float32Array, T: number, l: number): { probs: Float32Array; capSlope?: Float32Array } {
  const hd = c.headDim;
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const scale = c.attnScale ?? 1 / Math.sqrt(hd);
  const cap = c.attnSoftcap;
  const P = new Float32Array(c.nHeads * T * T);
  const capSlope = cap ? new Float32Array(c.nHeads * T * T) : undefined;
  const row = new Float64Array(T);
  for (let h = 0; h < c.nHeads; h++) {
    const ko = Math.floor(h / group) * hd;
    for (let i = 0; i < T; i++) {
      const j0 = firstKey(c, i, l);
      let max = -Infinity;
      for (let j = j0; j <= i; j++) {
        let sc = 0;
        for (let d = 0; d < hd; d++) sc += q[i * qDim + h * hd + d] * k[j * kvDim + ko + d];
        row[j] = sc * scale;
        if (cap) {
          const t = Math.tanh(row[j] / cap);
          row[j] = cap * t;
          capSlope![(h * T + i) * T + j] = 1 - t * t;
        }
        if (row[j] > max) max = row[j];
      }
      let sum = 0;
      for (let j = j0; j <= i; j++) sum += row[j] = Math.exp(row[j] - max);
      const at = (h * T + i) * T;
      for (let j = j0; j <= i; j++) P[at + j] = row[j] / sum;
    }
  }
  return { probs: P, capSlope };
}

/**
 * out_i = Σ_j P_ij v_j with P = softmax(q_i·k_j/√d), per head: gradients of q and k (after RoPE) and v. The S
 * objectives share q, k, v and P (one sequence) and differ only in G, the gradient arriving at the output, so
 * each head's work is four products over the batch's rows on the backend (the per-element loops of an earlier
 * version were most of a 7B backward pass):
 *   dP = G Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)) · scale (· the cap's slope, Gemma 2),  dQ = dS K,  dK_s = dS_sᵀ Q,  dV_s = Pᵀ G_s.
 * Only rows at or before their objective's position take part (`rows`); P is zero outside each row's causal (or
 * sliding) window, which masks dS and dV.
 */
function attentionBackward(be: Backend, c: ModelConfig, t: LayerTape, dAtt: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, rows: ActiveRows, T: number): void {
  const hd = c.headDim;
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const inv = c.attnScale ?? 1 / Math.sqrt(hd);
  const { index, start, last } = rows;
  const A = index.length;
  const S = last.length;
  const { q, k, v, probs, capSlope } = t;
  const G = new Float32Array(A * hd);
  const dS = new Float32Array(A * T);
  // dS_sᵀ by rows (s, j), G_sᵀ by rows (s, d): entries zero by causality (i past the objective, j past i) are never written
  const dSt = new Float32Array(A * T);
  const Gt = new Float32Array(S * hd * T);
  const out = new Float32Array(A * hd);
  const outV = new Float32Array(S * hd * T);
  const Vh = new Float32Array(T * hd);
  const Kt = new Float32Array(hd * T);
  const Qt = new Float32Array(hd * T);
  const Pt = new Float32Array(T * T);
  for (let h = 0; h < c.nHeads; h++) {
    const ko = Math.floor(h / group) * hd;
    const qo = h * hd;
    for (let j = 0; j < T; j++)
      for (let d = 0; d < hd; d++) {
        Vh[j * hd + d] = v[j * kvDim + ko + d];
        Kt[d * T + j] = k[j * kvDim + ko + d];
        Qt[d * T + j] = q[j * qDim + qo + d];
      }
    const P = probs.subarray(h * T * T, (h + 1) * T * T);
    const slope = capSlope?.subarray(h * T * T, (h + 1) * T * T);
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) Pt[j * T + i] = P[i * T + j];
    for (let a = 0; a < A; a++) for (let d = 0; d < hd; d++) G[a * hd + d] = dAtt[index[a] * qDim + qo + d];

    be.matmul(dS, G, A, matrix('V', T, hd, Vh));
    for (let a = 0; a < A; a++) {
      const i = index[a] % T;
      const at = a * T;
      let dot = 0;
      for (let j = 0; j <= i; j++) dot += P[i * T + j] * dS[at + j];
      if (slope) for (let j = 0; j <= i; j++) dS[at + j] = P[i * T + j] * (dS[at + j] - dot) * slope[i * T + j] * inv;
      else for (let j = 0; j <= i; j++) dS[at + j] = P[i * T + j] * (dS[at + j] - dot) * inv;
      for (let j = i + 1; j < T; j++) dS[at + j] = 0;
    }
    be.matmul(out, dS, A, matrix('Kᵀ', hd, T, Kt));
    for (let a = 0; a < A; a++) for (let d = 0; d < hd; d++) dq[index[a] * qDim + qo + d] += out[a * hd + d];

    for (let a = 0; a < A; a++) {
      const s = Math.floor(index[a] / T);
      const i = index[a] % T;
      const from = a * T;
      for (let j = 0; j <= i; j++) dSt[(start[s] + j) * T + i] = dS[from + j];
    }
    be.matmul(out, dSt, A, matrix('Qᵀ', hd, T, Qt));
    for (let a = 0; a < A; a++) for (let d = 0; d < hd; d++) dk[index[a] * kvDim + ko + d] += out[a * hd + d];

    for (let a = 0; a < A; a++) {
      const s = Math.floor(index[a] / T);
      const i = index[a] % T;
      for (let d = 0; d < hd; d++) Gt[(s * hd + d) * T + i] = G[a * hd + d];
    }
    be.matmul(outV, Gt, S * hd, matrix('Pᵀ', T, T, Pt));
    for (let s = 0; s < S; s++)
      for (let d = 0; d < hd; d++) {
        const from = (s * hd + d) * T;
        for (let j = 0; j <= last[s]; j++) dv[(s * T + j) * kvDim + ko + d] += outV[from + j];
      }
  }
}
