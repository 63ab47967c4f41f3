/**
 * Scores: a screen read as a measurement. An assay listed with several seeds is stored as one assay per seed
 * (`story@0`, `story@1`, …); here they are put back together as a group, and each mutant gets, per group, the
 * share of replicates in which it is an NSM with a Wilson interval, and the replicates' mean, SD, standard error
 * and t interval of a continuous score. The score table (`export --format scores`) is MaveDB's layout: one row
 * per mutant, named by the grammar of spec/mutant-name.ts, with `score`, `sd`, `se`, `ci_lower`, `ci_upper`, `n`
 * and one column per replicate.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { fail } from '../errors.js';
import { meanSd, pearson, spearman, wilson } from '../util/stats.js';
import type { Store } from './store.js';

/** An assay as the screen file listed it: its replicates (one member when it has one seed). */
export interface AssayGroup {
  name: string;
  type: 'generate' | 'choice' | 'likelihood';
  members: { id: number; name: string; seed: number | null }[];
  /** choice assays: the questions asked (for the interval of one replicate's accuracy) */
  questions: number;
  baselineAccuracy: number | null;
}

/** The continuous scores each type of assay measures, first the default; `nsm` is every type's. */
export const SCORES = {
  generate: ['nsm', 'similarity', 'divergence'],
  likelihood: ['loglik', 'kl_mean', 'kl_max', 'nsm'],
  choice: ['accuracy_change', 'nsm'],
} as const;
export type ScoreName = 'nsm' | 'similarity' | 'divergence' | 'loglik' | 'kl_mean' | 'kl_max' | 'accuracy_change';

/** What each score is, for help texts and docs/scores.md. */
export const SCORE_MEANING: Record<ScoreName, string> = {
  nsm: '1 if the output differs from the baseline (an NSM), else 0; over replicates, the NSM fraction with a Wilson interval',
  similarity: '1 − token Levenshtein distance / longer length, between output and baseline (1 when silent)',
  divergence: 'the first generated token that differs, as a share of the baseline\'s length (1 when silent)',
  loglik: 'the log-likelihood of the scored texts under the mutant minus under the unmutated model, nats (with baseline_of: the baseline continuation, teacher-forced)',
  kl_mean: 'mean over positions of KL(baseline ‖ mutant) of the next-token distributions, nats',
  kl_max: 'max over positions of that KL, nats',
  accuracy_change: 'the share of questions answered right minus the unmutated model\'s',
};

const REPLICATE = /^(.+)@(\d+)$/;

export function assayGroups(store: Store): AssayGroup[] {
  const groups = new Map<string, AssayGroup>();
  for (const a of store.assays()) {
    const m = REPLICATE.exec(a.name);
    const name = m ? m[1] : a.name;
    let g = groups.get(name);
    if (!g) {
      g = { name, type: a.type as AssayGroup['type'], members: [], questions: a.type === 'choice' ? (a.promptIds as number[][]).length : 0, baselineAccuracy: null };
      groups.set(name, g);
    }
    g.members.push({ id: a.id, name: a.name, seed: m ? Number(m[2]) : null });
  }
  for (const g of groups.values())
    if (g.type === 'choice') {
      const acc = store.db.prepare('SELECT accuracy FROM results WHERE mutant_id = 0 AND assay_id = ?').pluck().get(g.members[0].id) as number | undefined;
      g.baselineAccuracy = acc ?? null;
    }
  return [...groups.values()];
}

/** One replicate's measurements of one mutant. */
export interface Measured {
  silent: boolean;
  similarity: number | null;
  firstDivergence: number | null;
  nTokens: number;
  loglik: number | null;
  klMean: number | null;
  klMax: number | null;
  accuracy: number | null;
  accuracyChange: number | null;
}

/** One replicate's value of a score (null where its assay does not measure it). */
export function scoreOf(m: Measured, s: ScoreName): number | null {
  switch (s) {
    case 'nsm':
      return m.silent ? 0 : 1;
    case 'similarity':
      return m.similarity ?? (m.silent ? 1 : null);
    case 'divergence':
      return m.silent || m.firstDivergence === null ? 1 : m.nTokens > 0 ? m.firstDivergence / m.nTokens : 0;
    case 'loglik':
      return m.loglik;
    case 'kl_mean':
      return m.klMean;
    case 'kl_max':
      return m.klMax;
    case 'accuracy_change':
      return m.accuracyChange;
  }
}

/** A mutant's replicates of one group, in the group's member order (null: that replicate not screened yet). */
export interface MutantReplicates {
  /** the mutant's id, or the pair's */
  id: number;
  key: string;
  target: string | null;
  replicates: (Measured | null)[];
}

/** Every mutant with a result in the group (or every pair, with `pairs`), in store order, read a row at a time. */
export function* replicatesOf(store: Store, g: AssayGroup, pairs = false): Generator<MutantReplicates & { a?: number; b?: number }> {
  const index = new Map(g.members.map((m, i) => [m.id, i]));
  const columns = 'r.assay_id, r.silent, r.similarity, r.first_divergence, r.n_tokens, r.loglik_change, r.kl_mean, r.kl_max, r.accuracy, r.accuracy_change';
  const rows = store.db
    .prepare(
      pairs
        ? `SELECT r.pair_id AS id, p.name AS key, NULL AS target, p.a, p.b, ${columns} FROM pair_results r JOIN pairs p ON p.id = r.pair_id
           WHERE r.assay_id IN (${g.members.map((m) => m.id).join(',')}) ORDER BY r.pair_id`
        : `SELECT r.mutant_id AS id, m.key, t.short AS target, ${columns}
           FROM results r JOIN mutants m ON m.id = r.mutant_id LEFT JOIN targets t ON t.id = m.target_id
           WHERE r.assay_id IN (${g.members.map((m) => m.id).join(',')}) ORDER BY r.mutant_id`,
    )
    .iterate() as Iterable<Record<string, number | string | null>>;
  let cur: MutantReplicates | undefined;
  for (const r of rows) {
    if (!cur || cur.id !== r.id) {
      if (cur) yield cur;
      cur = { id: r.id as number, key: r.key as string, target: r.target as string | null, replicates: g.members.map(() => null), ...(pairs ? { a: r.a as number, b: r.b as number } : {}) };
    }
    cur.replicates[index.get(r.assay_id as number)!] = {
      silent: r.silent === 1,
      similarity: r.similarity as number | null,
      firstDivergence: r.first_divergence as number | null,
      nTokens: r.n_tokens as number,
      loglik: r.loglik_change as number | null,
      klMean: r.kl_mean as number | null,
      klMax: r.kl_max as number | null,
      accuracy: r.accuracy as number | null,
      accuracyChange: r.accuracy_change as number | null,
    };
  }
  if (cur) yield cur;
}

/** One row of the score table. */
export interface ScoreRow {
  mutant: string;
  assay: string;
  /** which score `score` is (SCORE_MEANING) */
  score_type: ScoreName;
  score: number | null;
  sd: number | null;
  se: number | null;
  ci_lower: number | null;
  ci_upper: number | null;
  /** replicates measured */
  n: number;
  nsm: number;
  nsm_fraction: number | null;
  nsm_ci_lower: number | null;
  nsm_ci_upper: number | null;
  /** the score under each replicate, in the group's member order */
  replicates: (number | null)[];
  /** pairs: the additive expectation from the two singles (the sum of their scores; log-likelihood scores only) */
  expected: number | null;
  /** pairs: score − expected, averaged over replicates */
  epistasis: number | null;
  /** pairs: synthetic-nsm (an NSM where both singles are silent, under some seed), suppressor (silent where a single is an NSM), both (;), or empty */
  pair_class: string;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The score of one mutant over its replicates: mean, SD, standard error and 95 % interval. */
export function summarise(values: (number | null)[], s: ScoreName, g: AssayGroup): Pick<ScoreRow, 'score' | 'sd' | 'se' | 'ci_lower' | 'ci_upper' | 'n'> {
  const x = values.filter((v): v is number => v !== null);
  const n = x.length;
  if (n === 0) return { score: null, sd: null, se: null, ci_lower: null, ci_upper: null, n };
  const { mean, sd } = meanSd(x);
  if (s === 'nsm') {
    const k = x.reduce((a, b) => a + b, 0);
    const w = wilson(k, n);
    return { score: mean, sd: finite(sd), se: finite(sd / Math.sqrt(n)), ci_lower: w.lower, ci_upper: w.upper, n };
  }
  if (n === 1 && s === 'accuracy_change' && g.questions > 0 && g.baselineAccuracy !== null) {
    // one replicate of a choice assay: the binomial interval of its accuracy over the questions, shifted by the baseline's
    const right = Math.round((mean + g.baselineAccuracy) * g.questions);
    const w = wilson(right, g.questions);
    return { score: mean, sd: null, se: Math.sqrt(((mean + g.baselineAccuracy) * (1 - mean - g.baselineAccuracy)) / g.questions), ci_lower: w.lower - g.baselineAccuracy, ci_upper: w.upper - g.baselineAccuracy, n };
  }
  if (n === 1) return { score: mean, sd: null, se: null, ci_lower: null, ci_upper: null, n };
  const se = sd / Math.sqrt(n);
  const t = tQuantile(0.975, n - 1);
  return { score: mean, sd, se, ci_lower: mean - t * se, ci_upper: mean + t * se, n };
}

/** Checks a score name against the group's type. */
export function scoreFor(g: AssayGroup, s?: string): ScoreName {
  const allowed = SCORES[g.type] as readonly string[];
  if (s === undefined) return allowed[0] as ScoreName;
  if (!allowed.includes(s)) fail(`assay "${g.name}" (${g.type}) has no score "${s}"`, '--score', `its scores: ${allowed.join(', ')}`);
  return s as ScoreName;
}

/** The groups an export or summary covers: all, or the one named. */
export function chosenGroups(store: Store, assay?: string): AssayGroup[] {
  const groups = assayGroups(store);
  if (assay === undefined) return groups;
  const g = groups.find((x) => x.name === assay || x.members.some((m) => m.name === assay));
  if (!g) fail(`the store has no assay "${assay}"`, '--assay', `its assays: ${groups.map((x) => x.name).join(', ')}`);
  return [g.name === assay ? g : { ...g, name: assay, members: g.members.filter((m) => m.name === assay) }];
}

/** The score table's rows: per group, one per mutant with results, then one per pair. */
export function* scoreRows(store: Store, o: { assay?: string; score?: string } = {}): Generator<ScoreRow & { group: AssayGroup }> {
  const groups = chosenGroups(store, o.assay);
  if (o.assay === undefined && o.score !== undefined && !groups.some((g) => (SCORES[g.type] as readonly string[]).includes(o.score!)))
    fail(`no assay exported has the score "${o.score}"`, '--score', `their scores: ${[...new Set(groups.flatMap((g) => SCORES[g.type]))].join(', ')}`);
  const paired = pairedSingles(store);
  for (const g of groups) {
    // a score another type of assay lacks falls back to that type's default when every assay is exported
    const s = o.assay === undefined && o.score !== undefined && !(SCORES[g.type] as readonly string[]).includes(o.score) ? scoreFor(g) : scoreFor(g, o.score);
    // the singles pairs are made of, kept as they pass for the pairs' rows below
    const singles = new Map<number, (Measured | null)[]>();
    for (const m of replicatesOf(store, g)) {
      if (paired.has(m.id)) singles.set(m.id, m.replicates);
      yield { group: g, ...scoreRow(g, s, m), expected: null, epistasis: null, pair_class: '' };
    }
    if (!paired.size) continue;
    for (const m of replicatesOf(store, g, true)) {
      const row = scoreRow(g, s, m);
      const a = singles.get(m.a!);
      const b = singles.get(m.b!);
      const expectedPer = row.replicates.map((v, i) => {
        const x = a?.[i];
        const y = b?.[i];
        return s === 'loglik' && v !== null && x?.loglik != null && y?.loglik != null ? x.loglik + y.loglik : null;
      });
      const known = expectedPer.filter((x): x is number => x !== null);
      const eps = row.replicates.flatMap((v, i) => (v !== null && expectedPer[i] !== null ? [v - expectedPer[i]!] : []));
      yield {
        group: g,
        ...row,
        expected: known.length ? known.reduce((x, y) => x + y, 0) / known.length : null,
        epistasis: eps.length ? eps.reduce((x, y) => x + y, 0) / eps.length : null,
        pair_class: pairClass(m.replicates, a, b),
      };
    }
  }
}

/** The columns a mutant's row and a pair's share: the score over replicates and the NSM fraction. */
function scoreRow(g: AssayGroup, s: ScoreName, m: MutantReplicates): Omit<ScoreRow, 'expected' | 'epistasis' | 'pair_class'> {
  const values = m.replicates.map((r) => (r ? scoreOf(r, s) : null));
  const calls = m.replicates.filter((r): r is Measured => r !== null);
  const nsm = calls.filter((r) => !r.silent).length;
  const w = calls.length ? wilson(nsm, calls.length) : undefined;
  return {
    mutant: m.key,
    assay: g.name,
    score_type: s,
    ...summarise(values, s, g),
    nsm,
    nsm_fraction: calls.length ? nsm / calls.length : null,
    nsm_ci_lower: w?.lower ?? null,
    nsm_ci_upper: w?.upper ?? null,
    replicates: values,
  };
}

/** The ids of the singles the store's pairs are made of (none without pairs). */
function pairedSingles(store: Store): Set<number> {
  if (!store.hasTable('pairs')) return new Set();
  return new Set((store.db.prepare('SELECT a, b FROM pairs').all() as { a: number; b: number }[]).flatMap((p) => [p.a, p.b]));
}

/** The singles' replicates that pairs of the group are made of, by mutant id. */
function singlesOfPairs(store: Store, g: AssayGroup): Map<number, (Measured | null)[]> {
  const wanted = pairedSingles(store);
  const out = new Map<number, (Measured | null)[]>();
  for (const m of replicatesOf(store, g)) if (wanted.has(m.id)) out.set(m.id, m.replicates);
  return out;
}

/** One replicate's call of a pair against its singles': an NSM where both are silent, or silent where one is not. */
function pairCall(p: Measured, x: Measured, y: Measured): { synthetic: boolean; suppressor: boolean } {
  return { synthetic: !p.silent && x.silent && y.silent, suppressor: p.silent && (!x.silent || !y.silent) };
}

/** How a pair's calls stand against its singles', replicate by replicate. */
function pairClass(pair: (Measured | null)[], a?: (Measured | null)[], b?: (Measured | null)[]): string {
  let synthetic = false;
  let suppressor = false;
  pair.forEach((p, i) => {
    const x = a?.[i];
    const y = b?.[i];
    if (!p || !x || !y) return;
    const c = pairCall(p, x, y);
    synthetic ||= c.synthetic;
    suppressor ||= c.suppressor;
  });
  return [synthetic ? 'synthetic-nsm' : '', suppressor ? 'suppressor' : ''].filter(Boolean).join(';');
}

/** What a group's pairs show against their singles. */
export interface PairSummary {
  assay: string;
  /** pairs with a result under every seed */
  pairs: number;
  /** pairs that are NSMs under some seed where both their singles are silent; and the calls (pair × seed) that are */
  syntheticNsms: number;
  syntheticCalls: number;
  /** pairs silent under some seed where one of their singles is an NSM; and the calls that are */
  suppressors: number;
  suppressorCalls: number;
  /** pair × seed calls in all, and those where both singles are silent */
  calls: number;
  bothSilentCalls: number;
  /** log-likelihood groups: observed against the sum of the singles (Pearson r), and the epistasis's mean and SD */
  additive?: { r: number; meanEpistasis: number; sdEpistasis: number; n: number };
}

export function pairSummary(store: Store, g: AssayGroup): PairSummary | undefined {
  if (!store.hasTable('pairs')) return undefined;
  const singles = singlesOfPairs(store, g);
  const out: PairSummary = { assay: g.name, pairs: 0, syntheticNsms: 0, syntheticCalls: 0, suppressors: 0, suppressorCalls: 0, calls: 0, bothSilentCalls: 0 };
  const observed: number[] = [];
  const expected: number[] = [];
  for (const m of replicatesOf(store, g, true)) {
    if (m.replicates.some((r) => r === null)) continue;
    out.pairs++;
    const a = singles.get(m.a!);
    const b = singles.get(m.b!);
    let synthetic = false;
    let suppressor = false;
    m.replicates.forEach((p, i) => {
      const x = a?.[i];
      const y = b?.[i];
      if (!p || !x || !y) return;
      out.calls++;
      if (x.silent && y.silent) out.bothSilentCalls++;
      const c = pairCall(p, x, y);
      if (c.synthetic) {
        synthetic = true;
        out.syntheticCalls++;
      }
      if (c.suppressor) {
        suppressor = true;
        out.suppressorCalls++;
      }
      if (p.loglik !== null && x.loglik !== null && y.loglik !== null) {
        observed.push(p.loglik);
        expected.push(x.loglik + y.loglik);
      }
    });
    if (synthetic) out.syntheticNsms++;
    if (suppressor) out.suppressors++;
  }
  if (observed.length) {
    const eps = observed.map((o, i) => o - expected[i]);
    const { mean, sd } = meanSd(eps);
    out.additive = { r: pearson(observed, expected), meanEpistasis: mean, sdEpistasis: sd, n: observed.length };
  }
  return out.pairs ? out : undefined;
}

/** How a replicated group's calls and scores agree between seeds. */
export interface ReplicateSummary {
  assay: string;
  type: AssayGroup['type'];
  seeds: (number | null)[];
  /** mutants with a result under every seed (the null mutant left out) */
  mutants: number;
  /** mutants by how many seeds call them NSMs: [0 seeds, 1, …, all] */
  nsmCounts: number[];
  /** share of mutants called the same under every seed */
  unanimous: number;
  /** over ordered seed pairs (a, b): the share of mutants whose call under a differs under b */
  flip: number;
  /** …among the mutants seed a calls NSMs: the share seed b calls silent; and the reverse */
  nsmTurnsSilent: number;
  silentTurnsNsm: number;
  /** the median width of the NSM fraction's Wilson interval */
  medianIntervalWidth: number;
  /** the score the correlations are of, and Pearson's and Spearman's r between seeds (mean, min, max over pairs) */
  score: ScoreName;
  pearson: { mean: number; min: number; max: number };
  spearman: { mean: number; min: number; max: number };
  /** per target: mean Pearson and Spearman r over seed pairs, and its mutants' mean NSM fraction */
  targets: { target: string; mutants: number; nsmFraction: number; pearson: number; spearman: number }[];
}

const range = (x: number[]) => ({ mean: x.reduce((a, b) => a + b, 0) / x.length, min: Math.min(...x), max: Math.max(...x) });

/**
 * The agreement of a group's replicates. The correlation is of the group's first continuous score (similarity for
 * generate assays, the log-likelihood change for likelihood assays), or of `score`.
 */
export function replicateSummary(store: Store, g: AssayGroup, score?: string): ReplicateSummary {
  const R = g.members.length;
  const s = score === undefined ? ((SCORES[g.type] as readonly string[]).find((x) => x !== 'nsm') as ScoreName) : scoreFor(g, score);
  const calls: boolean[][] = [];
  const values: number[][] = [];
  const targets: string[] = [];
  for (const m of replicatesOf(store, g)) {
    if (m.id === 0 || m.replicates.some((r) => r === null)) continue;
    const reps = m.replicates as Measured[];
    calls.push(reps.map((r) => !r.silent));
    values.push(reps.map((r) => scoreOf(r, s) ?? NaN));
    targets.push(m.target ?? '');
  }
  const n = calls.length;
  const nsmCounts = new Array<number>(R + 1).fill(0);
  for (const c of calls) nsmCounts[c.filter(Boolean).length]++;
  let differ = 0;
  let nsmA = 0;
  let nsmAsilentB = 0;
  let silentA = 0;
  let silentAnsmB = 0;
  for (const c of calls)
    for (let a = 0; a < R; a++)
      for (let b = 0; b < R; b++) {
        if (a === b) continue;
        if (c[a] !== c[b]) differ++;
        if (c[a]) {
          nsmA++;
          if (!c[b]) nsmAsilentB++;
        } else {
          silentA++;
          if (c[b]) silentAnsmB++;
        }
      }
  const widths = calls.map((c) => {
    const w = wilson(c.filter(Boolean).length, R);
    return w.upper - w.lower;
  });
  widths.sort((a, b) => a - b);
  const corr = (rows: number[]) => {
    const p: number[] = [];
    const r: number[] = [];
    for (let a = 0; a < R; a++)
      for (let b = a + 1; b < R; b++) {
        const x = rows.map((i) => values[i][a]);
        const y = rows.map((i) => values[i][b]);
        p.push(pearson(x, y));
        r.push(spearman(x, y));
      }
    return { p, r };
  };
  const all = corr(values.map((_, i) => i));
  const byTarget = new Map<string, number[]>();
  targets.forEach((t, i) => byTarget.set(t, [...(byTarget.get(t) ?? []), i]));
  const pairs = R * (R - 1);
  return {
    assay: g.name,
    type: g.type,
    seeds: g.members.map((m) => m.seed),
    mutants: n,
    nsmCounts,
    unanimous: n ? (nsmCounts[0] + nsmCounts[R]) / n : NaN,
    flip: n && pairs ? differ / (n * pairs) : NaN,
    nsmTurnsSilent: nsmA ? nsmAsilentB / nsmA : NaN,
    silentTurnsNsm: silentA ? silentAnsmB / silentA : NaN,
    medianIntervalWidth: widths.length ? widths[Math.floor(widths.length / 2)] : NaN,
    score: s,
    pearson: R > 1 ? range(all.p) : { mean: NaN, min: NaN, max: NaN },
    spearman: R > 1 ? range(all.r) : { mean: NaN, min: NaN, max: NaN },
    targets: [...byTarget].map(([target, rows]) => {
      const c = R > 1 ? corr(rows) : { p: [NaN], r: [NaN] };
      return {
        target,
        mutants: rows.length,
        nsmFraction: rows.reduce((a, i) => a + calls[i].filter(Boolean).length / R, 0) / rows.length,
        pearson: range(c.p).mean,
        spearman: range(c.r).mean,
      };
    }),
  };
}

/** The score table's fixed columns; one `seed_<s>` column per seed follows (the score under that replicate). */
export const SCORE_COLUMNS = ['mutant', 'assay', 'score_type', 'score', 'sd', 'se', 'ci_lower', 'ci_upper', 'n', 'nsm', 'nsm_fraction', 'nsm_ci_lower', 'nsm_ci_upper', 'expected', 'epistasis', 'pair_class'] as const;

/** The seeds of the groups exported, for the per-replicate columns (a group of one seed has none). */
export function replicateSeeds(store: Store, assay?: string): number[] {
  const seeds = new Set<number>();
  for (const g of chosenGroups(store, assay)) if (g.members.length > 1) for (const m of g.members) if (m.seed !== null) seeds.add(m.seed);
  return [...seeds].sort((a, b) => a - b);
}
