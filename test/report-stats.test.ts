/**
 * The report's statistics against SciPy (test/reference/stats_reference.py on Debian's python3-scipy), on
 * cases drawn at random (seeded) plus the edges: tiny tails, empty cells, lopsided tables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { benjaminiHochberg, binomialUpperTail, fisherExact, jaccard, meanSd, pearson, rSquared, spearman, wilson } from '../src/util/stats.js';
import { PYTHON, ROOT } from './helpers.js';
import { seededRandom } from '../src/util/random.js';

const close = (got: number, want: number, rel: number, what: string) => {
  if (want === 0) assert.ok(Math.abs(got) < 1e-300, `${what}: ${got} vs 0`);
  else assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: ${got} vs SciPy ${want} (relative ${Math.abs(got - want) / Math.abs(want)})`);
};

test('binomial tail, Fisher exact, BH, R², Wilson intervals, Pearson and Spearman r, SD equal SciPy', () => {
  const r = seededRandom(7);
  const int = (n: number) => Math.floor(r() * n);
  const binom: [number, number, number][] = [[64, 64, 0.055], [40, 64, 0.055], [0, 10, 0.3], [1, 1, 0.5], [172, 172, 0.01], [3, 4096, 0.0001]];
  for (let i = 0; i < 40; i++) {
    const n = 1 + int(500);
    binom.push([int(n + 1), n, 0.001 + r() * 0.9]);
  }
  const fisher: [number, number, number, number][] = [[3, 1, 1, 3], [0, 5, 5, 0], [10, 0, 0, 10], [0, 0, 0, 7], [32, 34, 64, 126], [500, 20, 30, 3546], [1, 2, 3, 4000]];
  for (let i = 0; i < 30; i++) fisher.push([int(300), int(300), int(300), int(3000)]);
  const bh: number[][] = [[0.01, 0.04, 0.03, 0.2, 0.5, 0.001], [1e-30, 0.5, 0.5, 0.9]];
  for (let i = 0; i < 5; i++) bh.push(Array.from({ length: 5 + int(60) }, () => r() ** 3));
  const r2: [number[], number[]][] = [];
  for (let i = 0; i < 5; i++) {
    const x = Array.from({ length: 35 }, () => int(1000));
    r2.push([x, x.map((v) => v * (0.5 + r()) + int(200))]);
  }
  // score tables: Wilson intervals at the edges and at random, correlations with ties (NSM fractions tie a lot)
  const wil: [number, number][] = [[0, 1], [1, 1], [0, 8], [8, 8], [3, 8], [1, 100], [50, 100]];
  for (let i = 0; i < 20; i++) {
    const n = 1 + int(64);
    wil.push([int(n + 1), n]);
  }
  const corr: [number[], number[]][] = [];
  for (let i = 0; i < 6; i++) {
    const x = Array.from({ length: 40 }, () => int(9) / 8);
    corr.push([x, x.map((v) => (i % 2 ? Math.round(8 * (v * 0.6 + r() * 0.4)) / 8 : v * 2 + r()))]);
  }
  const sd = [[1, 2, 3, 4], [0.5, 0.5, 0.7], Array.from({ length: 8 }, () => r() - 0.5)];
  const py = spawnSync(PYTHON, [join(ROOT, 'test', 'reference', 'stats_reference.py')], { input: JSON.stringify({ binom, fisher, bh, r2, wilson: wil, corr, sd }), encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const want = JSON.parse(py.stdout) as { binom: number[]; fisher: [number | null, number][]; bh: number[][]; r2: number[]; wilson: [number, number][]; pearson: number[]; spearman: number[]; sd: number[] };
  wil.forEach(([k, n], i) => {
    const w = wilson(k, n);
    assert.ok(Math.abs(w.lower - want.wilson[i][0]) < 1e-12, `Wilson lower of ${k}/${n}: ${w.lower} vs SciPy ${want.wilson[i][0]}`);
    assert.ok(Math.abs(w.upper - want.wilson[i][1]) < 1e-12, `Wilson upper of ${k}/${n}: ${w.upper} vs SciPy ${want.wilson[i][1]}`);
  });
  corr.forEach(([x, y], i) => {
    close(pearson(x, y), want.pearson[i], 1e-9, `Pearson r case ${i}`);
    close(spearman(x, y), want.spearman[i], 1e-9, `Spearman r case ${i}`);
  });
  sd.forEach((x, i) => close(meanSd(x).sd, want.sd[i], 1e-12, `sd case ${i}`));

  binom.forEach(([k, n, p], i) => close(binomialUpperTail(k, n, p), want.binom[i], 1e-9, `P(X ≥ ${k}) for Binomial(${n}, ${p})`));
  fisher.forEach(([a, b, c, d], i) => {
    const f = fisherExact(a, b, c, d);
    const [odds, p] = want.fisher[i];
    if (odds === null) assert.ok(!Number.isFinite(f.oddsRatio), `odds ratio of ${[a, b, c, d]}: ${f.oddsRatio}, SciPy ${odds}`);
    else close(f.oddsRatio, odds, 1e-12, `odds ratio of ${[a, b, c, d]}`);
    close(f.p, p, 1e-6, `Fisher p of ${[a, b, c, d]}`);
  });
  bh.forEach((p, i) => benjaminiHochberg(p).forEach((q, j) => close(q, want.bh[i][j], 1e-12, `BH q ${j} of case ${i}`)));
  r2.forEach(([x, y], i) => close(rSquared(x, y), want.r2[i], 1e-9, `R² case ${i}`));
  // Tiny tails keep their digits instead of rounding to 0 (SciPy: 1.13e-81 for 64 of 64 at rate 0.055).
  assert.ok(binomialUpperTail(64, 64, 0.055) > 0);
});

test('Jaccard of NSM sets', () => {
  // Worked by hand: {1,2,3} and {2,3,4,5} share 2 of 5.
  assert.equal(jaccard(new Set([1, 2, 3]), new Set([2, 3, 4, 5])), 2 / 5);
  assert.equal(jaccard(new Set([1]), new Set([2])), 0);
  assert.ok(Number.isNaN(jaccard(new Set(), new Set())));
});
