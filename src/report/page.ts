/**
 * index.html: one self-contained file (styles, script, data and figures inline) that opens from file://.
 * Model text reaches the page only as JSON data read by the script into textContent, or as escaped text in
 * tables; figures are SVG shown through <img>, where no script can run.
 */
import { readFileSync } from 'node:fs';
import { COLOUR_LEGEND, COLOURS, unitColour } from './colour.js';
import type { Analyses } from './analyses.js';
import type { ReportData } from './data.js';
import type { Figure } from './figures.js';
import { mapScale } from './figures.js';

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

export function pageHtml(data: ReportData, an: Analyses, figures: { general: Figure[]; sorted: Figure[] }): string {
  const scale = mapScale(data.targets);
  const payload = {
    kinds: data.kinds,
    assays: data.assays.map((a) => ({ name: a.name, baseline: a.baselineText })),
    targets: data.targets.map((t) => ({ short: t.short, layer: t.layer, matrix: t.matrix, rows: t.rows, cols: t.cols, unitRows: t.unitRows, unitCols: t.unitCols, gridRows: t.gridRows, gridCols: t.gridCols, scale })),
    outcome: data.outcome.map((perKind) => perKind.map((perTarget) => perTarget.map(b64))),
    phenotypes: Object.fromEntries([...data.phenotypes.values()].map((p) => [p.id, { text: p.text, divergeAt: p.divergeAt, divergeEnd: p.divergeEnd, baselineEnd: p.baselineEnd, count: p.count }])),
  };
  const progress = data.done < data.total
    ? `<p class="warn">This screen is in progress: ${data.done.toLocaleString('en')} of ${data.total.toLocaleString('en')} mutants done. Grey units are not run yet; counts and statistics cover the mutants done.</p>`
    : `<p>Complete: ${data.total.toLocaleString('en')} mutants.</p>`;
  const legend = COLOUR_LEGEND.map(([k, label]) => `<span class="key"><i style="background: rgb(${COLOURS[k].join(',')})"></i>${escapeHtml(label)}</span>`).join(' ');
  const enrichedTop = an.enrichment.filter((r) => r.q < 0.05).sort((a, b) => a.p - b.p).slice(0, 60);
  const script = `const COLOURS = ${JSON.stringify(COLOURS)};\n${unitColour.toString()}\n${asset('page.js')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>mutascan report — ${escapeHtml(data.path)}</title>
<style>${asset('page.css')}</style>
</head><body>
<header><h1>mutascan report</h1>
<p class="meta">Store <code>${escapeHtml(data.path)}</code> · model <code>${escapeHtml(data.modelPath)}</code> · backend ${escapeHtml(data.backend)} · made ${escapeHtml(data.createdAt)} · mutascan ${escapeHtml(data.version)}</p>
${progress}</header>
<section><h2>Summary</h2>
${table(an.summary, ['assay', 'matrix', 'mutants', 'nsm', 'nsm_rate', 'phenotypes', 'destructive_nsm'], { nsm_rate: (v: number) => (100 * v).toFixed(2) + ' %' })}
<details><summary>Screen file</summary><pre>${escapeHtml(data.specYaml)}</pre></details></section>
<section id="map-section"><h2>Maps</h2>
<p>Each map is a matrix in its stored layout (rows down, columns across), one pixel block per unit. Hover a unit to see its mutants; click it to compare the output with the baseline's (the first divergent token is marked).</p>
<div class="filters"><label>assay <select id="f-assay"></select></label> <label>kind <select id="f-kind"></select></label> <label>layer <select id="f-layer"></select></label></div>
<p class="legend">${legend}</p>
<div id="viewer" hidden><h3 id="viewer-title"></h3><ul id="viewer-mutants"></ul>
<div class="texts"><div><h4>mutant</h4><p id="pheno-text" class="text"></p></div><div><h4>baseline</h4><p id="baseline-text" class="text"></p></div></div></div>
<div id="maps"></div></section>
<section><h2>Figures</h2>${figures.general.map(figureHtml).join('\n')}</section>
<section><h2>Rearranged maps</h2><p>Rows and columns reordered by their NSM count, most first (the paper's rearrangement).</p><div class="grid">${figures.sorted.map(figureHtml).join('\n')}</div></section>
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
