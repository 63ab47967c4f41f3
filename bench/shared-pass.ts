/**
 * npm run bench:shared-pass — the fast path with a likelihood assay of the baselines sharing each generate
 * assay's teacher-forced pass (fast.ts, point 6) and with it running its own, side by side in one run: the first
 * 1,024 mutants of examples/stories260K-replicates.yaml (8 sampled generate assays and 8 likelihood assays of
 * their baselines), on one thread (MUTASCAN_THREADS=1 is set here), each way three times, the best of each.
 * Also checks that both ways give the same outcomes. Printed, not asserted.
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.MUTASCAN_THREADS ??= '1';
const { prepareScreen } = await import('../src/screen/runner.js');
const { PlainEvaluator } = await import('../src/screen/evaluate.js');
const { FastEvaluator } = await import('../src/screen/fast.js');

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const p = await prepareScreen(join(ROOT, 'examples', 'stories260K-replicates.yaml'));
const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
const mutants = Array.from({ length: 1024 }, (_, i) => p.plan.mutant(1 + i));
const best: Record<string, number> = {};
const outcomes: Record<string, string> = {};
for (let round = 0; round < 3; round++)
  for (const share of [true, false]) {
    const fast = new FastEvaluator(p.tf, p.assays, p.stats, plain, { sharePasses: share });
    const t0 = performance.now();
    const out = fast.evaluate(mutants);
    const s = (performance.now() - t0) / 1000;
    const key = share ? 'shared' : 'own';
    best[key] = Math.min(best[key] ?? Infinity, s);
    outcomes[key] = JSON.stringify(out.map((o) => o.map((x) => [x.silent, x.phenotype?.key ?? null])));
  }
console.log(`bench:shared-pass: ${mutants.length} mutants × ${p.assays.length} assays, ${process.env.MUTASCAN_THREADS} thread(s), best of 3`);
console.log(`  likelihood assays with their own pass      ${best.own.toFixed(2)} s`);
console.log(`  sharing the generate assays' passes        ${best.shared.toFixed(2)} s  (${(best.own / best.shared).toFixed(2)}×)`);
console.log(`  same calls and outputs both ways: ${outcomes.own === outcomes.shared}`);
