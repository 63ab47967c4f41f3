/** The report's charts as Vega-Lite specifications over the analyses' tables. */
import type { TopLevelSpec } from 'vega-lite';
import type { ComplementarityRow, EnrichmentRow, LayerRow, OverlapRow, SummaryRow, WordRow } from './analyses.js';
import { MATRIX_ORDER } from './data.js';
import type { GainPoint, MarginQuantile } from './prediction-analyses.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const matrixSort = MATRIX_ORDER;

/** Per-layer bars of NSM counts and of distinct phenotypes, one panel per matrix type. */
export function layerBars(assay: string, rows: LayerRow[]): TopLevelSpec {
  const panel = (field: 'nsm' | 'phenotypes', title: string) => ({
    title,
    data: { values: rows },
    facet: { column: { field: 'matrix', type: 'nominal', sort: matrixSort, title: null } },
    spec: {
      width: 90,
      height: 120,
      mark: { type: 'bar', color: field === 'nsm' ? '#d62728' : '#1f77b4' },
      encoding: {
        x: { field: 'layer', type: 'ordinal', title: 'layer' },
        y: { field, type: 'quantitative', title: field === 'nsm' ? 'NSMs' : 'distinct phenotypes' },
        tooltip: [{ field: 'matrix' }, { field: 'layer' }, { field, type: 'quantitative' }, { field: 'mutants', type: 'quantitative' }],
      },
    },
  });
  return {
    $schema: SCHEMA,
    title: { text: `NSMs and distinct phenotypes per layer and matrix — assay ${assay}` },
    vconcat: [panel('nsm', 'NSMs'), panel('phenotypes', 'distinct phenotypes')],
  } as TopLevelSpec;
}

export function summaryBars(rows: SummaryRow[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: 'NSM rate per matrix type and assay',
    data: { values: rows.filter((r) => r.matrix !== 'all') },
    mark: 'bar',
    width: 320,
    encoding: {
      y: { field: 'matrix', type: 'nominal', sort: matrixSort, title: null },
      yOffset: { field: 'assay' },
      x: { field: 'nsm_rate', type: 'quantitative', title: 'share of mutants that are NSMs', axis: { format: '%' } },
      color: { field: 'assay', type: 'nominal' },
    },
  } as TopLevelSpec;
}

export function overlapHeatmap(rows: OverlapRow[]): TopLevelSpec {
  const cells = rows.flatMap((r) => [
    { a: r.assay_a, b: r.assay_b, jaccard: r.jaccard, r2: r.r2_per_matrix, both: r.both },
    { a: r.assay_b, b: r.assay_a, jaccard: r.jaccard, r2: r.r2_per_matrix, both: r.both },
  ]);
  return {
    $schema: SCHEMA,
    title: 'Overlap of NSM sets between assays (Jaccard; text: NSMs in both)',
    data: { values: cells },
    width: 60 * Math.max(2, Math.ceil(Math.sqrt(cells.length))),
    height: 60 * Math.max(2, Math.ceil(Math.sqrt(cells.length))),
    layer: [
      { mark: 'rect', encoding: { x: { field: 'a', type: 'nominal', title: null }, y: { field: 'b', type: 'nominal', title: null }, color: { field: 'jaccard', type: 'quantitative', scale: { domain: [0, 1], scheme: 'blues' } } } },
      { mark: { type: 'text', color: 'black' }, encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'nominal' }, text: { field: 'both', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** log2 odds ratio of NSM under max vs under min per matrix: below 0 = the two kinds hit different units. */
export function complementarityChart(assay: string, rows: ComplementarityRow[]): TopLevelSpec {
  const values = rows.map((r) => ({
    target: r.target,
    matrix: r.matrix,
    log2_odds: Number.isFinite(r.odds_ratio) && r.odds_ratio > 0 ? Math.log2(r.odds_ratio) : r.odds_ratio === 0 ? -10 : r.odds_ratio === Infinity ? 10 : null,
    significant: r.p < 0.05 ? 'p < 0.05' : 'n.s.',
    p: r.p,
    max_and_min: r.max_and_min,
    max_only: r.max_only,
    min_only: r.min_only,
  }));
  return {
    $schema: SCHEMA,
    title: { text: `Max/min complementarity per matrix — assay ${assay}`, subtitle: "log2 odds ratio of the 2×2 table (NSM under max × NSM under min), Fisher's exact test; ±10 = infinite" },
    data: { values },
    width: Math.max(300, values.length * 12),
    height: 180,
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      x: { field: 'target', type: 'nominal', sort: null, title: null },
      y: { field: 'log2_odds', type: 'quantitative', title: 'log2 odds ratio' },
      color: { field: 'significant', type: 'nominal', scale: { domain: ['p < 0.05', 'n.s.'], range: ['#d62728', '#999999'] }, title: null },
      tooltip: [{ field: 'target' }, { field: 'max_and_min' }, { field: 'max_only' }, { field: 'min_only' }, { field: 'p', format: '.3g' }],
    },
  } as TopLevelSpec;
}

/** How many rows and columns of each matrix hold more NSM units than its rate predicts (BH q < 0.05). */
export function enrichmentChart(assay: string, rows: EnrichmentRow[], targets: string[]): TopLevelSpec {
  const counts: { target: string; axis: string; enriched: number }[] = [];
  for (const t of targets) {
    for (const axis of ['row', 'col']) counts.push({ target: t, axis: axis === 'row' ? 'rows' : 'columns', enriched: rows.filter((r) => r.target === t && r.axis === axis && r.q < 0.05).length });
  }
  return {
    $schema: SCHEMA,
    title: { text: `Rows and columns enriched in NSMs — assay ${assay}`, subtitle: 'one-sided binomial test against the matrix NSM rate, Benjamini–Hochberg q < 0.05 within each matrix' },
    data: { values: counts },
    width: Math.max(300, targets.length * 14),
    height: 160,
    mark: 'bar',
    encoding: {
      x: { field: 'target', type: 'nominal', sort: null, title: null },
      xOffset: { field: 'axis' },
      y: { field: 'enriched', type: 'quantitative', title: 'enriched lines' },
      color: { field: 'axis', type: 'nominal', scale: { domain: ['rows', 'columns'], range: ['#ff7f0e', '#17becf'] }, title: null },
    },
  } as TopLevelSpec;
}

export function wordBars(assay: string, where: 'first' | 'divergent', rows: WordRow[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: { text: where === 'first' ? `First word of NSM outputs — assay ${assay}` : `Word at the first divergence of NSM outputs — assay ${assay}` },
    data: { values: rows.slice(0, 25) },
    width: 320,
    mark: { type: 'bar', color: '#9467bd' },
    encoding: {
      y: { field: 'word', type: 'nominal', sort: '-x', title: null },
      x: { field: 'nsm', type: 'quantitative', title: 'NSMs' },
      tooltip: [{ field: 'word' }, { field: 'nsm' }, { field: 'phenotypes' }],
    },
  } as TopLevelSpec;
}

export interface HistogramRow { matrix: string; bin_start: number; bin_end: number; mutants: number }

/** Distribution of a measured value per matrix type, from pre-binned counts (millions of mutants stay small). */
export function valueHistogram(assay: string, what: string, rows: HistogramRow[], logX: boolean): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: { text: `Distribution of ${what} per matrix type — assay ${assay}` },
    data: { values: rows },
    facet: { row: { field: 'matrix', type: 'nominal', sort: matrixSort, title: null } },
    spec: {
      width: 420,
      height: 60,
      mark: { type: 'bar', color: '#6a51a3' },
      encoding: {
        x: { field: 'bin_start', type: 'quantitative', bin: { binned: true }, title: logX ? `log10 ${what}` : what },
        x2: { field: 'bin_end' },
        y: { field: 'mutants', type: 'quantitative', scale: { type: 'symlog' }, title: 'mutants' },
        tooltip: [{ field: 'matrix' }, { field: 'bin_start' }, { field: 'bin_end' }, { field: 'mutants' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

export interface LayoutPoint { phenotype: number; x: number; y: number; cluster: string; mutants: number; styles: string; excerpt: string }

/** The phenotypes' 2-D layout (UMAP of their embeddings), one point per phenotype sized by its mutants. */
export function phenotypeLayout(assay: string, points: LayoutPoint[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `Phenotypes by what the unmutated model makes of them (UMAP; colour = cluster) — ${assay}`,
    data: { values: points },
    width: 420,
    height: 360,
    mark: { type: 'circle', opacity: 0.7 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'UMAP 1', axis: { labels: false, ticks: false } },
      y: { field: 'y', type: 'quantitative', title: 'UMAP 2', axis: { labels: false, ticks: false } },
      color: { field: 'cluster', type: 'nominal', title: 'cluster' },
      size: { field: 'mutants', type: 'quantitative', scale: { type: 'sqrt' }, title: 'mutants' },
      tooltip: [{ field: 'phenotype' }, { field: 'mutants' }, { field: 'cluster' }, { field: 'styles' }, { field: 'excerpt' }],
    },
  } as TopLevelSpec;
}

/** NSMs of each style per matrix type (a mutant counts under each style of its output). */
export function styleBars(assay: string, rows: { matrix: string; style: string; nsm: number }[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `NSMs by the style of their output, per matrix type — ${assay}`,
    data: { values: rows },
    mark: 'bar',
    width: 360,
    encoding: {
      y: { field: 'matrix', type: 'nominal', sort: matrixSort, title: null },
      yOffset: { field: 'style' },
      x: { field: 'nsm', type: 'quantitative', title: 'NSMs with the style' },
      color: { field: 'style', type: 'nominal' },
      tooltip: [{ field: 'matrix' }, { field: 'style' }, { field: 'nsm' }],
    },
  } as TopLevelSpec;
}

/** NSMs found against mutants screened, in predicted order and (the diagonal) in random order. */
export function gainChart(assay: string, points: GainPoint[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `NSMs found against mutants screened, most likely NSMs first by predicted margin — ${assay}`,
    data: { values: points },
    width: 320,
    height: 240,
    mark: { type: 'line', point: false },
    encoding: {
      x: { field: 'screened', type: 'quantitative', title: 'share of mutants screened', axis: { format: '%' } },
      y: { field: 'found', type: 'quantitative', title: 'share of NSMs found', axis: { format: '%' } },
      color: { field: 'curve', type: 'nominal', title: null, scale: { domain: ['predicted order', 'random order'], range: ['#d62728', '#999999'] } },
      tooltip: [{ field: 'screened', format: '.1%' }, { field: 'found', format: '.1%' }],
    },
  } as TopLevelSpec;
}

/** Where the predicted margins of NSMs and of silent mutants lie (cumulative shares; x on a symmetric log scale). */
export function predictedMarginChart(assay: string, points: MarginQuantile[]): TopLevelSpec {
  const spread = points.map((p) => Math.abs(p.margin)).filter((x) => x > 0).sort((a, b) => a - b);
  const constant = spread.length ? spread[Math.floor(spread.length / 2)] / 10 : 1;
  return {
    $schema: SCHEMA,
    title: `Predicted margins (lowest over the steps; < 0 = predicted NSM) of NSMs and of silent mutants — ${assay}`,
    data: { values: points },
    width: 420,
    height: 240,
    layer: [
      {
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'margin', type: 'quantitative', scale: { type: 'symlog', constant }, title: 'predicted margin (symmetric log scale)' },
          y: { field: 'share', type: 'quantitative', title: 'share of the mutants below it', axis: { format: '%' } },
          color: { field: 'outcome', type: 'nominal', title: null, scale: { domain: ['NSM', 'silent'], range: ['#d62728', '#1f77b4'] } },
          tooltip: [{ field: 'outcome' }, { field: 'margin', format: '.3g' }, { field: 'share', format: '.1%' }],
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { datum: 0 } } },
    ],
  } as TopLevelSpec;
}
