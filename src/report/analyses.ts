/**
 * The paper's analyses and the statistics it left out, computed from ReportData as plain tables (one array
 * of flat records per table, written as CSV and drawn as figures).
 */
import { MATRIX_ORDER, PENDING, type ReportData, type ReportTarget } from './data.js';
import { benjaminiHochberg, binomialUpperTail, fisherExact, jaccard, rSquared } from '../util/stats.js';
import { firstWord, wordAt } from '../util/words.js';

export interface SummaryRow { assay: string; matrix: string; mutants: number; nsm: number; nsm_rate: number; phenotypes: number; destructive_nsm: number }
export interface LayerRow { assay: string; layer: number; matrix: string; mutants: number; nsm: number; phenotypes: number }
export interface OverlapRow { assay_a: string; assay_b: string; nsm_a: number; nsm_b: number; both: number; jaccard: number; r2_per_matrix: number }
export interface ComplementarityRow { assay: string; target: string; layer: number | null; matrix: string; units: number; max_and_min: number; max_only: number; min_only: number; neither: number; odds_ratio: number; p: number }
export interface EnrichmentRow { assay: string; target: string; matrix: string; axis: 'row' | 'col'; index: number; nsm_units: number; units: number; expected: number; fold: number; p: number; q: number }
export interface WordRow { assay: string; where: 'first' | 'divergent'; word: string; nsm: number; phenotypes: number }
export interface WordMutantRow { assay: string; word: string; target: string; row: number; col: number; kind: string; phenotype: number }

export interface Analyses {
  summary: SummaryRow[];
  layers: LayerRow[];
  overlap: OverlapRow[];
  complementarity: ComplementarityRow[];
  enrichment: EnrichmentRow[];
  words: WordRow[];
  wordMutants: WordMutantRow[];
}

/** Units hit (NSM under any kind) and done (run under every kind) of one target in one assay. */
export function unitHits(data: ReportData, ai: number, ti: number): { hit: Uint8Array; done: Uint8Array } {
  const t = data.targets[ti];
  const n = t.gridRows * t.gridCols;
  const hit = new Uint8Array(n);
  const done = new Uint8Array(n).fill(1);
  for (const per of data.outcome[ai]) {
    const o = per[ti];
    for (let u = 0; u < n; u++) {
      if (o[u] === PENDING) done[u] = 0;
      else if (o[u] > 0) hit[u] = 1;
    }
  }
  return { hit, done };
}

function matrixRank(m: string): number {
  const i = MATRIX_ORDER.indexOf(m);
  return i < 0 ? MATRIX_ORDER.length : i;
}

function summaries(data: ReportData): { summary: SummaryRow[]; layers: LayerRow[] } {
  const summary: SummaryRow[] = [];
  const layers: LayerRow[] = [];
  data.assays.forEach((a, ai) => {
    const byMatrix = new Map<string, { mutants: number; nsm: number; destructive: number; ph: Set<number> }>();
    const all = { mutants: 0, nsm: 0, destructive: 0, ph: new Set<number>() };
    data.targets.forEach((t, ti) => {
      const layer = { mutants: 0, nsm: 0, ph: new Set<number>() };
      const m = byMatrix.get(t.matrix) ?? { mutants: 0, nsm: 0, destructive: 0, ph: new Set<number>() };
      byMatrix.set(t.matrix, m);
      data.kinds.forEach((_, ki) => {
        const o = data.outcome[ai][ki][ti];
        const d = data.destructive[ai][ki][ti];
        for (let u = 0; u < o.length; u++) {
          if (o[u] === PENDING) continue;
          layer.mutants++;
          if (o[u] > 0) {
            layer.nsm++;
            layer.ph.add(o[u]);
            if (d[u]) m.destructive++;
          }
        }
      });
      m.mutants += layer.mutants;
      m.nsm += layer.nsm;
      for (const p of layer.ph) m.ph.add(p);
      if (t.layer !== null) layers.push({ assay: a.name, layer: t.layer, matrix: t.matrix, mutants: layer.mutants, nsm: layer.nsm, phenotypes: layer.ph.size });
    });
    for (const [matrix, m] of [...byMatrix].sort((x, y) => matrixRank(x[0]) - matrixRank(y[0]))) {
      summary.push({ assay: a.name, matrix, mutants: m.mutants, nsm: m.nsm, nsm_rate: m.mutants ? m.nsm / m.mutants : 0, phenotypes: m.ph.size, destructive_nsm: m.destructive });
      all.mutants += m.mutants;
      all.nsm += m.nsm;
      all.destructive += m.destructive;
      for (const p of m.ph) all.ph.add(p);
    }
    summary.push({ assay: a.name, matrix: 'all', mutants: all.mutants, nsm: all.nsm, nsm_rate: all.mutants ? all.nsm / all.mutants : 0, phenotypes: all.ph.size, destructive_nsm: all.destructive });
  });
  return { summary, layers };
}

/** NSM sets across assays compare mutants (target, unit, kind) done in both. */
function overlaps(data: ReportData): OverlapRow[] {
  const out: OverlapRow[] = [];
  for (let a = 0; a < data.assays.length; a++) {
    for (let b = a + 1; b < data.assays.length; b++) {
      const sa = new Set<number>();
      const sb = new Set<number>();
      const perA: number[] = [];
      const perB: number[] = [];
      let base = 0;
      data.targets.forEach((t, ti) => {
        let ca = 0;
        let cb = 0;
        data.kinds.forEach((_, ki) => {
          const oa = data.outcome[a][ki][ti];
          const ob = data.outcome[b][ki][ti];
          for (let u = 0; u < oa.length; u++) {
            if (oa[u] === PENDING || ob[u] === PENDING) continue;
            const id = base + ki * oa.length + u;
            if (oa[u] > 0) {
              sa.add(id);
              ca++;
            }
            if (ob[u] > 0) {
              sb.add(id);
              cb++;
            }
          }
        });
        base += data.kinds.length * t.gridRows * t.gridCols;
        perA.push(ca);
        perB.push(cb);
      });
      let both = 0;
      for (const x of sa) if (sb.has(x)) both++;
      out.push({ assay_a: data.assays[a].name, assay_b: data.assays[b].name, nsm_a: sa.size, nsm_b: sb.size, both, jaccard: jaccard(sa, sb), r2_per_matrix: rSquared(perA, perB) });
    }
  }
  return out;
}

function complementarity(data: ReportData): ComplementarityRow[] {
  const kMax = data.kinds.indexOf('max');
  const kMin = data.kinds.indexOf('min');
  if (kMax < 0 || kMin < 0) return [];
  const out: ComplementarityRow[] = [];
  data.assays.forEach((a, ai) => {
    data.targets.forEach((t, ti) => {
      const x = data.outcome[ai][kMax][ti];
      const y = data.outcome[ai][kMin][ti];
      let both = 0, maxOnly = 0, minOnly = 0, neither = 0;
      for (let u = 0; u < x.length; u++) {
        if (x[u] === PENDING || y[u] === PENDING) continue;
        if (x[u] > 0 && y[u] > 0) both++;
        else if (x[u] > 0) maxOnly++;
        else if (y[u] > 0) minOnly++;
        else neither++;
      }
      const f = fisherExact(both, maxOnly, minOnly, neither);
      out.push({ assay: a.name, target: t.short, layer: t.layer, matrix: t.matrix, units: both + maxOnly + minOnly + neither, max_and_min: both, max_only: maxOnly, min_only: minOnly, neither, odds_ratio: f.oddsRatio, p: f.p });
    });
  });
  return out;
}

/** Per matrix: each grid row and column tested for more NSM units than the matrix's rate predicts. */
export function axisEnrichment(t: ReportTarget, hit: Uint8Array, done: Uint8Array): Omit<EnrichmentRow, 'assay' | 'target' | 'matrix'>[] {
  let hits = 0;
  let units = 0;
  for (let u = 0; u < hit.length; u++)
    if (done[u]) {
      units++;
      hits += hit[u];
    }
  const rate = units ? hits / units : 0;
  const rows: Omit<EnrichmentRow, 'assay' | 'target' | 'matrix' | 'q'>[] = [];
  const axis = (name: 'row' | 'col', count: number, at: (i: number, j: number) => number, len: number) => {
    for (let i = 0; i < count; i++) {
      let k = 0;
      let n = 0;
      for (let j = 0; j < len; j++) {
        const u = at(i, j);
        if (done[u]) {
          n++;
          k += hit[u];
        }
      }
      if (n === 0) continue;
      const expected = n * rate;
      rows.push({ axis: name, index: i, nsm_units: k, units: n, expected, fold: expected ? k / expected : NaN, p: binomialUpperTail(k, n, rate) });
    }
  };
  axis('row', t.gridRows, (i, j) => i * t.gridCols + j, t.gridCols);
  axis('col', t.gridCols, (i, j) => j * t.gridCols + i, t.gridRows);
  const q = benjaminiHochberg(rows.map((r) => r.p));
  return rows.map((r, i) => ({ ...r, q: q[i] }));
}

function enrichment(data: ReportData): EnrichmentRow[] {
  const out: EnrichmentRow[] = [];
  data.assays.forEach((a, ai) => {
    data.targets.forEach((t, ti) => {
      const { hit, done } = unitHits(data, ai, ti);
      for (const r of axisEnrichment(t, hit, done)) out.push({ assay: a.name, target: t.short, matrix: t.matrix, ...r });
    });
  });
  return out;
}

function words(data: ReportData): { words: WordRow[]; wordMutants: WordMutantRow[] } {
  const out: WordRow[] = [];
  const mutants: WordMutantRow[] = [];
  data.assays.forEach((a, ai) => {
    if (a.type !== 'generate') return; // answers and argmax lists have no words to group by
    for (const where of ['first', 'divergent'] as const) {
      const nsm = new Map<string, number>();
      const ph = new Map<string, Set<number>>();
      const wordOf = new Map<number, string>();
      for (const p of data.phenotypes.values()) {
        if (p.assay !== a.id) continue;
        const w = where === 'first' ? firstWord(p.text) : wordAt(p.text, p.divergeAt);
        wordOf.set(p.id, w);
        if (!w) continue;
        nsm.set(w, (nsm.get(w) ?? 0) + p.count);
        (ph.get(w) ?? ph.set(w, new Set()).get(w)!).add(p.id);
      }
      const top = [...nsm].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, 30);
      for (const [word, n] of top) out.push({ assay: a.name, where, word, nsm: n, phenotypes: ph.get(word)!.size });
      if (where !== 'first') continue;
      // Coordinates of the mutants behind the most common first words (the paper's "writer" group).
      const wanted = new Set(top.slice(0, 5).map(([w]) => w));
      data.targets.forEach((t, ti) => {
        data.kinds.forEach((kind, ki) => {
          const o = data.outcome[ai][ki][ti];
          for (let u = 0; u < o.length; u++) {
            if (o[u] <= 0) continue;
            const w = wordOf.get(o[u]);
            if (w && wanted.has(w)) mutants.push({ assay: a.name, word: w, target: t.short, row: Math.floor(u / t.gridCols) * t.unitRows, col: (u % t.gridCols) * t.unitCols, kind, phenotype: o[u] });
          }
        });
      });
    }
  });
  return { words: out, wordMutants: mutants };
}

export function analyse(data: ReportData): Analyses {
  return { ...summaries(data), overlap: overlaps(data), complementarity: complementarity(data), enrichment: enrichment(data), ...words(data) };
}

/** Row and column order by NSM count (most first), the paper's rearrangement of a map. */
export function sortedOrder(t: ReportTarget, hit: Uint8Array): { rows: number[]; cols: number[] } {
  const rc = new Array<number>(t.gridRows).fill(0);
  const cc = new Array<number>(t.gridCols).fill(0);
  for (let u = 0; u < hit.length; u++)
    if (hit[u]) {
      rc[Math.floor(u / t.gridCols)]++;
      cc[u % t.gridCols]++;
    }
  const order = (c: number[]) => c.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((x) => x[1]);
  return { rows: order(rc), cols: order(cc) };
}
