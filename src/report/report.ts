/**
 * `mutascan report`: a store turned into figures (SVG + PNG), tables (CSV) and one page (index.html).
 */
import { outputFailure, writeWhole } from '../util/output.js';
import { makeDirs } from '../util/dirs.js';
import { join } from 'node:path';
import { csvCell } from '../store/export.js';
import type { Store } from '../store/store.js';
import { analyse, sortedOrder, unitHits, type Analyses } from './analyses.js';
import { complementarityChart, enrichmentChart, gainChart, predictedMarginChart, layerBars, overlapHeatmap, phenotypeLayout, styleBars, summaryBars, valueHistogram, wordBars, type HistogramRow } from './charts.js';
import { phenotypeFamilies, type AssayPhenotypes } from '../phenotypes/families.js';
import { phenotypeRecord } from '../phenotypes/record.js';
import { familyMutants, styleEnrichment, type FamilyMutantRow, type StyleEnrichmentRow } from './phenotype-analyses.js';
import { loadReportData, type ReportData } from './data.js';
import { accuracyScale, klScale, mapFigure, mapPixels, overviewFigure, render, valuePixels, type Figure } from './figures.js';
import { pageHtml } from './page.js';
import { predictionAnalyses } from './prediction-analyses.js';
import { replicateSection } from './replicates.js';

export interface ReportResult {
  dir: string;
  figures: number;
  tables: number;
  data: ReportData;
  analyses: Analyses;
}

/** File-name part made of a user-given name (assay names come from the screen file). */
function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || '_';
}

function csv<T extends object>(rows: T[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]) as (keyof T)[];
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

/** Per matrix type, counts of a measured value in equal bins (on log10 for KL; KL of 0 goes in the lowest bin). */
function histogram(data: ReportData, ai: number, log: boolean, bins = 30): { rows: HistogramRow[]; lo: number; hi: number } {
  const byMatrix = new Map<string, number[]>();
  data.values[ai]!.forEach((perTarget) =>
    perTarget.forEach((vals, ti) => {
      const m = data.targets[ti].matrix;
      const list = byMatrix.get(m) ?? byMatrix.set(m, []).get(m)!;
      for (const v of vals) if (!Number.isNaN(v)) list.push(v);
    }),
  );
  // Loops, not Math.min(...xs): a screen has millions of values, more than a call's arguments can hold.
  let smallestPositive = Infinity;
  for (const vs of byMatrix.values()) for (const v of vs) if (v > 0 && v < smallestPositive) smallestPositive = v;
  const floor = Number.isFinite(smallestPositive) ? smallestPositive : 1e-12;
  const tr = (v: number) => (log ? Math.log10(Math.max(v, floor)) : v);
  let lo = Infinity;
  let hi = -Infinity;
  for (const vs of byMatrix.values())
    for (const v of vs) {
      lo = Math.min(lo, tr(v));
      hi = Math.max(hi, tr(v));
    }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  const width = hi > lo ? (hi - lo) / bins : 1;
  const rows: HistogramRow[] = [];
  for (const [matrix, vs] of byMatrix) {
    const counts = new Array<number>(bins).fill(0);
    for (const v of vs) counts[Math.min(bins - 1, Math.floor((tr(v) - lo) / width))]++;
    counts.forEach((n, i) => n && rows.push({ matrix, bin_start: lo + i * width, bin_end: lo + (i + 1) * width, mutants: n }));
  }
  return { rows, lo, hi };
}

export interface ReportOptions {
  /** the screen's model on this machine, for the phenotypes' embeddings (default: the path in the store) */
  model?: string;
  tokenizer?: string;
  /** skip embeddings, clusters and layout */
  noEmbed?: boolean;
}

/** What the page shows besides the maps: statistics and the phenotypes' families (the static report and the live view alike). */
export async function analysePage(store: Store, data: ReportData, o: ReportOptions): Promise<{ an: Analyses; families: AssayPhenotypes[]; styleRows: StyleEnrichmentRow[]; familyRows: FamilyMutantRow[] }> {
  const an = analyse(data);
  const families = await phenotypeFamilies(store, { model: o.model, tokenizer: o.tokenizer, noEmbed: o.noEmbed });
  return { an, families, styleRows: styleEnrichment(data, families), familyRows: familyMutants(store, families) };
}

export async function writeReport(store: Store, dir: string, log: (line: string) => void = () => {}, o: ReportOptions = {}): Promise<ReportResult> {
  try {
    makeDirs(join(dir, 'figures'));
    makeDirs(join(dir, 'tables'));
  } catch (e) {
    outputFailure(e, dir, 'report folder', 'choose an --out folder you can write to', 'create');
  }
  const data = loadReportData(store);
  log(`read ${data.done.toLocaleString('en')} of ${data.total.toLocaleString('en')} mutants, ${data.phenotypes.size} phenotypes`);
  const { an, families, styleRows, familyRows } = await analysePage(store, data, o);
  for (const a of families) {
    if (a.note) log(`phenotypes of assay ${a.assay}: ${a.note}`);
    else log(`phenotypes of assay ${a.assay}: ${a.families.length} in ${a.clusters} clusters`);
  }

  const predicted = predictionAnalyses(store);
  const replicates = await replicateSection(store, data, slug);
  for (const r of replicates?.summaries ?? []) log(`replicates of assay ${r.assay}: ${r.seeds.length} seeds, ${(100 * r.flip).toFixed(1)} % of one-seed calls flip under another seed`);
  if (predicted) log(`predictions: ${predicted.rows.filter((r) => r.target === 'all').map((r) => `assay ${r.assay}: AUROC ${r.auroc.toFixed(3)}, top 10 % holds ${(100 * r.recall_top10).toFixed(1)} % of the NSMs`).join('; ')}`);
  const tables: [string, object[]][] = [
    ['summary', an.summary], ['layers', an.layers], ['overlap', an.overlap], ['complementarity', an.complementarity],
    ['enrichment', an.enrichment], ['words', an.words], ['word-mutants', an.wordMutants],
    ['phenotypes', families.flatMap((a) => a.families.map(phenotypeRecord))], ['style-enrichment', styleRows], ['families', familyRows],
    ...(predicted ? ([['predictions', predicted.rows]] as [string, object[]][]) : []),
    ...(replicates ? ([['replicates', replicates.rows], ['pairs', replicates.pairs.map((p) => ({ assay: p.assay, pairs: p.pairs, synthetic_nsms: p.syntheticNsms, synthetic_calls: p.syntheticCalls, suppressors: p.suppressors, suppressor_calls: p.suppressorCalls, calls: p.calls, both_silent_calls: p.bothSilentCalls, additive_r: p.additive?.r ?? null, epistasis_mean: p.additive?.meanEpistasis ?? null, epistasis_sd: p.additive?.sdEpistasis ?? null }))]] as [string, object[]][]) : []),
  ];
  const again = 'run `mutascan report` again (the store is not touched)';
  const write = (path: string, data: string | Uint8Array): void => writeWhole(path, data, 'report', again);
  for (const [name, rows] of tables) write(join(dir, 'tables', `${name}.csv`), csv(rows));

  const general: Figure[] = [];
  const sorted: Figure[] = [];
  const maps: Figure[] = [];
  const phenotypeFigures: Figure[] = [];
  const predictionFigures: Figure[] = [];
  for (const a of data.assays) {
    const gain = predicted?.gain.filter((g) => g.assay === a.name);
    if (!gain?.length) continue;
    predictionFigures.push(await render(`gain-${slug(a.name)}`, `NSMs found against mutants screened in predicted order — ${a.name}`, gainChart(a.name, gain)));
    predictionFigures.push(await render(`predicted-${slug(a.name)}`, `Predicted margins of NSMs and silent mutants — ${a.name}`, predictedMarginChart(a.name, predicted!.margins.filter((m) => m.assay === a.name))));
  }
  general.push(await render('summary', 'NSM rate per matrix type and assay', summaryBars(an.summary)));
  if (an.overlap.length) general.push(await render('overlap', 'Overlap of NSM sets between assays', overlapHeatmap(an.overlap)));
  for (const [ai, a] of data.assays.entries()) {
    const s = slug(a.name);
    general.push(await overviewFigure(`maps-${s}`, `All maps — assay ${a.name}`, data, ai));
    const layers = an.layers.filter((r) => r.assay === a.name);
    if (layers.length) general.push(await render(`layers-${s}`, `NSMs and phenotypes per layer — ${a.name}`, layerBars(a.name, layers)));
    const comp = an.complementarity.filter((r) => r.assay === a.name);
    if (comp.length) general.push(await render(`complementarity-${s}`, `Max/min complementarity — ${a.name}`, complementarityChart(a.name, comp)));
    general.push(await render(`enrichment-${s}`, `Rows and columns enriched in NSMs — ${a.name}`, enrichmentChart(a.name, an.enrichment.filter((r) => r.assay === a.name), data.targets.map((t) => t.short))));
    if (data.values[ai]) {
      const isChoice = a.type === 'choice';
      const h = histogram(data, ai, !isChoice);
      const what = isChoice ? 'accuracy change' : 'mean KL (nats)';
      general.push(await render(`distribution-${s}`, `Distribution of ${what} — ${a.name}`, valueHistogram(a.name, what, h.rows, !isChoice)));
      const scale = isChoice ? accuracyScale(Math.max(Math.abs(h.lo), Math.abs(h.hi))) : klScale(10 ** h.lo, 10 ** h.hi);
      general.push(await overviewFigure(`values-${s}`, `Maps of ${what} — assay ${a.name}`, data, ai, (ti) => valuePixels(data, ai, ti, scale), scale.describe));
    }
    for (const where of ['first', 'divergent'] as const) {
      const w = an.words.filter((r) => r.assay === a.name && r.where === where);
      if (w.length) general.push(await render(`words-${where}-${s}`, `${where === 'first' ? 'First word' : 'Word at the divergence'} of NSM outputs — ${a.name}`, wordBars(a.name, where, w)));
    }
    const ph = families.find((x) => x.assay === a.name);
    if (ph?.families.length && ph.families[0].x !== null)
      phenotypeFigures.push(
        await render(`phenotypes-${s}`, `Phenotypes laid out by the unmutated model's reading (UMAP, colour = cluster) — ${a.name}`, phenotypeLayout(a.name, ph.families.map((f) => ({ phenotype: f.id, x: f.x!, y: f.y!, cluster: String(f.cluster), mutants: f.mutants, styles: f.styles.join(' ') || (f.likeBaseline ? 'like the baseline' : 'none'), excerpt: f.excerpt })))),
      );
    const bars = styleRows.filter((r) => r.assay === a.name && r.group === 'matrix').map((r) => ({ matrix: r.value, style: r.style, nsm: r.with_style }));
    if (bars.length) phenotypeFigures.push(await render(`styles-${s}`, `NSMs by the style of their output — ${a.name}`, styleBars(a.name, bars)));
    for (const [ti, t] of data.targets.entries()) {
      maps.push(await mapFigure(`map-${s}-${t.short}`, `${t.short} — ${a.name}`, t, mapPixels(data, ai, ti), { x: 'column', y: 'row' }));
      const order = sortedOrder(t, unitHits(data, ai, ti).hit);
      sorted.push(await mapFigure(`map-sorted-${s}-${t.short}`, `${t.short} rearranged — ${a.name}`, t, mapPixels(data, ai, ti, order), { x: 'columns by NSM count', y: 'rows by NSM count' }));
    }
    log(`assay ${a.name}: ${data.targets.length} maps drawn`);
  }
  const replicateFigures = replicates?.figures ?? [];
  for (const f of [...general, ...phenotypeFigures, ...predictionFigures, ...replicateFigures, ...maps, ...sorted]) {
    write(join(dir, 'figures', `${f.name}.svg`), f.svg);
    write(join(dir, 'figures', `${f.name}.png`), f.png);
  }
  write(join(dir, 'index.html'), pageHtml(data, an, { general, sorted, phenotypes: phenotypeFigures, predictions: predicted && { figures: predictionFigures, rows: predicted.rows }, replicates }, { families, styleRows, familyRows }));
  return { dir, figures: general.length + phenotypeFigures.length + predictionFigures.length + replicateFigures.length + maps.length + sorted.length, tables: tables.length, data, analyses: an };
}
