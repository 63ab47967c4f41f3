/**
 * The plan: the ordered list of mutants of a screen. Targets in layer order (q k v o gate up down, then embed
 * and lm_head), units row-major over the matrix as stored, kinds in the order of the screen file. Ordinal 0 is
 * the null mutant (weights unchanged), the control every screen starts with. A mutant's key says what it is,
 * e.g. `3.down:0,64+64x64:max`, and is the same in every run of the same screen file.
 */
import { fail } from '../errors.js';
import type { Model } from '../model/model.js';
import { LAYER_MATRICES, type LayerMatrix, type Matrix } from '../model/weights.js';
import type { Kind, Unit } from './mutate.js';
import type { RowLayout } from '../model/layout.js';
import { parseKind, targetLine, type ScreenSpec, type UnitSpec } from '../spec/spec.js';

export type MatrixKind = LayerMatrix | 'embed' | 'lm_head';

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
const SHORT_RE = /^(\*|\d+|\d+-\d+)\.(q|k|v|o|gate|up|down|\*)$/;

export function resolveTargets(spec: ScreenSpec, model: Model): Target[] {
  const w = model.weights;
  const L = model.config.nLayers;
  const layerTarget = (l: number, m: LayerMatrix): Target => ({ short: `${l}.${m}`, tensor: w.layers[l][m].name, layer: l, matrix: m, weights: w.layers[l][m], layout: layoutOf(model, m) });
  const out = new Map<string, Target>();
  spec.targets.forEach((t, i) => {
    const where = targetLine(spec, i);
    const name = t.trim();
    if (name === 'all') {
      for (let l = 0; l < L; l++) for (const m of LAYER_MATRICES) out.set(`${l}.${m}`, layerTarget(l, m));
      return;
    }
    if (name === 'embed' || name === 'model.embed_tokens.weight') {
      out.set('embed', { short: 'embed', tensor: w.embed.name, layer: null, matrix: 'embed', weights: w.embed, layout: 'huggingface' });
      return;
    }
    if (name === 'lm_head' || name === 'lm_head.weight') {
      if (w.lmHead === w.embed) fail(`target "${name}": this model ties lm_head to the embedding`, where, 'mutate "embed" instead (it is the same matrix)');
      out.set('lm_head', { short: 'lm_head', tensor: w.lmHead.name, layer: null, matrix: 'lm_head', weights: w.lmHead, layout: 'huggingface' });
      return;
    }
    let layers: number[];
    let mats: readonly LayerMatrix[];
    const hf = HF_RE.exec(name);
    const short = SHORT_RE.exec(name);
    if (hf) {
      layers = [Number(hf[1])];
      mats = [(hf[2] ?? hf[3]) as LayerMatrix];
    } else if (short) {
      const [, ls, ms] = short;
      if (ls === '*') layers = Array.from({ length: L }, (_, k) => k);
      else if (ls.includes('-')) {
        const [a, b] = ls.split('-').map(Number);
        if (a > b) fail(`target "${name}": layer range ${a}-${b} is backwards`, where, `write ${b}-${a}`);
        layers = Array.from({ length: b - a + 1 }, (_, k) => a + k);
      } else layers = [Number(ls)];
      mats = ms === '*' ? LAYER_MATRICES : [ms as LayerMatrix];
    } else
      fail(
        `unknown target "${name}"`,
        where,
        'targets look like all, 0.q, 3.down, *.gate, 0-2.up, 2.*, embed, lm_head, or a checkpoint name such as model.layers.0.self_attn.q_proj.weight',
      );
    for (const l of layers) {
      if (l >= L) fail(`target "${name}": layer ${l} does not exist`, where, `the model has layers 0–${L - 1}`);
      for (const m of mats) out.set(`${l}.${m}`, layerTarget(l, m));
    }
  });
  // Canonical order, whatever order the file lists them in.
  const rank = (t: Target): number => (t.layer === null ? (t.matrix === 'embed' ? 1e6 : 1e6 + 1) : t.layer * 10 + LAYER_MATRICES.indexOf(t.matrix as LayerMatrix));
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

export function mutantKey(t: Target, u: Unit, kindName: string): string {
  return `${t.short}:${u.row},${u.col}+${u.rows}x${u.cols}:${kindName}`;
}

/**
 * A mutant from its key (`3.down:0,64+64x64:max`, as stores and exports name them), outside any screen: what
 * `generate --mutate` applies. Errors say which part of the key is wrong.
 */
export function parseMutantKey(key: string, model: Model): { target: Target; unit: Unit; kind: Kind; kindName: string } {
  const m = /^([^:]+):(\d+),(\d+)\+(\d+)x(\d+):(.+)$/.exec(key.trim());
  if (!m) fail(`"${key}" is not a mutant key`, '--mutate', 'a key looks like 1.down:2533,7890+1x1:zero (target:row,col+rows x cols:kind), as stores, exports and the scout print them');
  const [, short, row, col, rows, cols, kindText] = m;
  const w = model.weights;
  const L = /^(\d+)\.(q|k|v|o|gate|up|down)$/.exec(short);
  let target: Target;
  if (L) {
    const l = Number(L[1]);
    if (l >= model.config.nLayers) fail(`mutant key "${key}": layer ${l} does not exist`, '--mutate', `the model has layers 0–${model.config.nLayers - 1}`);
    const name = L[2] as LayerMatrix;
    target = { short, tensor: w.layers[l][name].name, layer: l, matrix: name, weights: w.layers[l][name], layout: layoutOf(model, name) };
  } else if (short === 'embed' || short === 'lm_head') target = { short, tensor: (short === 'embed' ? w.embed : w.lmHead).name, layer: null, matrix: short, weights: short === 'embed' ? w.embed : w.lmHead, layout: 'huggingface' };
  else fail(`mutant key "${key}": unknown target "${short}"`, '--mutate', 'targets are L.q, L.k, L.v, L.o, L.gate, L.up, L.down, embed, lm_head');
  const unit = { row: Number(row), col: Number(col), rows: Number(rows), cols: Number(cols) };
  const mat = target.weights;
  if (unit.rows < 1 || unit.cols < 1 || unit.row + unit.rows > mat.rows || unit.col + unit.cols > mat.cols)
    fail(`mutant key "${key}": rows ${unit.row}+${unit.rows}, cols ${unit.col}+${unit.cols} is outside ${short} [${mat.rows} × ${mat.cols}]`, '--mutate');
  const kind = parseKind(kindText) ?? fail(`mutant key "${key}": unknown kind "${kindText}"`, '--mutate', 'kinds: max | min | zero | negate | value:<number> | scale:<number>');
  return { target, unit, kind, kindName: kindText };
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
