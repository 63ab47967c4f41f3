/**
 * The report's replicates section: for each assay run under several seeds, how its calls and scores agree —
 * maps of the NSM fraction per unit and of where a one-seed screen's call would differ, scatter plots of one
 * seed's score against another's per target with Pearson's and Spearman's r, and the pairs against their singles.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Store } from '../store/store.js';
import { assayGroups, pairSummary, replicatesOf, replicateSummary, scoreOf, type AssayGroup, type Measured, type PairSummary, type ReplicateSummary, type ScoreName } from '../store/scores.js';
import { seededRandom } from '../util/random.js';
import { pearson, spearman } from '../util/stats.js';
import { PENDING, SILENT, type ReportData } from './data.js';
import { overviewFigure, render, type Figure } from './figures.js';

export interface ReplicateSection {
  summaries: ReplicateSummary[];
  pairs: PairSummary[];
  figures: Figure[];
  /** per group, target and seed pair: r of the score (tables/replicates.csv) */
  rows: { assay: string; target: string; seed_a: number | null; seed_b: number | null; score: ScoreName; mutants: number; pearson: number; spearman: number }[];
}

const lerp = (a: readonly number[], b: readonly number[], t: number) => [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * Math.min(1, Math.max(0, t)))) as [number, number, number];

/** Per unit: the share of (seed, kind) calls that are NSMs, or NaN where none is stored yet. */
function fractions(data: ReportData, members: number[], ti: number): Float64Array {
  const t = data.targets[ti];
  const out = new Float64Array(t.gridRows * t.gridCols).fill(NaN);
  for (let u = 0; u < out.length; u++) {
    let n = 0;
    let nsm = 0;
    for (const ai of members)
      for (const perKind of data.outcome[ai]) {
        const o = perKind[ti][u];
        if (o === PENDING) continue;
        n++;
        if (o !== SILENT) nsm++;
      }
    if (n) out[u] = nsm / n;
  }
  return out;
}

function pixels(data: ReportData, members: number[], ti: number, colour: (f: number) => [number, number, number]): { width: number; height: number; rgb: Uint8Array } {
  const t = data.targets[ti];
  const f = fractions(data, members, ti);
  const rgb = new Uint8Array(f.length * 3);
  f.forEach((x, u) => rgb.set(Number.isNaN(x) ? [200, 200, 200] : colour(x), u * 3));
  return { width: t.gridCols, height: t.gridRows, rgb };
}

/** At most this many points per scatter plot (a seeded sample of the mutants). */
const MAX_POINTS = 4000;

export async function replicateSection(store: Store, data: ReportData, slug: (s: string) => string): Promise<ReplicateSection | undefined> {
  const all = assayGroups(store);
  const groups = all.filter((g) => g.members.length > 1);
  const pairs = all.flatMap((g) => pairSummary(store, g) ?? []);
  if (!groups.length && !pairs.length) return undefined;
  const figures: Figure[] = [];
  const rows: ReplicateSection['rows'] = [];
  const summaries: ReplicateSummary[] = [];
  for (const g of groups) {
    const s = replicateSummary(store, g);
    summaries.push(s);
    const members = g.members.map((m) => data.assays.findIndex((a) => a.id === m.id)).filter((i) => i >= 0);
    const name = slug(g.name);
    figures.push(await overviewFigure(`replicates-nsm-${name}`, `NSM fraction over ${g.members.length} seeds — ${g.name}`, data, members[0], (ti) => pixels(data, members, ti, (f) => lerp([255, 255, 255], [178, 24, 43], f)), 'share of seeds (and kinds) whose call is an NSM: white 0, dark red 1, grey not run yet'));
    figures.push(
      await overviewFigure(`replicates-flip-${name}`, `Where a one-seed call is a coin — ${g.name}`, data, members[0], (ti) => pixels(data, members, ti, (f) => lerp([255, 255, 255], [230, 97, 1], 2 * Math.min(f, 1 - f))), 'share of seeds whose call differs from the majority\'s: white none (every seed agrees), orange half'),
    );
    const scatter = await concordance(store, g, s.score);
    rows.push(...scatter.rows);
    if (scatter.figure) figures.push(scatter.figure);
  }
  return { summaries, pairs, figures, rows };
}

/** One seed's score against the next seed's, per target, with r over every mutant (the plot shows a sample). */
async function concordance(store: Store, g: AssayGroup, score: ScoreName): Promise<{ rows: ReplicateSection['rows']; figure?: Figure }> {
  const byTarget = new Map<string, number[][]>();
  const pick = (r: Measured | null): number => (r ? (scoreOf(r, score) ?? NaN) : NaN);
  for (const m of replicatesOf(store, g)) {
    if (m.id === 0 || !m.target) continue;
    const v = m.replicates.map(pick);
    if (v.some(Number.isNaN)) continue;
    (byTarget.get(m.target) ?? byTarget.set(m.target, []).get(m.target)!).push(v);
  }
  const rows: ReplicateSection['rows'] = [];
  const points: { target: string; a: number; b: number }[] = [];
  const random = seededRandom(1);
  for (const [target, vals] of byTarget) {
    for (let i = 0; i + 1 < g.members.length; i++) {
      const x = vals.map((v) => v[i]);
      const y = vals.map((v) => v[i + 1]);
      rows.push({ assay: g.name, target, seed_a: g.members[i].seed, seed_b: g.members[i + 1].seed, score, mutants: vals.length, pearson: pearson(x, y), spearman: spearman(x, y) });
    }
    const keep = Math.min(1, MAX_POINTS / vals.length);
    for (const v of vals) if (keep === 1 || random() < keep) points.push({ target, a: v[0], b: v[1] });
  }
  if (!points.length) return { rows };
  const first = rows.filter((r) => r.seed_a === g.members[0].seed);
  const label = new Map(first.map((r) => [r.target, `${r.target} · Pearson r ${r.pearson.toFixed(2)}, Spearman r ${r.spearman.toFixed(2)}`]));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${score} under seed ${g.members[0].seed} against seed ${g.members[1].seed} — ${g.name}`, subtitle: `one point per mutant (at most ${MAX_POINTS} per target shown); r over all of them; every seed pair in tables/replicates.csv` },
    data: { values: points.map((p) => ({ ...p, panel: label.get(p.target) ?? p.target })) },
    facet: { field: 'panel', type: 'nominal', title: null, columns: 4 },
    spec: {
      width: 180,
      height: 180,
      mark: { type: 'circle', size: 8, opacity: 0.35 },
      encoding: {
        x: { field: 'a', type: 'quantitative', title: `seed ${g.members[0].seed}` },
        y: { field: 'b', type: 'quantitative', title: `seed ${g.members[1].seed}` },
      },
    },
  } as TopLevelSpec;
  return { rows, figure: await render(`replicates-scatter-${g.name.replace(/[^A-Za-z0-9._-]+/g, '_')}`, `Replicate concordance — ${g.name}`, spec) };
}

/** The section's HTML: summaries, pair counts and figures. */
export function replicateHtml(sec: ReplicateSection, table: (rows: object[], cols: string[], fmt?: Record<string, (v: number) => string>) => string, figureHtml: (f: Figure) => string): string {
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : '');
  const r3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '');
  const summaryRows = sec.summaries.map((s) => ({
    assay: s.assay, seeds: s.seeds.length, mutants: s.mutants, unanimous: s.unanimous, flip: s.flip, nsm_turns_silent: s.nsmTurnsSilent, silent_turns_nsm: s.silentTurnsNsm,
    interval_width: s.medianIntervalWidth, score: s.score, pearson: s.pearson.mean, spearman: s.spearman.mean,
  }));
  const pairRows = sec.pairs.map((p) => ({ assay: p.assay, pairs: p.pairs, synthetic_nsms: p.syntheticNsms, suppressors: p.suppressors, additive_r: p.additive?.r ?? NaN, epistasis_mean: p.additive?.meanEpistasis ?? NaN, epistasis_sd: p.additive?.sdEpistasis ?? NaN }));
  return `<section id="replicates-section"><h2>Replicates and pairs</h2>
${summaryRows.length ? `<p>Assays run under several seeds: the share of mutants every seed calls alike, the share of one-seed calls another seed flips, the median width of a mutant's 95 % Wilson interval of its NSM fraction, and the mean Pearson and Spearman r of a score between seeds (per target and seed pair: <code>tables/replicates.csv</code>; per mutant: <code>mutascan export --format scores</code>).</p>
${table(summaryRows, ['assay', 'seeds', 'mutants', 'unanimous', 'flip', 'nsm_turns_silent', 'silent_turns_nsm', 'interval_width', 'score', 'pearson', 'spearman'], { unanimous: pct, flip: pct, nsm_turns_silent: pct, silent_turns_nsm: pct, interval_width: r3, pearson: r3, spearman: r3 })}` : ''}
${pairRows.length ? `<p>Double mutants against their singles: synthetic NSMs (an NSM where both singles are silent), suppressors (silent where a single is an NSM), and how well the sum of the singles' log-likelihood changes predicts the pair's.</p>
${table(pairRows, ['assay', 'pairs', 'synthetic_nsms', 'suppressors', 'additive_r', 'epistasis_mean', 'epistasis_sd'], { additive_r: r3, epistasis_mean: r3, epistasis_sd: r3 })}` : ''}
${sec.figures.map(figureHtml).join('\n')}</section>`;
}
