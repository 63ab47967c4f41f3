/**
 * Figures: Vega-Lite specifications rendered headless to SVG by Vega, and SVG to PNG by resvg. Maps are
 * images (one pixel block per unit) placed in a Vega-Lite chart for its axes and title, so a map of
 * millions of units stays one image, not millions of SVG nodes.
 */
import { Resvg } from '@resvg/resvg-js';
import { encode } from 'fast-png';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { COLOURS, unitColour } from './colour.js';
import type { ReportData, ReportTarget } from './data.js';

export interface Figure {
  name: string;
  title: string;
  svg: string;
  png: Uint8Array;
}

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export async function render(name: string, title: string, spec: TopLevelSpec): Promise<Figure> {
  const full = { config: { font: FONT, background: 'white' }, ...spec } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(full).spec), { renderer: 'none' });
  // generated texts may hold control characters (byte tokens), which XML forbids: shown as U+FFFD
  const svg = (await view.toSVG()).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD');
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  return { name, title, svg, png: new Uint8Array(png) };
}

/** Largest side of a map image; bigger grids are pooled (an NSM colour wins over silent within a pool). */
const MAX_SIDE = 2048;
const PRIORITY = ['silent', 'pending', 'other', 'min', 'max', 'both'] as const;

/**
 * The map of one target as RGB pixels: one pixel per unit, or per pool of units for very large grids,
 * with rows and columns in the given order (the identity, or the rearrangement by NSM count).
 */
export function mapPixels(data: ReportData, ai: number, ti: number, order?: { rows: number[]; cols: number[] }): { width: number; height: number; rgb: Uint8Array; pool: number } {
  const t = data.targets[ti];
  const pool = Math.max(1, Math.ceil(Math.max(t.gridRows, t.gridCols) / MAX_SIDE));
  const width = Math.ceil(t.gridCols / pool);
  const height = Math.ceil(t.gridRows / pool);
  const rank = new Uint8Array(width * height);
  const outs = data.outcome[ai].map((per) => per[ti]);
  const o = new Array<number>(outs.length);
  for (let r = 0; r < t.gridRows; r++) {
    const sr = order ? order.rows[r] : r;
    for (let c = 0; c < t.gridCols; c++) {
      const u = sr * t.gridCols + (order ? order.cols[c] : c);
      for (let k = 0; k < outs.length; k++) o[k] = outs[k][u];
      const p = PRIORITY.indexOf(unitColour(data.kinds, o));
      const px = Math.floor(r / pool) * width + Math.floor(c / pool);
      if (p > rank[px]) rank[px] = p;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rank.length; i++) rgb.set(COLOURS[PRIORITY[rank[i]]], i * 3);
  return { width, height, rgb, pool };
}

/** Nearest-neighbour enlargement, so that small grids stay crisp in every viewer (no smoothing of units). */
function enlarge(p: { width: number; height: number; rgb: Uint8Array }, s: number): { width: number; height: number; data: Uint8Array } {
  const width = p.width * s;
  const height = p.height * s;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / s);
    for (let x = 0; x < width; x++) {
      const si = (sy * p.width + Math.floor(x / s)) * 3;
      const di = (y * width + x) * 3;
      data[di] = p.rgb[si];
      data[di + 1] = p.rgb[si + 1];
      data[di + 2] = p.rgb[si + 2];
    }
  }
  return { width, height, data };
}

export function pngOf(p: { width: number; height: number; rgb: Uint8Array }, scale = 1): Uint8Array {
  const e = scale === 1 ? { width: p.width, height: p.height, data: p.rgb } : enlarge(p, scale);
  return encode({ width: e.width, height: e.height, data: e.data, channels: 3, depth: 8 });
}

/** Display scale shared by all maps of a report (so units look the same size everywhere): whole pixels per unit, the largest grid near 512 px. */
export function mapScale(targets: { gridRows: number; gridCols: number }[]): number {
  const side = Math.max(1, ...targets.map((t) => Math.max(t.gridRows, t.gridCols)));
  return Math.max(1, Math.round(512 / side));
}

export async function mapFigure(name: string, title: string, t: ReportTarget, pixels: { width: number; height: number; rgb: Uint8Array }, axes: { x: string; y: string }): Promise<Figure> {
  const s = Math.max(1, Math.floor(384 / Math.max(pixels.width, pixels.height)));
  const url = 'data:image/png;base64,' + Buffer.from(pngOf(pixels, s)).toString('base64');
  const w = pixels.width * s;
  const h = pixels.height * s;
  return render(name, title, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `${t.tensor} · ${t.rows}×${t.cols} · unit ${t.unitRows}×${t.unitCols}` },
    width: w,
    height: h,
    data: { values: [{ x: 0, y: 0, x2: t.cols, y2: t.rows, url }] },
    mark: { type: 'image', aspect: false },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: { domain: [0, t.cols], nice: false }, title: axes.x },
      x2: { field: 'x2' },
      y: { field: 'y', type: 'quantitative', scale: { domain: [0, t.rows], nice: false, reverse: true }, title: axes.y },
      y2: { field: 'y2' },
      url: { field: 'url', type: 'nominal' },
    },
  } as TopLevelSpec);
}

/** All maps of one assay on one sheet: a row per layer, a column per matrix type (embed/lm_head last). */
export async function overviewFigure(
  name: string,
  title: string,
  data: ReportData,
  ai: number,
  pixels: (ti: number) => { width: number; height: number; rgb: Uint8Array } = (ti) => mapPixels(data, ai, ti),
  subtitle = 'red: NSM under max only · blue: min only · green: both · white: silent · grey: not run yet',
): Promise<Figure> {
  const s = Math.max(1, Math.round(160 / Math.max(1, ...data.targets.map((t) => Math.max(t.gridRows, t.gridCols)))));
  const cell = (ti: number) => {
    const t = data.targets[ti];
    const px = pixels(ti);
    const url = 'data:image/png;base64,' + Buffer.from(pngOf(px, s)).toString('base64');
    return {
      title: { text: t.short, fontSize: 10, fontWeight: 'normal' },
      width: px.width * s,
      height: px.height * s,
      data: { values: [{ x: 0, y: 0, x2: 1, y2: 1, url }] },
      mark: { type: 'image', aspect: false },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { domain: [0, 1] }, axis: null },
        x2: { field: 'x2' },
        y: { field: 'y', type: 'quantitative', scale: { domain: [0, 1], reverse: true }, axis: null },
        y2: { field: 'y2' },
        url: { field: 'url', type: 'nominal' },
      },
      view: { stroke: '#bbbbbb' },
    };
  };
  const rows = new Map<string, number[]>();
  data.targets.forEach((t, ti) => {
    const key = t.layer === null ? 'other' : String(t.layer);
    (rows.get(key) ?? rows.set(key, []).get(key)!).push(ti);
  });
  return render(name, title, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    vconcat: [...rows.values()].map((tis) => ({ hconcat: tis.map(cell), spacing: 8 })),
    spacing: 6,
  } as TopLevelSpec);
}

/** How a measured value becomes a colour: a diverging scale around 0, or a sequential one on log10. */
export interface ValueScale {
  /** the value of a unit from its values under the kinds (NaN = not run) */
  pick(values: number[]): number;
  colour(v: number): readonly [number, number, number];
  describe: string;
}

const lerp = (a: readonly number[], b: readonly number[], t: number) => [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * Math.min(1, Math.max(0, t)))) as unknown as [number, number, number];

/** Accuracy change: red for losses, blue for gains, white for none; a unit shows its worst kind. */
export function accuracyScale(maxAbs: number): ValueScale {
  const m = maxAbs > 0 ? maxAbs : 1;
  return {
    pick: (vs) => (vs.some((v) => !Number.isNaN(v)) ? Math.min(...vs.filter((v) => !Number.isNaN(v))) : NaN),
    colour: (v) => (Number.isNaN(v) ? COLOURS.pending : v < 0 ? lerp([255, 255, 255], [178, 24, 43], -v / m) : lerp([255, 255, 255], [33, 102, 172], v / m)),
    describe: `accuracy change, worst kind per unit: red = lower (down to −${(100 * m).toFixed(0)} points), blue = higher, white = unchanged, grey = not run yet`,
  };
}

/** Mean KL: white at or below `lo` to dark purple at `hi`, on log10; a unit shows its largest kind. */
export function klScale(lo: number, hi: number): ValueScale {
  const a = Math.log10(Math.max(lo, 1e-12));
  const b = Math.max(a + 1, Math.log10(Math.max(hi, 1e-12)));
  return {
    pick: (vs) => (vs.some((v) => !Number.isNaN(v)) ? Math.max(...vs.filter((v) => !Number.isNaN(v))) : NaN),
    colour: (v) => (Number.isNaN(v) ? COLOURS.pending : v <= 0 ? [255, 255, 255] : lerp([255, 255, 255], [63, 0, 125], (Math.log10(v) - a) / (b - a))),
    describe: `mean KL(baseline ‖ mutant) per position, largest kind per unit, log scale: white ≤ ${lo.toExponential(0)} nats, dark purple ≥ ${hi.toExponential(0)}; grey = not run yet`,
  };
}

export function valuePixels(data: ReportData, ai: number, ti: number, scale: ValueScale): { width: number; height: number; rgb: Uint8Array } {
  const t = data.targets[ti];
  const per = data.values[ai]!.map((k) => k[ti]);
  const pool = Math.max(1, Math.ceil(Math.max(t.gridRows, t.gridCols) / MAX_SIDE));
  const width = Math.ceil(t.gridCols / pool);
  const height = Math.ceil(t.gridRows / pool);
  const rgb = new Uint8Array(width * height * 3);
  const vs = new Array<number>(per.length);
  for (let r = 0; r < t.gridRows; r += pool)
    for (let c = 0; c < t.gridCols; c += pool) {
      const u = r * t.gridCols + c;
      for (let k = 0; k < per.length; k++) vs[k] = per[k][u];
      rgb.set(scale.colour(scale.pick(vs)), ((r / pool) * width + c / pool) * 3);
    }
  return { width, height, rgb };
}
