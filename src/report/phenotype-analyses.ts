/**
 * The report's Phenotypes section as tables: where each style's NSMs sit (enrichment per matrix type, per layer,
 * and along rows and columns, with the binomial test and Benjamini–Hochberg the rest of the report uses), and the
 * largest families with the coordinates of their mutants.
 */
import type { AssayPhenotypes } from '../phenotypes/families.js';
import { STYLES, type Style } from '../phenotypes/styles.js';
import type { Store } from '../store/store.js';
import { axisEnrichment, unitHits } from './analyses.js';
import type { ReportData } from './data.js';
import { benjaminiHochberg, binomialUpperTail } from '../util/stats.js';

export interface StyleEnrichmentRow {
  assay: string;
  style: Style;
  /** matrix: per matrix type; layer: per layer; row / col: along a target's grid rows or columns */
  group: 'matrix' | 'layer' | 'row' | 'col';
  target: string;
  value: string;
  nsm: number;
  with_style: number;
  expected: number;
  fold: number;
  p: number;
  q: number;
}

export interface FamilyMutantRow {
  assay: string;
  phenotype: number;
  rank: number;
  key: string;
  target: string;
  row: number;
  col: number;
  kind: string;
}

/** Phenotype id → its styles, for every generate assay. */
export function stylesById(all: AssayPhenotypes[]): Map<number, Style[]> {
  return new Map(all.flatMap((a) => a.families.map((f) => [f.id, f.styles] as [number, Style[]])));
}

/**
 * Per assay and style: is the style more common among the NSMs of a matrix type (or a layer) than among all the
 * assay's NSMs? (mutants counted, under every kind). Along rows and columns: units with an NSM of that style
 * against the target's rate, as the NSM enrichment does; only q < 0.05 kept there.
 */
export function styleEnrichment(data: ReportData, all: AssayPhenotypes[]): StyleEnrichmentRow[] {
  const styles = stylesById(all);
  const out: StyleEnrichmentRow[] = [];
  data.assays.forEach((a, ai) => {
    if (!all.some((x) => x.assay === a.name)) return;
    for (const style of STYLES) {
      const has = (o: number) => o > 0 && (styles.get(o)?.includes(style) ?? false);
      const groups = new Map<string, { group: 'matrix' | 'layer'; value: string; nsm: number; k: number }>();
      let N = 0;
      let K = 0;
      data.targets.forEach((t, ti) => {
        const keys: ['matrix' | 'layer', string][] = [['matrix', t.matrix], ['layer', t.layer === null ? t.matrix : String(t.layer)]];
        for (const per of data.outcome[ai]) {
          const o = per[ti];
          let n = 0;
          let k = 0;
          for (let u = 0; u < o.length; u++)
            if (o[u] > 0) {
              n++;
              if (has(o[u])) k++;
            }
          N += n;
          K += k;
          for (const [group, value] of keys) {
            const g = groups.get(`${group}:${value}`) ?? { group, value, nsm: 0, k: 0 };
            g.nsm += n;
            g.k += k;
            groups.set(`${group}:${value}`, g);
          }
        }
      });
      if (K === 0) continue;
      const rate = K / N;
      const rows = [...groups.values()].filter((g) => g.nsm > 0).map((g) => ({ ...g, expected: g.nsm * rate, p: binomialUpperTail(g.k, g.nsm, rate) }));
      const q = benjaminiHochberg(rows.map((r) => r.p));
      rows.forEach((r, i) => out.push({ assay: a.name, style, group: r.group, target: '', value: r.value, nsm: r.nsm, with_style: r.k, expected: r.expected, fold: r.k / r.expected, p: r.p, q: q[i] }));
      data.targets.forEach((t, ti) => {
        const { done } = unitHits(data, ai, ti);
        const hit = new Uint8Array(done.length);
        for (const per of data.outcome[ai]) for (let u = 0; u < hit.length; u++) if (has(per[ti][u])) hit[u] = 1;
        for (const r of axisEnrichment(t, hit, done))
          if (r.q < 0.05) out.push({ assay: a.name, style, group: r.axis, target: t.short, value: String(r.index), nsm: r.units, with_style: r.nsm_units, expected: r.expected, fold: r.fold, p: r.p, q: r.q });
      });
    }
  });
  return out;
}

/** Every mutant of each assay's `top` largest families, in plan order: the families' coordinates. */
export function familyMutants(store: Store, all: AssayPhenotypes[], top = 20): FamilyMutantRow[] {
  const q = store.db.prepare(
    `SELECT m.key, t.short AS target, m.row, m.col, m.kind FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN targets t ON t.id = m.target_id
     WHERE r.phenotype_id = ? ORDER BY m.id`,
  );
  const out: FamilyMutantRow[] = [];
  for (const a of all)
    a.families.slice(0, top).forEach((f, rank) => {
      for (const m of q.all(f.id) as { key: string; target: string; row: number; col: number; kind: string }[]) out.push({ assay: a.assay, phenotype: f.id, rank: rank + 1, ...m });
    });
  return out;
}
