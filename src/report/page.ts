/**
 * index.html: one self-contained file (styles, script, data and figures inline) that opens from file://.
 * Model text reaches the page only as JSON data read by the script into textContent, or as escaped text in
 * tables; figures are SVG shown through <img>, where no script can run.
 */
import { readFileSync } from 'node:fs';
import { replicateHtml, type ReplicateSection } from './replicates.js';
import { COLOUR_LEGEND, COLOURS, unitColour } from './colour.js';
import type { Analyses } from './analyses.js';
import type { ReportData, ReportPhenotype } from './data.js';
import type { PredictionRow } from './prediction-analyses.js';
import type { Figure } from './figures.js';
import { mapScale } from './figures.js';
import type { AssayPhenotypes } from '../phenotypes/families.js';
import { STYLE_RULES, STYLES } from '../phenotypes/styles.js';
import type { FamilyMutantRow, StyleEnrichmentRow } from './phenotype-analyses.js';

/**
 * The one policy of the report page, as a meta tag in the static file and as a header from `mutascan serve`:
 * nothing but the page's own inline script and styles, images from data: URLs (and the report folder's own
 * files), and network requests only back to the server that sent the page (its event stream).
 */
export const REPORT_CSP = "default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

/** A phenotype as the page holds it: the store's fields the viewer shows, its styles and cluster. */
export interface PagePhenotype {
  text: string;
  divergeAt: number;
  divergeEnd: number;
  baselineEnd: number;
  count: number;
  styles: string[];
  cluster: number | null;
}

export function pagePhenotype(p: ReportPhenotype, family: { styles: readonly string[]; cluster: number | null } | undefined): PagePhenotype {
  return { text: p.text, divergeAt: p.divergeAt, divergeEnd: p.divergeEnd, baselineEnd: p.baselineEnd, count: p.count, styles: [...(family?.styles ?? [])], cluster: family?.cluster ?? null };
}

/** What turns the report page into the live view: where its events come from and where it stands. */
export interface LiveSource {
  /** URL of the store's event stream */
  events: string;
  /** the last update the page's data includes */
  seq: number;
  /** progress, rates and processes as of the page's data (the event stream's `progress` shape) */
  progress: object;
}

/** Map colour of a unit whose NSMs are all of other styles than the one chosen. */
const DIM = [222, 222, 236];

const asset = (name: string) => readFileSync(new URL(`../../assets/report/${name}`, import.meta.url), 'utf8');

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside <script type="application/json">: nothing in it may close the element or open a comment. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function table<T extends object>(rows: T[], columns: (keyof T)[], format: Partial<Record<keyof T, (v: never) => string>> = {}): string {
  const head = columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${columns.map((c) => `<td>${escapeHtml(format[c] ? format[c]!(r[c] as never) : fmt(r[c]))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(3);
  return String(v);
}

function figureHtml(f: Figure): string {
  return `<figure class="chart" id="fig-${escapeHtml(f.name)}"><img alt="${escapeHtml(f.title)}" src="data:image/svg+xml;base64,${Buffer.from(f.svg).toString('base64')}"><figcaption>${escapeHtml(f.title)} · <a href="figures/${escapeHtml(f.name)}.svg">SVG</a> · <a href="figures/${escapeHtml(f.name)}.png">PNG</a></figcaption></figure>`;
}

function b64(a: Int32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Predicted against observed: how well `mutascan predict`'s first-order margins rank the screened mutants. */
function predictionSection(p: { figures: Figure[]; rows: PredictionRow[] }): string {
  const pct = (v: number): string => (Number.isNaN(v) ? '' : (100 * v).toFixed(1) + ' %');
  return `<section id="prediction-section"><h2>Predicted against observed</h2>
<p>Before screening, <code>mutascan predict</code> gave every mutant a first-order predicted margin: the lowest over the baseline's steps of the step's margin plus the gradient of that margin times the change the mutation writes (below 0: predicted to change the output). Here those predictions meet the screen: AUROC of ranking NSMs above silent mutants, and the share of all NSMs among the top 1 % and 10 % of the ranking (per matrix: <code>tables/predictions.csv</code>).</p>
${table(p.rows, ['assay', 'target', 'mutants', 'nsm', 'auroc', 'recall_top1', 'recall_top10', 'predicted_nsm', 'precision'], { recall_top1: pct, recall_top10: pct, precision: pct })}
${p.figures.map(figureHtml).join('\n')}</section>`;
}

export function pageHtml(data: ReportData, an: Analyses, figures: { general: Figure[]; sorted: Figure[]; phenotypes: Figure[]; predictions?: { figures: Figure[]; rows: PredictionRow[] }; replicates?: ReplicateSection }, ph: { families: AssayPhenotypes[]; styleRows: StyleEnrichmentRow[]; familyRows: FamilyMutantRow[] }, live?: LiveSource): string {
  const scale = mapScale(data.targets);
  const byId = new Map(ph.families.flatMap((a) => a.families.map((f) => [f.id, f] as const)));
  const payload = {
    kinds: data.kinds,
    assays: data.assays.map((a) => ({ name: a.name, baseline: a.baselineText })),
    targets: data.targets.map((t) => ({ short: t.short, layer: t.layer, matrix: t.matrix, rows: t.rows, cols: t.cols, unitRows: t.unitRows, unitCols: t.unitCols, gridRows: t.gridRows, gridCols: t.gridCols, scale })),
    outcome: data.outcome.map((perKind) => perKind.map((perTarget) => perTarget.map(b64))),
    phenotypes: Object.fromEntries([...data.phenotypes.values()].map((p) => [p.id, pagePhenotype(p, byId.get(p.id))])),
    styles: STYLES,
    // per assay (in the order of `assays`): its phenotypes' layout, or null for assays without one
    layouts: data.assays.map((a) => {
      const x = ph.families.find((f) => f.assay === a.name);
      if (!x) return null;
      return { note: x.note ?? null, clusters: x.clusters, points: x.families.filter((f) => f.x !== null).map((f) => ({ id: f.id, x: f.x, y: f.y, cluster: f.cluster, mutants: f.mutants })) };
    }),
    total: data.total,
    done: data.done,
    live: live ?? null,
  };
  const keysOf = new Map<number, string[]>();
  for (const r of ph.familyRows) {
    const l = keysOf.get(r.phenotype) ?? keysOf.set(r.phenotype, []).get(r.phenotype)!;
    l.push(r.key);
  }
  const familyTable = ph.families.flatMap((a) =>
    a.families.slice(0, 15).map((f) => ({
      assay: a.assay, phenotype: f.id, mutants: f.mutants, styles: f.styles.join(' ') || (f.likeBaseline ? 'like the baseline' : '—'), cluster: f.cluster ?? '', similarity: f.similarity ?? '',
      diverges: `${f.baselineWord} → ${f.divergentWord}`, where: f.targets.slice(0, 4).map((t) => `${t.target}×${t.mutants}`).join(' ') + (f.targets.length > 4 ? ' …' : ''),
      mutants_first: (keysOf.get(f.id) ?? []).slice(0, 3).join(' ') + (f.mutants > 3 ? ' …' : ''), excerpt: f.excerpt,
    })),
  );
  const styleTop = ph.styleRows.filter((r) => r.q < 0.05).sort((a, b) => a.p - b.p).slice(0, 40);
  const styleRules = STYLES.map((st) => `<li><strong>${escapeHtml(st)}</strong>: ${escapeHtml(STYLE_RULES[st])}</li>`).join('');
  const progress = data.done < data.total
    ? `<p id="progress" class="warn">This screen is in progress: ${data.done.toLocaleString('en')} of ${data.total.toLocaleString('en')} mutants done. Grey units are not run yet; counts and statistics cover the mutants done.</p>`
    : `<p id="progress">Complete: ${data.total.toLocaleString('en')} mutants.</p>`;
  // the live view's processes and parked batches, filled by the script from the event stream
  const liveBlock = live
    ? `<p class="meta">Live: maps, counts and the phenotype viewer follow the store as runs write it; tables and statistics below are as of loading the page (reload for newer ones). Figures and the phenotypes' layout: <code>mutascan report</code>.</p>
<table id="live-runs" hidden><thead><tr><th>process</th><th>alive</th><th>mutants</th><th>mutants/s</th></tr></thead><tbody></tbody></table>
<ul id="live-parked" class="warn" hidden></ul>`
    : '';
  const legend = COLOUR_LEGEND.map(([k, label]) => `<span class="key"><i style="background: rgb(${COLOURS[k].join(',')})"></i>${escapeHtml(label)}</span>`).join(' ');
  const enrichedTop = an.enrichment.filter((r) => r.q < 0.05).sort((a, b) => a.p - b.p).slice(0, 60);
  const script = `const COLOURS = ${JSON.stringify(COLOURS)};\nconst DIM = ${JSON.stringify(DIM)};\n${unitColour.toString()}\n${asset('page.js')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<title>mutascan ${live ? 'live' : 'report'} — ${escapeHtml(data.path)}</title>
<style>${asset('page.css')}</style>
</head><body>
<header><h1>mutascan ${live ? 'live view' : 'report'}</h1>
<p class="meta">Store <code>${escapeHtml(data.path)}</code> · model <code>${escapeHtml(data.modelPath)}</code> · backend ${escapeHtml(data.backend)} · made ${escapeHtml(data.createdAt)} · mutascan ${escapeHtml(data.version)}</p>
${progress}
${liveBlock}</header>
<section><h2>Summary</h2>
${table(an.summary, ['assay', 'matrix', 'mutants', 'nsm', 'nsm_rate', 'phenotypes', 'destructive_nsm'], { nsm_rate: (v: number) => (100 * v).toFixed(2) + ' %' })}
<details><summary>Screen file</summary><pre>${escapeHtml(data.specYaml)}</pre></details></section>
<section id="map-section"><h2>Maps</h2>
<p>Each map is a matrix in its stored layout (rows down, columns across), one pixel block per unit. Hover a unit to see its mutants; click it to compare the output with the baseline's (the first divergent token is marked).</p>
<div class="filters"><label>assay <select id="f-assay"></select></label> <label>kind <select id="f-kind"></select></label> <label>layer <select id="f-layer"></select></label> <label>style <select id="f-style"></select></label></div>
<p class="legend">${legend} <span class="key" id="style-key" hidden><i style="background: rgb(${DIM.join(',')})"></i>NSM of another style</span></p>
<div id="viewer" hidden><h3 id="viewer-title"></h3><ul id="viewer-mutants"></ul>
<div class="texts"><div><h4>mutant</h4><p id="pheno-text" class="text"></p></div><div><h4>baseline</h4><p id="baseline-text" class="text"></p></div></div></div>
<div id="maps"></div></section>
<section id="phenotype-section"><h2>Phenotypes</h2>
<p>Every distinct output (phenotype) with the mutants that make it (its family). Styles come from rules on the text (below); the layout and the clusters from the unmutated model itself: each output is the mean of its tokens' final normed residual when the model reads it, laid out by UMAP and grouped by k-means (seeded, so the same on every run). Hover a point for its text; colour by cluster or by a style.</p>
<div class="filters"><label>assay <select id="p-assay"></select></label> <label>colour by <select id="p-colour"></select></label></div>
<p id="p-note" class="warn" hidden></p>
<svg id="p-layout" viewBox="0 0 640 420" width="640" height="420" role="img" aria-label="phenotype layout"></svg>
<p id="p-legend" class="legend"></p>
<h3>Largest families</h3>
${table(familyTable, ['assay', 'phenotype', 'mutants', 'styles', 'cluster', 'similarity', 'diverges', 'where', 'mutants_first', 'excerpt'])}
<p>Every mutant of the 20 largest families per assay, with its coordinates: <code>tables/families.csv</code>; every phenotype: <code>tables/phenotypes.csv</code>.</p>
<h3>Where each style comes from</h3>
<p>Per style, the matrix types and layers whose NSMs carry it more often than the assay's NSMs overall, and the rows and columns enriched in it (binomial test, Benjamini–Hochberg); the ${styleTop.length} strongest with q &lt; 0.05 (all in <code>tables/style-enrichment.csv</code>).</p>
${styleTop.length ? table(styleTop, ['assay', 'style', 'group', 'target', 'value', 'nsm', 'with_style', 'expected', 'fold', 'p', 'q']) : '<p>No style is enriched anywhere at q &lt; 0.05.</p>'}
<details><summary>The style rules</summary><ul>${styleRules}</ul></details>
${figures.phenotypes.map(figureHtml).join('\n')}</section>
${live ? '' : `<section><h2>Figures</h2>${figures.general.map(figureHtml).join('\n')}</section>
<section><h2>Rearranged maps</h2><p>Rows and columns reordered by their NSM count, most first (the paper's rearrangement).</p><div class="grid">${figures.sorted.map(figureHtml).join('\n')}</div></section>`}
${figures.predictions ? predictionSection(figures.predictions) : ''}
${figures.replicates ? replicateHtml(figures.replicates, (rows, cols, fmt) => table(rows, cols as never[], fmt as never), figureHtml) : ''}
<section><h2>Max/min complementarity</h2>
${an.complementarity.length ? table(an.complementarity, ['assay', 'target', 'units', 'max_and_min', 'max_only', 'min_only', 'neither', 'odds_ratio', 'p']) : '<p>The screen does not have both max and min kinds.</p>'}</section>
<section><h2>Rows and columns enriched in NSMs</h2><p>Binomial test per row and column against the matrix's NSM rate, Benjamini–Hochberg within each matrix; the ${enrichedTop.length} strongest with q &lt; 0.05 (all in <code>tables/enrichment.csv</code>).</p>
${table(enrichedTop, ['assay', 'target', 'axis', 'index', 'nsm_units', 'units', 'expected', 'fold', 'p', 'q'])}</section>
<section><h2>Between assays</h2>${an.overlap.length ? table(an.overlap, ['assay_a', 'assay_b', 'nsm_a', 'nsm_b', 'both', 'jaccard', 'r2_per_matrix']) : '<p>One assay only.</p>'}</section>
<section><h2>Phenotype groups</h2>${table(an.words.filter((w) => w.where === 'first').slice(0, 30), ['assay', 'word', 'nsm', 'phenotypes'])}</section>
<div id="tooltip" hidden></div>
<script type="application/json" id="report-data">${scriptJson(payload)}</script>
<script>${script}</script>
</body></html>
`;
}
