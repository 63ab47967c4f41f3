/**
 * The plan: the ordered list of mutants of a screen. Targets in layer order (q k v o gate up down, then embed
 * and lm_head), units row-major over the matrix as stored, kinds in the order of the screen file. Ordinal 0 is
 * the null mutant (weights unchanged), the control every screen starts with. A mutant's key says what it is,
 * e.g. `3.down:0,64+64x64:max`, and is the same in every run of the same screen file.
 */
import { fail } from '../errors.js';
import type { Model } from '../model/model.js';
import { family } from '../model/families/index.js';
import type { NormSlot } from '../model/family.js';
import { LAYER_MATRICES, LAYER_PARTS, matrix, NORM_TARGETS, type LayerMatrix, type LayerNorm, type Matrix } from '../model/weights.js';
import type { Kind, Unit } from './mutate.js';
import type { RowLayout } from '../model/layout.js';
import { kindName, targetLine, type ScreenSpec, type UnitSpec } from '../spec/spec.js';
import { parseMutantName, singleName } from '../spec/mutant-name.js';

/** What a target is: a layer's matrix or norm vector, the embedding, the final norm or the classifier. */
export type MatrixKind = LayerMatrix | LayerNorm | 'embed' | 'final_norm' | 'lm_head';

/** Norm vectors are targets as 1 × n matrices whose data is the vector itself (mutated in place like a matrix). */
export function isNormTarget(m: MatrixKind): boolean {
  return m === 'final_norm' || (m as string).endsWith('_norm');
}

export interface Target {
  /** short form: `L.name`, `embed`, `lm_head` */
  short: string;
  /** checkpoint tensor name */
  tensor: string;
  layer: number | null;
  matrix: MatrixKind;
  weights: Matrix;
  /** the order of its rows in mutant coordinates: Hugging Face's, or llama2.c's pair order for q/k of its checkpoints */
  layout: RowLayout;
}

/** The layout of a target's rows in a model (docs/families.md, Coordinates). */
export function layoutOf(model: Model, m: MatrixKind): RowLayout {
  return (m === 'q' || m === 'k') && model.config.ropeLayout === 'interleaved' ? 'llama2c' : 'huggingface';
}

export interface Mutant {
  ordinal: number;
  key: string;
  target: Target | null;
  unit: Unit | null;
  kind: Kind | null;
  kindName: string;
}

const HF_RE = /^model\.layers\.(\d+)\.(?:self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;
const NORM_NAMES = Object.values(NORM_TARGETS).join('|');
const SHORT_RE = new RegExp(`^(\\*|\\d+|\\d+-\\d+)\\.(q|k|v|o|gate|up|down|\\*|norms|${NORM_NAMES})$`);
const KEY_TARGET_RE = new RegExp(`^(\\d+)\\.(q|k|v|o|gate|up|down|${NORM_NAMES})$`);
const TARGET_FORMS = 'targets look like all, 0.q, 3.down, *.gate, 0-2.up, 2.*, 1.attn_norm, 2.norms (every norm of a layer), *.q_norm, embed, final_norm, lm_head, or a checkpoint name such as model.layers.0.self_attn.q_proj.weight';

/** The slot of each norm target name. */
const SLOT_OF = Object.fromEntries(Object.entries(NORM_TARGETS).map(([slot, name]) => [name, slot])) as Record<LayerNorm, NormSlot>;

/** Targets of one model, by short name: the checks and names every way of naming a target shares. */
class TargetMaker {
  private readonly fam;
  constructor(private readonly model: Model) {
    this.fam = family(model.config.architecture);
  }

  /** The norm targets a layer of this model has, in layer order. */
  norms(l: number): LayerNorm[] {
    const L = this.model.weights.layers[l];
    return LAYER_PARTS.filter((p): p is LayerNorm => p in SLOT_OF && L[SLOT_OF[p as LayerNorm]] !== undefined);
  }

  layer(l: number, m: LayerMatrix | LayerNorm, where: string, name: string): Target {
    const L = this.model.weights.layers[l];
    if (!(m in SLOT_OF)) {
      const mm = m as LayerMatrix;
      return { short: `${l}.${mm}`, tensor: L[mm].name, layer: l, matrix: mm, weights: L[mm], layout: layoutOf(this.model, mm) };
    }
    const slot = SLOT_OF[m as LayerNorm];
    const v = L[slot];
    const names = this.fam.norms[slot];
    if (!v || !names) fail(`target "${name}": this model's layers have no ${m}`, where, `its norm targets are ${this.norms(l).join(', ')}`);
    const tensor = this.model.source.format === 'gguf' ? `blk.${l}.${names.gguf}.weight` : `model.layers.${l}.${names.hf}.weight`;
    return { short: `${l}.${m}`, tensor, layer: l, matrix: m, weights: this.normMatrix(tensor, v), layout: 'huggingface' };
  }

  whole(m: 'embed' | 'final_norm' | 'lm_head', where: string, name: string): Target {
    const w = this.model.weights;
    if (m === 'final_norm') {
      const tensor = this.model.source.format === 'gguf' ? 'output_norm.weight' : 'model.norm.weight';
      return { short: m, tensor, layer: null, matrix: m, weights: this.normMatrix(tensor, w.finalNorm), layout: 'huggingface' };
    }
    if (m === 'lm_head' && w.lmHead === w.embed) fail(`target "${name}": this model ties lm_head to the embedding`, where, 'mutate "embed" instead (it is the same matrix)');
    const x = m === 'embed' ? w.embed : w.lmHead;
    return { short: m, tensor: x.name, layer: null, matrix: m, weights: x, layout: 'huggingface' };
  }

  /** A norm vector as a 1 × n matrix over the vector itself, with the offset its file's values are used with. */
  private normMatrix(name: string, v: Float32Array): Matrix {
    const offset = this.model.config.normOffset;
    return { ...matrix(name, 1, v.length, v), ...(offset ? { offset } : {}) };
  }

  /** The layer and norm of a checkpoint name of a norm vector (this family's names), if it is one. */
  normByTensor(name: string): [number, LayerNorm] | undefined {
    const m = /^(?:model\.layers|blk)\.(\d+)\.(.+)\.weight$/.exec(name);
    if (!m) return undefined;
    for (const [slot, names] of Object.entries(this.fam.norms))
      if (names && (m[2] === names.hf || m[2] === names.gguf)) return [Number(m[1]), NORM_TARGETS[slot as NormSlot]];
    return undefined;
  }
}

export function resolveTargets(spec: ScreenSpec, model: Model): Target[] {
  const L = model.config.nLayers;
  const make = new TargetMaker(model);
  const out = new Map<string, Target>();
  spec.targets.forEach((t, i) => {
    const where = targetLine(spec, i);
    const name = t.trim();
    if (name === 'all') {
      for (let l = 0; l < L; l++) for (const m of LAYER_MATRICES) out.set(`${l}.${m}`, make.layer(l, m, where, name));
      return;
    }
    const whole = name === 'model.embed_tokens.weight' ? 'embed' : name === 'lm_head.weight' ? 'lm_head' : name === 'model.norm.weight' || name === 'output_norm.weight' ? 'final_norm' : name;
    if (whole === 'embed' || whole === 'lm_head' || whole === 'final_norm') {
      out.set(whole, make.whole(whole, where, name));
      return;
    }
    let layers: number[];
    let mats: readonly (LayerMatrix | LayerNorm | 'norms')[];
    const hf = HF_RE.exec(name);
    const short = SHORT_RE.exec(name);
    const norm = make.normByTensor(name);
    if (hf) {
      layers = [Number(hf[1])];
      mats = [(hf[2] ?? hf[3]) as LayerMatrix];
    } else if (norm) {
      layers = [norm[0]];
      mats = [norm[1]];
    } else if (short) {
      const [, ls, ms] = short;
      if (ls === '*') layers = Array.from({ length: L }, (_, k) => k);
      else if (ls.includes('-')) {
        const [a, b] = ls.split('-').map(Number);
        if (a > b) fail(`target "${name}": layer range ${a}-${b} is backwards`, where, `write ${b}-${a}`);
        layers = Array.from({ length: b - a + 1 }, (_, k) => a + k);
      } else layers = [Number(ls)];
      mats = ms === '*' ? LAYER_MATRICES : [ms as LayerMatrix | LayerNorm | 'norms'];
    } else fail(`unknown target "${name}"`, where, TARGET_FORMS);
    for (const l of layers) {
      if (l >= L) fail(`target "${name}": layer ${l} does not exist`, where, `the model has layers 0–${L - 1}`);
      for (const m of mats.flatMap((x) => (x === 'norms' ? make.norms(l) : [x]))) out.set(`${l}.${m}`, make.layer(l, m, where, name));
    }
  });
  // Canonical order, whatever order the file lists them in: layer by layer as the forward pass reads them, then
  // the embedding, the final norm and the classifier.
  const WHOLE = ['embed', 'final_norm', 'lm_head'];
  const rank = (t: Target): number => (t.layer === null ? 1e6 + WHOLE.indexOf(t.matrix) : t.layer * 100 + LAYER_PARTS.indexOf(t.matrix as LayerMatrix));
  return [...out.values()].sort((a, b) => rank(a) - rank(b));
}

/** The units tiling a matrix, row-major; edge blocks are partial, never dropped. */
export function unitGrid(rows: number, cols: number, u: UnitSpec): { nRows: number; nCols: number; at(i: number): Unit } {
  const bh = u.type === 'block' ? u.size : u.type === 'element' ? 1 : u.type === 'row' ? 1 : rows;
  const bw = u.type === 'block' ? u.size : u.type === 'element' ? 1 : u.type === 'row' ? cols : 1;
  const nRows = Math.ceil(rows / bh);
  const nCols = Math.ceil(cols / bw);
  return {
    nRows,
    nCols,
    at(i: number): Unit {
      const r = Math.floor(i / nCols) * bh;
      const c = (i % nCols) * bw;
      return { row: r, col: c, rows: Math.min(bh, rows - r), cols: Math.min(bw, cols - c) };
    },
  };
}

export function mutantKey(t: Pick<Target, 'short'>, u: Unit, kindName: string): string {
  return `${t.short}:${u.row},${u.col}+${u.rows}x${u.cols}:${kindName}`;
}

/** One mutation of a mutant name, checked against a model. */
export interface NamedMutation {
  target: Target;
  unit: Unit;
  kind: Kind;
  kindName: string;
}

/**
 * The mutations a mutant name stands for (spec/mutant-name.ts: `3.down:0,64+64x64:max`, several joined by "+"),
 * checked against the model: what `generate --mutate`, `model.mutate` and pair lists apply. Errors say which
 * part of the name is wrong.
 */
export function resolveMutantName(name: string, model: Model, where = '--mutate'): NamedMutation[] {
  const make = new TargetMaker(model);
  return parseMutantName(name, where).map((s) => {
    const key = singleName(s);
    const L = KEY_TARGET_RE.exec(s.target);
    let target: Target;
    if (L) {
      const l = Number(L[1]);
      if (l >= model.config.nLayers) fail(`mutant "${key}": layer ${l} does not exist`, where, `the model has layers 0–${model.config.nLayers - 1}`);
      target = make.layer(l, L[2] as LayerMatrix | LayerNorm, where, key);
    } else if (s.target === 'embed' || s.target === 'lm_head' || s.target === 'final_norm') target = make.whole(s.target, where, key);
    else fail(`mutant "${key}": unknown target "${s.target}"`, where, `targets are L.q, L.k, L.v, L.o, L.gate, L.up, L.down, the norms L.${Object.values(NORM_TARGETS).join(', L.')}, embed, final_norm, lm_head`);
    const unit = { row: s.row, col: s.col, rows: s.rows, cols: s.cols };
    const mat = target.weights;
    if (unit.row + unit.rows > mat.rows || unit.col + unit.cols > mat.cols)
      fail(`mutant "${key}": rows ${unit.row}+${unit.rows}, cols ${unit.col}+${unit.cols} is outside ${s.target} [${mat.rows} × ${mat.cols}]`, where);
    return { target, unit, kind: s.kind, kindName: kindName(s.kind) };
  });
}

/** A single mutant from its name (a multi-mutant is refused): what the scout and the references apply. */
export function parseMutantKey(key: string, model: Model, where = '--mutate'): NamedMutation {
  const all = resolveMutantName(key, model, where);
  if (all.length !== 1) fail(`"${key}" names ${all.length} mutations; one is expected here`, where, 'name one mutant');
  return all[0];
}

export const NULL_MUTANT: Mutant = { ordinal: 0, key: 'null', target: null, unit: null, kind: null, kindName: 'null' };

export class Plan {
  /** first ordinal of each target's mutants */
  private readonly offsets: number[] = [];
  private readonly grids: ReturnType<typeof unitGrid>[];
  readonly total: number;

  constructor(
    readonly targets: Target[],
    readonly unit: UnitSpec,
    readonly kinds: Kind[],
    readonly kindNames: string[],
  ) {
    this.grids = targets.map((t) => unitGrid(t.weights.rows, t.weights.cols, unit));
    let n = 1;
    for (const g of this.grids) {
      this.offsets.push(n);
      n += g.nRows * g.nCols * kinds.length;
    }
    this.total = n;
  }

  static of(spec: ScreenSpec, model: Model): Plan {
    return new Plan(resolveTargets(spec, model), spec.unit, spec.kinds, spec.kindNames);
  }

  /** the mutants of target index ti, in order */
  range(ti: number): { first: number; count: number } {
    const g = this.grids[ti];
    return { first: this.offsets[ti], count: g.nRows * g.nCols * this.kinds.length };
  }

  mutant(ordinal: number): Mutant {
    if (ordinal === 0) return NULL_MUTANT;
    let ti = this.offsets.length - 1;
    while (this.offsets[ti] > ordinal) ti--;
    const local = ordinal - this.offsets[ti];
    const k = local % this.kinds.length;
    const unit = this.grids[ti].at(Math.floor(local / this.kinds.length));
    const target = this.targets[ti];
    return { ordinal, key: mutantKey(target, unit, this.kindNames[k]), target, unit, kind: this.kinds[k], kindName: this.kindNames[k] };
  }

  targetIndexOf(ordinal: number): number {
    let ti = this.offsets.length - 1;
    while (ti > 0 && this.offsets[ti] > ordinal) ti--;
    return ti;
  }

  grid(ti: number): { nRows: number; nCols: number } {
    return this.grids[ti];
  }
}
