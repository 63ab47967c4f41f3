/**
 * The statistics of reports and score tables. Distributions come from stdlib (incomplete beta, log-gamma, p-value adjustment);
 * what is assembled here is checked against SciPy by test/report-stats.
 */
import betainc from '@stdlib/math-base-special-betainc';
import gammaln from '@stdlib/math-base-special-gammaln';
import padjust from '@stdlib/stats-padjust';

/**
 * P(X ≥ k) for X ~ Binomial(n, p): the one-sided exact binomial test's p-value. Computed as the regularized
 * incomplete beta I_p(k, n − k + 1), so tiny tails keep their digits (1 − cdf would round them to 0).
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return betainc(p, k, n - k + 1, true, false);
}

/** Benjamini–Hochberg adjusted p-values (q-values), in the order given. */
export function benjaminiHochberg(p: number[]): number[] {
  return p.length ? padjust(p, 'bh') : [];
}

function logChoose(n: number, k: number): number {
  return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1);
}

export interface FisherResult {
  /** sample odds ratio a·d / (b·c), as SciPy's fisher_exact reports it (Infinity when b·c = 0, NaN when 0/0) */
  oddsRatio: number;
  /** two-sided p-value: the probability of tables no more likely than the one observed */
  p: number;
}

/**
 * Fisher's exact test of a 2×2 table [[a, b], [c, d]], two-sided, as SciPy's fisher_exact: the sum of the
 * hypergeometric probabilities of every table with the same margins that is at most as likely as this one
 * (with a relative tolerance of 1e-7 for ties in likelihood).
 */
export function fisherExact(a: number, b: number, c: number, d: number): FisherResult {
  const oddsRatio = b * c === 0 ? (a * d === 0 ? NaN : Infinity) : (a * d) / (b * c);
  const row1 = a + b;
  const col1 = a + c;
  const n = a + b + c + d;
  const lo = Math.max(0, col1 - (n - row1));
  const hi = Math.min(row1, col1);
  const logDenominator = logChoose(n, col1);
  const logPmf = (x: number) => logChoose(row1, x) + logChoose(n - row1, col1 - x) - logDenominator;
  const observed = logPmf(a);
  const cutoff = observed + Math.log1p(1e-7);
  let p = 0;
  for (let x = lo; x <= hi; x++) {
    const l = logPmf(x);
    if (l <= cutoff) p += Math.exp(l);
  }
  return { oddsRatio, p: Math.min(1, p) };
}

export function jaccard(a: Set<number>, b: Set<number>): number {
  if (a.size === 0 && b.size === 0) return NaN;
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  return both / (a.size + b.size - both);
}

/** Squared Pearson correlation of two series (NaN when either is constant). */
export function rSquared(x: number[], y: number[]): number {
  return pearson(x, y) ** 2;
}

/** The normal quantile of 0.975: a 95 % interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson's score interval for a proportion k / n (Wilson, 1927; Brown, Cai and DasGupta, 2001 recommend it for
 * small n): unlike the normal approximation it stays within [0, 1] and is not empty at k = 0 or k = n.
 */
export function wilson(k: number, n: number, z = Z95): { lower: number; upper: number } {
  if (n <= 0) return { lower: NaN, upper: NaN };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // at k = 0 or k = n one bound is exactly 0 or 1; the closed form leaves it a rounding away
  return { lower: k === 0 ? 0 : Math.max(0, centre - half), upper: k === n ? 1 : Math.min(1, centre + half) };
}

/** Mean and sample standard deviation (n − 1; NaN below two values). */
export function meanSd(x: readonly number[]): { mean: number; sd: number } {
  const n = x.length;
  if (n === 0) return { mean: NaN, sd: NaN };
  const mean = x.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, sd: NaN };
  const ss = x.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)) };
}

/** Pearson's r (NaN when either series is constant). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 || y.length !== n) return NaN;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Ranks from 1, ties sharing their average rank (as SciPy's rankdata). */
export function ranks(x: readonly number[]): number[] {
  const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const out = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]] === x[order[i]]) j++;
    for (let k = i; k <= j; k++) out[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation: Pearson's r of the ranks. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(ranks(x), ranks(y));
}
