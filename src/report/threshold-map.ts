/**
 * Maps of thresholds: per target, one pixel block per unit coloured by how small a change flips the output
 * (dark: a small change; light: a large one, on a log scale), grey where the unit is silent over the whole
 * series, black where it changes the output already at the series' start.
 */
import { pngOf, render, type Figure } from './figures.js';
import type { TopLevelSpec } from 'vega-lite';

// viridis at 0, ⅓, ⅔ and 1
const STOPS: [number, number, number][] = [[68, 1, 84], [49, 104, 142], [53, 183, 121], [253, 231, 37]];
const SILENT: [number, number, number] = [215, 215, 215];
const AT_START: [number, number, number] = [0, 0, 0];

function colour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f)) as [number, number, number];
}

/** A unit's threshold as the map needs it (screen/threshold.ts computes them). */
export interface MappedThreshold {
  unit: string;
  target: string;
  row: number;
  col: number;
  status: 'threshold' | 'silent-throughout' | 'nsm-at-from';
  nsmAt: number | null;
  change: number | null;
}

export async function thresholdMaps(units: MappedThreshold[], series: string): Promise<Figure[]> {
  const changes = units.filter((u) => u.change !== null && u.change > 0).map((u) => u.change!);
  const lo = Math.log(Math.min(...changes, 1));
  const hi = Math.log(Math.max(...changes, 1));
  const out: Figure[] = [];
  for (const target of [...new Set(units.map((u) => u.target))]) {
    const us = units.filter((u) => u.target === target);
    const rows = [...new Set(us.map((u) => u.row))].sort((a, b) => a - b);
    const cols = [...new Set(us.map((u) => u.col))].sort((a, b) => a - b);
    const width = cols.length;
    const height = rows.length;
    const rgb = new Uint8Array(width * height * 3).fill(255);
    const ri = new Map(rows.map((r, i) => [r, i]));
    const ci = new Map(cols.map((c, i) => [c, i]));
    for (const u of us) {
      const c = u.status === 'silent-throughout' ? SILENT : u.status === 'nsm-at-from' ? AT_START : colour(hi > lo ? (Math.log(Math.max(u.change!, Math.exp(lo))) - lo) / (hi - lo) : 0);
      rgb.set(c, (ri.get(u.row)! * width + ci.get(u.col)!) * 3);
    }
    const s = Math.max(1, Math.floor(384 / Math.max(width, height)));
    const url = 'data:image/png;base64,' + Buffer.from(pngOf({ width, height, rgb }, s)).toString('base64');
    const found = us.filter((u) => u.status === 'threshold').sort((a, b) => a.change! - b.change!);
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: `Thresholds of ${target}: ${series}`,
        subtitle: [
          `rows ${rows[0]}–${rows[rows.length - 1]}, columns ${cols[0]}–${cols[cols.length - 1]}`,
          'dark: a small change flips the output · light: a large one',
          'grey: silent throughout · black: NSM at the start',
          found.length ? `smallest: ${found[0].unit} at ${Number(found[0].nsmAt!.toPrecision(4))} (change ${found[0].change!.toPrecision(3)})` : 'no unit flips within the series',
        ],
      },
      width: width * s,
      height: height * s,
      data: { values: [{ x: cols[0], y: rows[0], x2: cols[cols.length - 1] + 1, y2: rows[rows.length - 1] + 1, url }] },
      mark: { type: 'image', aspect: false },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { domain: [cols[0], cols[cols.length - 1] + 1], nice: false }, title: 'column' },
        x2: { field: 'x2' },
        y: { field: 'y', type: 'quantitative', scale: { domain: [rows[0], rows[rows.length - 1] + 1], nice: false, reverse: true }, title: 'row' },
        y2: { field: 'y2' },
        url: { field: 'url', type: 'nominal' },
      },
    } as TopLevelSpec;
    out.push(await render(`thresholds-${target}`, `Thresholds of ${target}`, spec));
  }
  return out;
}
