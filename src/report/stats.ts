/**
 * The report's statistics. Distributions come from stdlib (incomplete beta, log-gamma, p-value adjustment);
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
  return sxx === 0 || syy === 0 ? NaN : (sxy * sxy) / (sxx * syy);
}
