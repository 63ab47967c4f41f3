/**
 * npm run check:main [-- STORE] — compares the main job's store with llama2.c's answer for every one of the
 * 453,120 mutants of the element screen (../shared/models/stories260K/expected/screen-once-greedy-s1.jsonl.gz).
 * A mutant whose result differs is re-run on the plain path; it passes only as a float32 near-tie (its
 * generation departs from run.c's at a step whose decision margin is below 1e-5). Exit code 1 on any other
 * difference.
 */
import { join, resolve } from 'node:path';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { prepareScreen } from '../src/screen/runner.js';
import { compareWithFixture, departure, fixtureKey, loadFixtureScreen, storedResults } from '../test/fixture-compare.js';
import { EXPECTED, ROOT } from '../test/helpers.js';

const store = resolve(process.argv[2] ?? join(ROOT, 'out', 'stories260K-element.sqlite'));
const fx = loadFixtureScreen(join(EXPECTED, 'screen-once-greedy-s1.jsonl.gz'));
const stored = storedResults(store);
const cmp = compareWithFixture(stored, fx.mutants);
console.log(`${store}: ${cmp.compared} of ${fx.mutants.length} run.c mutants compared, ${cmp.missing.length} missing, ${cmp.different.length} differ`);
let bad = cmp.missing.length;
if (cmp.different.length) {
  const p = await prepareScreen(join(ROOT, 'examples', 'stories260K-element.yaml'));
  const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
  const byKey = new Map(Array.from({ length: p.plan.total }, (_, i) => p.plan.mutant(i)).map((m) => [m.key, m]));
  for (const key of cmp.different) {
    const f = fx.mutants.find((x) => fixtureKey(x) === key)!;
    const d = departure(plain.trace(byKey.get(key)!, p.assays[0]), f, fx.baseline.ids);
    const step = d?.step;
    const margin = d?.margin ?? Infinity;
    const tie = d !== undefined && margin < 1e-5;
    if (!tie) bad++;
    console.log(`  ${key}: ${tie ? 'near-tie' : 'DIFFERENT'} (departs at step ${step}, margin ${margin.toExponential(2)})`);
  }
}
console.log(bad ? `FAILED: ${bad} mutants differ from run.c beyond a near-tie` : `OK: every mutant matches run.c (${cmp.different.length} float32 near-ties)`);
process.exitCode = bad ? 1 : 0;
