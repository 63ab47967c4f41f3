/**
 * The fast path: the same classification as the plain path, for a fraction of the work.
 *
 * 1. Teacher-forced verification. The baseline's generation is known, and every mutant sees the same coins.
 *    A mutant is run once over prompt + baseline continuation, all positions in one pass, and each step's choice
 *    is checked against the baseline's. A silent mutant is done after that pass; an NSM keeps decoding from its
 *    first divergent step, reusing the keys and values the pass already computed.
 * 2. Prefix-layer cache. Layers below the mutated one compute exactly what the baseline computed: the baseline's
 *    residual stream entering each layer, and its keys and values, are kept per assay, and the pass starts at the
 *    mutated layer.
 * 3. Batching. Mutants of one matrix differ only in one block: a batch runs as one pass over all their rows,
 *    sharing every matrix product; each mutant's block rows are recomputed exactly (forward.ts, Patch).
 * 4. NSMs decode together: each joins its assay's Decoder (decode.ts) when its pass finds it, and every step
 *    runs all live sequences in one forward call, in as many slots as the keys-and-values budget allows.
 *    Replicates of an assay (the same prompt and settings under other seeds) share one decoder: a step costs
 *    mostly per call, so eight seeds' NSMs stepping together cost little more than one seed's.
 * 5. Staged passes: where most mutants have been NSMs (or, before the first pass, where the assay is sampled),
 *    passes run in stages of growing length, each continuing only the mutants still on the baseline's path
 *    (runBatch).
 * 6. A likelihood assay that scores a generate assay's baseline continuation (baseline_of) needs the mutant's
 *    logits over exactly the positions that assay's teacher-forced pass computes: the two share one pass, run
 *    over every position (not staged) and one token further, so the scores cost no forward work of their own.
 * 7. Ties. With a backend that sums in index order the pass is bit-identical to the plain path. Otherwise a
 *    decision whose margin is below the tie epsilon is re-run on the plain path, and counted. Either way every
 *    output with such a decision is flagged (Outcome.tie).
 */
import { totalmem } from 'node:os';
import type { Outcome, PassAssay } from '../assays/assay.js';
import type { GenerateAssay } from '../assays/generate.js';
import type { Assay } from '../assays/prepare.js';
import { KVCache, type FfnProducts, type LayerStages, type Patch, type Transformer } from '../model/forward.js';
import { choose, coins, type Choice } from '../model/sampler.js';
import { precisionOf, tieEpsilon } from '../model/ties.js';
import { allMatrices, matrix, type ModelWeights } from '../model/weights.js';
import { decodeSlots, Decoder, kvBytesPerSequence, type Live } from './decode.js';
import type { Evaluator, PlainEvaluator } from './evaluate.js';
import { GreedyCheck } from './greedy-check.js';
import { storedBits, type MatrixStats } from './mutate.js';
import type { Mutant } from './plan.js';

/** What the fast path keeps of an assay's baseline. */
interface Trace {
  assay: GenerateAssay;
  /** prompt + baseline continuation, the last generated token left out (it is never fed) */
  seq: number[];
  promptLength: number;
  baseline: number[];
  budget: number;
  coins: Float64Array;
  sampled: boolean;
  /** residual stream entering each layer over seq, [seq × dim] */
  layerInputs: Float32Array[];
  /** inside each layer: the o and down products' inputs and the residual between them */
  stages: LayerStages[];
  cache: KVCache;
  /** greedy assays: steps checked against the baseline's logits (greedy-check.ts) */
  check?: GreedyCheck;
  /** the feed-forward products of the layer whose gate and up mutants were evaluated last */
  ffn?: { layer: number; products: FfnProducts };
  /** where this assay's NSMs decode together (with its replicates') */
  decoder: Decoder;
  /** mutants verified so far, and how many of them were NSMs (passes run in stages when most are) */
  seen: number;
  nsm: number;
  /** a likelihood assay scoring this baseline, evaluated from this trace's pass, and its index among the assays */
  scores?: { assay: PassAssay; index: number };
}

/** What the fast path keeps of a pass assay's baseline: the residual stream entering each layer, per probe. */
interface PassTrace {
  assay: PassAssay;
  layerInputs: Float32Array[][];
  /** evaluated in a generate trace's pass instead (fast.ts, point 6) */
  fused?: boolean;
}

export interface FastOptions {
  /** mutants per pass; by default as many as make about `rowsPerPass` rows, within the KV budget */
  batchSize?: number;
  rowsPerPass?: number;
  /** bytes the keys and values of passes and decoding sequences may take (see defaultKvBudget) */
  kvBudget?: number;
  /** false: a likelihood assay of a baseline runs its own pass (point 6 off; for the benchmark's comparison) */
  sharePasses?: boolean;
}

export class FastEvaluator implements Evaluator {
  readonly batchSize?: number;
  readonly rowsPerPass: number;
  readonly kvBudget: number;
  rechecks = 0;
  /** positions run in teacher-forced passes (mutants × positions), for the benchmark's accounting */
  passRows = 0;
  private readonly traces: (Trace | PassTrace)[];
  private readonly exact: boolean;
  private readonly precision;
  /** the residual streams a pass starts from, kept between passes (forward overwrites them) */
  private inputs = new Float32Array(0);
  /** mutants per pass (sizeToBudget) */
  private passMutants = 1;
  /** key/value buffers of the passes, kept between them (KVCache.pool) */
  private readonly pools = new Map<string, { k: Float32Array[]; v: Float32Array[] }>();

  constructor(
    readonly tf: Transformer,
    readonly assays: Assay[],
    readonly stats: (m: Mutant) => MatrixStats,
    readonly plain: PlainEvaluator,
    o: FastOptions = {},
  ) {
    this.batchSize = o.batchSize;
    this.rowsPerPass = o.rowsPerPass ?? 4096;
    this.kvBudget = o.kvBudget ?? defaultKvBudget(tf, 1);
    this.exact = [...allMatrices(tf.weights).values()].every((m) => tf.backend.rowExact(m.dtype));
    this.precision = precisionOf(tf.weights);
    const fusedInto = o.sharePasses === false ? new Map<number, number>() : fusions(assays);
    this.traces = assays.map((a, i) => {
      if (a.type === 'generate') {
        const li = [...fusedInto].find(([, g]) => g === i)?.[0];
        return this.trace(a, li === undefined ? undefined : { assay: assays[li] as PassAssay, index: li });
      }
      return fusedInto.has(i) ? { assay: a, layerInputs: [], fused: true } : this.passTrace(a);
    });
    this.shareDecoders();
    this.sizeToBudget();
  }

  private passTrace(a: PassAssay): PassTrace {
    return {
      assay: a,
      layerInputs: a.probes.map((p) => {
        const layerInputs: Float32Array[] = [];
        this.tf.forward([{ cache: this.tf.newCache(p.ids.length), tokens: p.ids }], 'none', { captureLayerInputs: layerInputs });
        return layerInputs;
      }),
    };
  }

  /** A pass assay for a batch: each probe once for all mutants, from the lowest mutated layer on. */
  private runPassBatch(t: PassTrace, batch: Mutant[], patches: (Patch | undefined)[]): Outcome[] {
    const tf = this.tf;
    const fromLayer = Math.min(...batch.map((m) => m.target?.layer ?? 0));
    const vocab = tf.config.vocabSize;
    const states = batch.map(() => t.assay.begin());
    t.assay.probes.forEach((p, pi) => {
      const n = p.ids.length;
      const caches = KVCache.pool(tf.config, n, batch.length, this.pools);
      const input = fromLayer > 0 ? this.startingRows(t.layerInputs[pi][fromLayer], batch.length) : undefined;
      const logits = tf.forward(batch.map((_, b) => ({ cache: caches[b], tokens: p.ids, patch: patches[b] })), { from: p.from }, { fromLayer, input });
      const rows = n - p.from;
      states.forEach((s, b) => s.accept(pi, logits, b * rows * vocab));
    });
    const eps = tieEpsilon(this.precision, t.assay.sampled);
    return states.map((s, b) => {
      const near = s.margin() < eps;
      if (near && !this.exact) {
        this.rechecks++;
        return this.plain.oneAssay(batch[b], t.assay, true);
      }
      return s.outcome(near);
    });
  }

  private trace(a: GenerateAssay, scores?: Trace['scores']): Trace {
    const baseline = a.baseline.ids;
    // with scores, the pass runs one token further: the likelihood reads the distribution after the last one too
    const seq = [...a.promptIds, ...baseline.slice(0, Math.max(0, baseline.length - (scores ? 0 : 1)))];
    const budget = a.budget;
    const cache = this.tf.newCache(a.promptIds.length + budget);
    const layerInputs: Float32Array[] = [];
    const stages: LayerStages[] = [];
    const from = a.promptIds.length - 1;
    // a copy: the classifier's input comes back in the transformer's workspace
    const input = this.tf.forward([{ cache, tokens: seq }], { from }, { captureLayerInputs: layerInputs, captureStages: stages, classifierInput: true }).slice();
    const sampled = a.settings.temperature > 0;
    let check: GreedyCheck | undefined;
    const steps = seq.length - from;
    // the check bounds margins of the classifier's products; soft-capped logits (Gemma 2) are not those
    if (!sampled && baseline.length > 0 && !this.tf.config.finalSoftcap && !scores) {
      const head = this.tf.weights.lmHead;
      const logits = new Float32Array(steps * head.rows);
      this.tf.backend.matmul(logits, input, steps, head);
      check = new GreedyCheck(this.tf.backend, head, input, logits, steps, 2 * tieEpsilon(this.precision, false));
    }
    const coinList = sampled ? coins(a.settings.seed, budget) : new Float64Array(budget);
    // how many sequences decode together is set once every assay's pass is known (constructor)
    const decoder = new Decoder(this.tf, { settings: a.settings, coins: coinList, stopIds: a.stopIds, budget, capacity: cache.capacity }, 1);
    return { assay: a, seq, promptLength: a.promptIds.length, baseline, budget, coins: coinList, sampled, layerInputs, stages, cache, check, decoder, seen: 0, nsm: 0, scores };
  }

  /** Generate traces that differ only in their seed decode in one decoder (each sequence with its coins). */
  private shareDecoders(): void {
    const byKey = new Map<string, Decoder>();
    for (const t of this.traces) {
      if (!('seq' in t)) continue;
      const { seed: _, ...settings } = t.assay.settings;
      const key = JSON.stringify([t.assay.promptIds, settings, t.assay.stopIds, t.budget, t.cache.capacity]);
      const shared = byKey.get(key);
      if (shared) t.decoder = shared;
      else byKey.set(key, t.decoder);
    }
  }

  /** Each distinct decoder with the traces decoding in it. */
  private decoders(): { decoder: Decoder; traces: Trace[] }[] {
    const out = new Map<Decoder, Trace[]>();
    for (const t of this.traces) if ('seq' in t) out.set(t.decoder, [...(out.get(t.decoder) ?? []), t]);
    return [...out].map(([decoder, traces]) => ({ decoder, traces }));
  }

  /**
   * Mutants per pass and sequences decoding together share the KV budget: a pass takes at most half of it (and
   * about `rowsPerPass` rows), decoding what the pass leaves — on a 7B model both are tens of sequences.
   */
  private sizeToBudget(): void {
    const caps = this.traces.filter((t): t is Trace => 'seq' in t).map((t) => kvBytesPerSequence(this.tf, t.cache.capacity));
    const perMutant = caps.reduce((a, b) => a + b, 0);
    const longest = Math.max(...this.traces.map((t) => ('seq' in t ? t.seq.length : Math.max(...t.assay.probes.map((p) => p.ids.length)))));
    const byRows = Math.max(1, Math.floor(this.rowsPerPass / longest));
    this.passMutants = this.batchSize ?? (perMutant > 0 ? Math.max(1, Math.min(byRows, Math.floor(this.kvBudget / 2 / perMutant))) : byRows);
    const left = Math.max(0, this.kvBudget - this.passMutants * perMutant);
    // a shared decoder gets the slots of all its replicates
    for (const { decoder, traces } of this.decoders())
      decoder.maxSlots = decodeSlots(this.tf, traces[0].cache.capacity, (left * traces.length * kvBytesPerSequence(this.tf, traces[0].cache.capacity)) / perMutant);
  }

  /** positions decoded one token at a time by NSMs, over all assays */
  decodedRows(): number {
    return this.decoders().reduce((a, d) => a + d.decoder.rows, 0);
  }

  /** How each decoder's NSMs decode: its assays (replicates share one), sequences together, bytes of keys and values each. */
  decoding(): { assay: string; slots: number; bytesPerSequence: number }[] {
    return this.decoders().map(({ decoder, traces }) => ({
      assay: traces.length > 1 ? `${traces[0].assay.name}" … "${traces[traces.length - 1].assay.name}` : traces[0].assay.name,
      slots: decoder.maxSlots,
      bytesPerSequence: kvBytesPerSequence(this.tf, traces[0].cache.capacity),
    }));
  }

  /** The baseline's feed-forward input and gate and up products at one layer (the last layer asked is kept). */
  private ffnProducts(t: Trace, layer: number): FfnProducts {
    if (t.ffn?.layer === layer) return t.ffn.products;
    t.ffn = { layer, products: this.tf.ffnProducts(t.stages[layer].mid, layer, t.seq.length) };
    return t.ffn.products;
  }

  /** `count` copies of the baseline's residual stream `base`, one per mutant, in the reused `inputs` buffer. */
  private startingRows(base: Float32Array, count: number): Float32Array {
    const size = count * base.length;
    if (this.inputs.length < size) this.inputs = new Float32Array(size);
    const rows = this.inputs.subarray(0, size);
    for (let b = 0; b < count; b++) rows.set(base, b * base.length);
    return rows;
  }

  /** The mutated rows of the unit's block, as a patch. */
  private patch(m: Mutant): Patch | undefined {
    if (!m.target || !m.unit || !m.kind) return undefined;
    const w = m.target.weights;
    const u = m.unit;
    const stats = this.stats(m);
    // The unit's rows as the mutated matrix holds them (mutate.ts writes the same values in place).
    const data = w.data.slice(u.row * w.cols, (u.row + u.rows) * w.cols);
    for (let r = 0; r < u.rows; r++)
      for (let j = u.col; j < u.col + u.cols; j++) {
        const at = r * w.cols + j;
        data[at] = storedBits(w, m.kind, data[at], stats);
      }
    return { matrix: w, row: u.row, rows: u.rows, weights: matrix(`${w.name} (mutated rows)`, u.rows, w.cols, data, w.dtype) };
  }

  /** Mutants evaluated together in one pass. */
  passSize(): number {
    return this.passMutants;
  }

  evaluate(mutants: Mutant[]): Outcome[][] {
    const out: Outcome[][] = mutants.map(() => new Array<Outcome>(this.traces.length));
    const size = this.passSize();
    // NSMs join their assay's decoder as passes find them and decode together (decode.ts); a decoding step
    // costs mostly per call, not per row, so the more NSMs share a step the better.
    for (const d of this.decoders()) d.decoder.reserve(mutants.length * d.traces.length);
    for (let i = 0; i < mutants.length; i += size) {
      const batch = mutants.slice(i, i + size);
      const patches = batch.map((m) => this.patch(m));
      this.traces.forEach((t, ai) => {
        const put = (k: number) => (o: Outcome) => (out[i + k][ai] = o);
        if ('seq' in t) this.runBatch(t, batch, patches, put, t.scores && ((k: number) => (o: Outcome) => (out[i + k][t.scores!.index] = o)));
        else if (!t.fused) this.runPassBatch(t, batch, patches).forEach((o, k) => put(k)(o));
      });
    }
    for (const d of this.decoders()) d.decoder.drain();
    return out;
  }

  /** A generation's outcome once its ids are known (a near-tie goes to the plain path). */
  private finish(t: Trace, m: Mutant, l: Live): Outcome {
    const ids = l.diverged ? l.ids : t.baseline;
    if (!this.exact && l.margins.some((x) => x < t.assay.tieEpsilon)) {
      this.rechecks++;
      return this.plain.oneAssay(m, t.assay, true);
    }
    return t.assay.classify({ ids, margins: l.margins });
  }

  /**
   * Teacher-forced pass of a batch: silent mutants and finished NSMs get their outcome, the rest join the decoder.
   *
   * Where most mutants diverge early (sampled assays: half of them within the first 40 of 150 steps), running
   * every mutant over all positions wastes most of the pass. Such assays run in stages of 16, 32, 64, … steps:
   * each stage continues, on their own keys and values, only the mutants still on the baseline's path. Every
   * position is computed as in one pass (same rows, same order), so nothing changes but the work.
   */
  private runBatch(t: Trace, batch: Mutant[], patches: (Patch | undefined)[], put: (k: number) => (o: Outcome) => void, putScores?: (k: number) => (o: Outcome) => void): void {
    const tf = this.tf;
    const n = t.seq.length;
    const dim = tf.config.dim;
    // The batch starts where its earliest mutant does; mutants that start exactly there begin from the
    // baseline's own stage with their few changed features recomputed.
    const entries = batch.map((m) => entryOf(m, tf.weights));
    const entry = Math.min(...entries);
    const fromLayer = entry >> 1;
    const fromStage = entry & 1 ? 'ffn' : 'attention';
    // One pool: the whole batch's attention is one backend call per layer.
    const caches = KVCache.pool(tf.config, t.cache.capacity, batch.length, this.pools);
    // keys and values the mutants share with the baseline: layers below the entry, and the entry layer itself
    // when its attention block is skipped
    const sharedCacheLayers = fromLayer + (fromStage === 'ffn' ? 1 : 0);
    const vocab = tf.config.vocabSize;
    const from = t.promptLength - 1;
    // Greedy steps are checked from the classifier's input, unless the classifier itself is mutated.
    const head = tf.weights.lmHead;
    const check = t.check && !patches.some((p) => p?.matrix === head) ? t.check : undefined;
    // A batch of gate and up mutants of one layer shares that layer's feed-forward input with the baseline:
    // its gate and up products are the baseline's but for each mutant's own features.
    const gateUp = fromStage === 'ffn' && batch.every((m, b) => entries[b] === entry && (m.target?.matrix === 'gate' || m.target?.matrix === 'up'));
    const products = gateUp ? this.ffnProducts(t, fromLayer) : undefined;
    const eps = t.assay.tieEpsilon;
    const settings = t.assay.settings;
    const stop = t.assay.stopIds;
    const steps = t.baseline.length;
    const rowLogits = new Float32Array(vocab);
    const block = { b: -1, start: 0, tokens: new Int32Array(STEP_BLOCK), margins: new Float64Array(STEP_BLOCK) };

    const lives: Live[] = batch.map(() => ({ ids: [], margins: [], diverged: false, done: false }));
    let active = lives.map((_, b) => b);
    // stage boundaries in positions: [start, end) of the sequence, the first ending `from` + its steps
    // Before any mutant is seen, a sampled assay is expected to be mostly NSMs (the paper's setting: 97–100 %
    // on stories260K and on random 7B-shaped models), a greedy one mostly silent; then the screen's own share decides.
    const mostlyNsm = t.seen > 0 ? t.nsm > t.seen / 2 : t.sampled;
    // a pass that also scores the baseline (point 6) needs every position of every mutant
    const staged = mostlyNsm && steps > 2 * FIRST_STAGE_STEPS && !t.scores;
    for (let start = 0, length = FIRST_STAGE_STEPS; start < n && active.length; ) {
      const end = staged ? Math.min(n, (start === 0 ? from : start) + length) : n;
      const rows = end - start;
      const firstStep = Math.max(0, start - from);
      let input: Float32Array | undefined;
      if (entry > 0) {
        const base = fromStage === 'ffn' ? t.stages[fromLayer].mid : t.layerInputs[fromLayer];
        input = this.startingRows(base.subarray(start * dim, end * dim), active.length);
        active.forEach((b, k) => {
          const p = patches[b];
          if (!p || entries[b] !== entry) return;
          const m = batch[b].target!.matrix;
          // o mutants start after their attention block, down mutants at the next layer: the product's changed
          // output features are recomputed from the baseline's input to it and added as the layer adds them.
          const cols = p.weights.cols;
          if (!addsDirectly(batch[b], tf.weights)) return;
          if (m === 'o') addPatched(tf, input!, k * rows, rows, t.layerInputs[fromLayer].subarray(start * dim), t.stages[fromLayer].attention.subarray(start * cols), p);
          else if (m === 'down') addPatched(tf, input!, k * rows, rows, t.stages[fromLayer - 1].mid.subarray(start * dim), t.stages[fromLayer - 1].hidden.subarray(start * cols), p);
        });
      }
      this.passRows += active.length * rows;
      const hidden = tf.config.hiddenDim;
      const tokens = t.seq.slice(start, end);
      const out = tf.forward(
        active.map((b) => ({ cache: caches[b], tokens, patch: patches[b] })),
        start === 0 ? { from } : 'all',
        {
          fromLayer,
          fromStage,
          input,
          classifierInput: check !== undefined,
          ffnProducts: products && { input: products.input.subarray(start * dim, end * dim), gate: products.gate.subarray(start * hidden, end * hidden), up: products.up.subarray(start * hidden, end * hidden) },
        },
      );
      // rows of this stage's output per mutant: its steps firstStep … lastStep − 1
      const lastStep = Math.min(steps, end - from);
      const rowsPer = end - Math.max(start, from);
      const step = (k: number, b: number, s: number): Choice => {
        const row = k * rowsPer + (s - firstStep);
        if (!check) {
          // Without the greedy check, steps are chosen a block at a time in one backend call (most of a block's
          // steps are needed: a mutant's steps are checked in order until it diverges).
          if (block.b !== b || s < block.start || s >= block.start + STEP_BLOCK) {
            const count = Math.min(STEP_BLOCK, lastStep - s);
            tf.backend.sampleRows(block.tokens, block.margins, out.subarray(row * vocab, (row + count) * vocab), count, vocab, settings, t.coins.subarray(s, s + count));
            block.b = b;
            block.start = s;
          }
          return { token: block.tokens[s - block.start], margin: block.margins[s - block.start] };
        }
        const fast = check.check(out, row * dim, s, t.baseline[s]);
        // the check's margin is a lower bound: near the tie epsilon the stored tie flag needs the exact one
        if (fast && fast.margin >= eps) return fast;
        tf.backend.matmul(rowLogits, out.subarray(row * dim, (row + 1) * dim), 1, head);
        return choose(rowLogits, settings, t.coins[s]);
      };
      // The likelihood of the baseline continuation, from the same logits (the pass is not staged then). Near-ties
      // on a backend that is not row-exact are re-run on the plain path once the stage's steps are checked (the
      // plain path reuses the workspace these logits are in).
      const recheck: number[] = [];
      if (t.scores && putScores) {
        const lik = t.scores.assay;
        const eps = tieEpsilon(this.precision, lik.sampled);
        active.forEach((b, k) => {
          const st = lik.begin();
          st.accept(0, out, k * rowsPer * vocab);
          const near = st.margin() < eps;
          if (near && !this.exact) recheck.push(b);
          else putScores(b)(st.outcome(near));
        });
      }
      // Verify this stage's steps with the shared coins; a mutant leaves at its first divergence.
      block.b = -1;
      const still: number[] = [];
      const left: number[] = [];
      active.forEach((b, k) => {
        const l = lives[b];
        for (let s = firstStep; s < lastStep; s++) {
          const c = step(k, b, s);
          l.ids.push(c.token);
          l.margins.push(c.margin);
          if (c.token !== t.baseline[s]) {
            l.diverged = true;
            break;
          }
        }
        (!l.diverged && lastStep < steps ? still : left).push(b);
      });
      for (const b of recheck) {
        this.rechecks++;
        putScores!(b)(this.plain.oneAssay(batch[b], t.scores!.assay, true));
      }
      // Mutants that left: silent ones (at the end) and NSMs that stopped are done; other NSMs join the decoder
      // with their keys and values up to their divergence, the baseline's below the entry, their own above.
      // Joining may decode (when every slot is taken), which reuses the transformer's workspace: so only once
      // every step of the stage has been checked.
      for (const b of left) {
        const l = lives[b];
        t.seen++;
        if (l.diverged) t.nsm++;
        l.done = !l.diverged || stop.includes(l.ids[l.ids.length - 1]) || l.ids.length >= t.budget;
        if (l.done) {
          put(b)(this.finish(t, batch[b], l));
          continue;
        }
        const own = caches[b];
        t.decoder.admit(l, patches[b], t.promptLength + l.ids.length - 1, (layer, which) => (layer < sharedCacheLayers ? t.cache : own)[which][layer], () => put(b)(this.finish(t, batch[b], l)), t.coins);
      }
      active = still;
      start = end;
      length *= 2;
    }
  }
}

/**
 * Likelihood assays that score exactly one generate assay's baseline continuation (baseline_of, no texts of their
 * own), by index, each with the generate assay whose pass it shares (point 6).
 */
function fusions(assays: Assay[]): Map<number, number> {
  const out = new Map<number, number>();
  assays.forEach((a, i) => {
    if (a.type !== 'likelihood' || a.probes.length !== 1) return;
    const p = a.probes[0];
    const g = assays.findIndex(
      (x, j) =>
        x.type === 'generate' &&
        ![...out.values()].includes(j) &&
        p.from === x.promptIds.length - 1 &&
        p.ids.length === x.promptIds.length + x.baseline.ids.length &&
        x.baseline.ids.length > 0 &&
        p.ids.every((id, k) => id === (k < x.promptIds.length ? x.promptIds[k] : x.baseline.ids[k - x.promptIds.length])),
    );
    if (g >= 0) out.set(i, g);
  });
  return out;
}

/** Teacher-forced steps chosen per backend call when they are sampled. */
const STEP_BLOCK = 8;

/** Steps of the first stage of a staged pass (runBatch); each later stage is twice as long. */
const FIRST_STAGE_STEPS = 16;

/**
 * Where a mutant's pass can start, as layer·2 + stage (0 = the layer's attention block, 1 = its feed-forward
 * block): q, k, v and the attention's norms change the attention; o, gate, up and the feed-forward block's norms
 * leave the layer's attention as the baseline's; down leaves the whole layer but its own output features, so it
 * starts at the next layer.
 */
function entryOf(m: Mutant, w: ModelWeights): number {
  const t = m.target;
  // the final norm changes only the classifier's input: past every layer
  if (t?.matrix === 'final_norm') return 2 * w.layers.length;
  if (!t || t.layer === null) return 0;
  // norms of the feed-forward block leave the layer's attention as the baseline's
  if (t.matrix === 'ffn_norm' || t.matrix === 'ffn_out_norm') return 2 * t.layer + 1;
  // o and down outputs normed before the residual add (Gemma, OLMo 2) are recomputed within their block
  const direct = addsDirectly(m, w);
  if (t.matrix === 'gate' || t.matrix === 'up' || (t.matrix === 'o' && direct)) return 2 * t.layer + 1;
  if (t.matrix === 'down') return direct ? 2 * (t.layer + 1) : 2 * t.layer + 1;
  return 2 * t.layer;
}

/** Whether a mutant's o or down product joins the residual stream as it is (no output norm between). */
function addsDirectly(m: Mutant, w: ModelWeights): boolean {
  const t = m.target;
  if (!t || t.layer === null) return false;
  const L = w.layers[t.layer];
  return t.matrix === 'o' ? !L.attnOutNorm : t.matrix === 'down' ? !L.ffnOutNorm : false;
}

/**
 * residual[rows of one mutant] = before + patch·x on the patch's output features: what the layer computes for
 * a mutant whose product differs from the baseline's only there (the other features are the baseline's).
 */
function addPatched(tf: Transformer, residual: Float32Array, firstRow: number, n: number, before: Float32Array, x: Float32Array, p: Patch): void {
  const dim = tf.config.dim;
  const out = new Float32Array(n * p.rows);
  tf.backend.matmulInto(out, p.rows, x, n, p.weights);
  for (let r = 0; r < n; r++)
    for (let k = 0; k < p.rows; k++) {
      const at = r * dim + p.row + k;
      residual[(firstRow + r) * dim + p.row + k] = Math.fround(before[at] + out[r * p.rows + k]);
    }
}

/**
 * The default budget for keys and values of one screening process: 60 % of the memory the weights leave, shared
 * by the processes of a run (MUTASCAN_KV_MEMORY, in GiB, sets it instead). The rest is for the forward pass's
 * activations, the baselines' traces and the page cache.
 */
export function defaultKvBudget(tf: Transformer, processes: number): number {
  const set = Number(process.env.MUTASCAN_KV_MEMORY);
  if (set > 0) return set * 2 ** 30;
  let weights = 0;
  for (const m of allMatrices(tf.weights).values()) weights += m.data.byteLength;
  return Math.max(2 ** 28, (0.6 * (totalmem() - weights)) / Math.max(1, processes));
}
