/**
 * First-order predictions of a screen's outcomes, without screening: for every planned mutant and generate or
 * choice assay, the lowest over the baseline's decisions (a generate assay's steps, a choice assay's answers)
 * of (the decision's margin + ⟨∂margin/∂W, ΔW⟩), ΔW being what the mutation writes minus what was there,
 * summed over the unit's cells. Below 0 = predicted NSM.
 *
 * A generate assay: one teacher-forced pass over the baseline, one batched backward pass per group of steps
 * (backward.ts), and per matrix a product per step: seconds on stories260K, where the exhaustive screen takes a
 * minute. A choice assay: a pass and a backward pass per question (each question is its own sequence).
 */
import { ChoiceAssay } from '../assays/choice.js';
import type { Assay } from '../assays/prepare.js';
import { backward, backwardGroups, record, releaseTransposes, type WeightGradient } from '../model/backward.js';
import type { Transformer } from '../model/forward.js';
import { coins } from '../model/sampler.js';
import { allMatrices, elementValue, type Matrix } from '../model/weights.js';
import { matrixStats, writtenValue } from '../screen/mutate.js';
import { isNormTarget, unitGrid, type Plan } from '../screen/plan.js';
import { fail } from '../errors.js';
import { letterObjective, stepObjective, type StepObjective } from './objectives.js';

/** One assay's predictions, indexed by ordinal (ordinal 0, the null mutant, has none: NaN, step −1). */
export interface AssayPrediction {
  assay: string;
  decisions: Decisions;
  /** lowest predicted margin over the decisions (greedy and letters: logits; sampled: probability) */
  margin: Float32Array;
  /** the decision it comes from: a generate assay's step, a choice assay's question (0-based) */
  step: Int32Array;
  /** the baseline's own margins, per decision */
  baselineMargins: number[];
  seconds: number;
}

/** What an assay's decisions are: a generate assay's steps, a choice assay's questions. */
export type Decisions = 'steps' | 'questions';

export interface PredictOptions {
  /** bytes the backward pass's per-objective arrays may take (bounds how many steps go back together) */
  memory?: number;
  /** an assay's predictions begin: how many decisions, and what they are */
  onAssay?(name: string, decisions: number, of: Decisions): void;
}

/** Whether an assay's outcomes can be predicted (generate and choice assays; not likelihood assays' KL thresholds). */
export function predictable(a: Assay): boolean {
  return a.type === 'generate' || a instanceof ChoiceAssay;
}

/** Predictions for every generate and choice assay of the screen; others are skipped (undefined in their place). */
export function predictScreen(tf: Transformer, plan: Plan, assays: readonly Assay[], o: PredictOptions = {}): (AssayPrediction | undefined)[] {
  const norms = plan.targets.filter((t) => isNormTarget(t.matrix));
  if (norms.length)
    fail(
      `first-order predictions cover weight matrices, and the screen lists norm vectors (${norms.slice(0, 3).map((t) => t.short).join(', ')}${norms.length > 3 ? ', …' : ''})`,
      undefined,
      'screen the norms exhaustively in a screen of their own (they are small), and predict the matrices in another',
    );
  return assays.map((a) => (a.type === 'generate' ? predictGenerate(tf, plan, a, o) : a instanceof ChoiceAssay ? predictChoice(tf, plan, a, o) : undefined));
}

/** Where a backward pass's gradients of the plan's targets go: folded into `margin` and `step`, target by target. */
function folder(tf: Transformer, plan: Plan, margin: Float32Array, step: Int32Array) {
  const c = tf.config;
  const targetOf = new Map<Matrix, number>();
  plan.targets.forEach((t, i) => targetOf.set(t.weights, i));
  const deltas = new Map<number, Float32Array[]>();
  // the pass goes no lower than the lowest layer screened (the embedding, when screened, needs all of them)
  const downTo = plan.targets.some((t) => t.layer === null && t.matrix === 'embed') ? 0 : Math.min(...plan.targets.map((t) => t.layer ?? c.nLayers));
  return {
    downTo: Math.min(downTo, c.nLayers - 1),
    /** the visitor of a backward pass over `batch`, whose first objective is decision `first` */
    visit: (batch: readonly StepObjective[], first: number) => (g: WeightGradient) => {
      const ti = targetOf.get(g.matrix);
      if (ti === undefined) return;
      let d = deltas.get(ti);
      if (!d) deltas.set(ti, (d = cellDeltas(plan, ti)));
      foldTarget(plan, ti, g, batch, first, d, margin, step);
    },
  };
}

function predictChoice(tf: Transformer, plan: Plan, a: ChoiceAssay, o: PredictOptions): AssayPrediction {
  const t0 = performance.now();
  const V = tf.config.vocabSize;
  const margin = new Float32Array(plan.total).fill(Infinity);
  const step = new Int32Array(plan.total).fill(-1);
  margin[0] = NaN;
  o.onAssay?.(a.name, a.probes.length, 'questions');
  const fold = folder(tf, plan, margin, step);
  const baselineMargins = a.probes.map((probe, q) => {
    const tape = record(tf, probe.ids);
    const at = (probe.ids.length - 1) * V;
    const token = a.baselineIds[q];
    const obj =
      a.spec.scoring === 'letters'
        ? letterObjective(tape.logits, at, V, token, a.letterCandidates, probe.ids.length - 1)
        : stepObjective(tape.logits, at, V, token, a.sampling, a.sampling.temperature === 0 ? 0 : a.coin, probe.ids.length - 1);
    backward(tf, tape, [obj], fold.visit([obj], q), { downTo: fold.downTo });
    return obj.margin;
  });
  releaseTransposes(allMatrices(tf.weights).values());
  return { assay: a.name, decisions: 'questions', margin, step, baselineMargins, seconds: (performance.now() - t0) / 1000 };
}

function predictGenerate(tf: Transformer, plan: Plan, a: Extract<Assay, { type: 'generate' }>, o: PredictOptions): AssayPrediction {
  const t0 = performance.now();
  const c = tf.config;
  const base = a.baseline.ids;
  const P = a.promptIds.length;
  // The sequence the baseline's steps read: the prompt and every generated token but the last (never fed back).
  const tokens = [...a.promptIds, ...base.slice(0, Math.max(0, base.length - 1))];
  const margin = new Float32Array(plan.total).fill(Infinity);
  const step = new Int32Array(plan.total).fill(-1);
  margin[0] = NaN;
  o.onAssay?.(a.name, base.length, 'steps');
  if (!base.length) return { assay: a.name, decisions: 'steps', margin, step, baselineMargins: [], seconds: 0 };
  const tape = record(tf, tokens);
  const s = a.settings;
  const coinList = coins(s.seed, base.length);
  const objectives: StepObjective[] = base.map((token, t) =>
    stepObjective(tape.logits, (P - 1 + t) * c.vocabSize, c.vocabSize, token, s, s.temperature === 0 ? 0 : coinList[t], P - 1 + t),
  );

  const fold = folder(tf, plan, margin, step);
  // per objective: T rows of the widest activation, about ten such arrays alive at once
  const widest = Math.max(c.dim, c.hiddenDim, c.nHeads * c.headDim, c.vocabSize / tokens.length);
  const perObjective = tokens.length * widest * 4 * 10;
  const group = Math.max(1, Math.floor((o.memory ?? 2 ** 30) / perObjective));
  // every group goes back together, layer by layer, so each matrix is transposed once for all of them
  const groups: StepObjective[][] = [];
  for (let g0 = 0; g0 < objectives.length; g0 += group) groups.push(objectives.slice(g0, g0 + group));
  const visitors = groups.map((batch, i) => fold.visit(batch, i * group));
  backwardGroups(tf, tape, groups, (g, i) => visitors[i](g), { downTo: fold.downTo });
  releaseTransposes(allMatrices(tf.weights).values());
  return { assay: a.name, decisions: 'steps', margin, step, baselineMargins: objectives.map((x) => x.margin), seconds: (performance.now() - t0) / 1000 };
}

/** Per kind, what the mutation adds to each cell of the target's matrix (written value − value). */
function cellDeltas(plan: Plan, ti: number): Float32Array[] {
  const m = plan.targets[ti].weights;
  const stats = matrixStats(m);
  const n = m.rows * m.cols;
  return plan.kinds.map((k) => {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const old = elementValue(m, i);
      d[i] = writtenValue(m, k, old, stats) - old;
    }
    return d;
  });
}

/**
 * Each step's gradient of the target's matrix, folded into its mutants' lowest predicted margins: mutant
 * (unit u, kind k) moves step s's margin by Σ over u's cells of delta_k · ∂margin_s/∂W.
 */
function foldTarget(plan: Plan, ti: number, g: WeightGradient, batch: readonly StepObjective[], firstStep: number, deltas: Float32Array[], margin: Float32Array, step: Int32Array): void {
  const m = g.matrix;
  const grid = unitGrid(m.rows, m.cols, plan.unit);
  const units = grid.nRows * grid.nCols;
  const nk = deltas.length;
  const { first } = plan.range(ti);
  const G = new Float32Array(m.rows * m.cols);
  const acc = new Float64Array(nk);
  const element = plan.unit.type === 'element';
  // a unit's sum over its cells, for every unit at once: one sweep of the matrix row by row (cache order), each
  // row's cells summed per unit column (a sweep unit by unit took a 7B block screen's predict a fifth of its time)
  const sums = new Float64Array(element ? 0 : units * nk);
  const { nCols } = grid;
  const first0 = grid.at(0);
  const bh = first0.rows;
  const bw = first0.cols;
  batch.forEach((o, j) => {
    g.of(j, G);
    const s = firstStep + j;
    const base = o.margin;
    if (!element) {
      sums.fill(0);
      for (let r = 0; r < m.rows; r++) {
        const rowAt = r * m.cols;
        const unitRow = Math.floor(r / bh) * nCols;
        for (let uc = 0; uc < nCols; uc++) {
          const c0 = rowAt + uc * bw;
          const c1 = rowAt + Math.min(m.cols, (uc + 1) * bw);
          for (let k = 0; k < nk; k++) {
            const d = deltas[k];
            let sum = 0;
            for (let at = c0; at < c1; at++) sum += d[at] * G[at];
            sums[(unitRow + uc) * nk + k] += sum;
          }
        }
      }
    }
    for (let u = 0; u < units; u++) {
      if (element) for (let k = 0; k < nk; k++) acc[k] = deltas[k][u] * G[u];
      else for (let k = 0; k < nk; k++) acc[k] = sums[u * nk + k];
      for (let k = 0; k < nk; k++) {
        const ord = first + u * nk + k;
        const pm = base + acc[k];
        if (pm < margin[ord]) {
          margin[ord] = pm;
          step[ord] = s;
        }
      }
    }
  });
}
