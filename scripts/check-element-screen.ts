/**
 * npm run check:main [-- STORE] — compares the main job's store with llama2.c's answer for every one of the
 * 453,120 mutants of the element screen (../shared/models/stories260K/expected/screen-once-greedy-s1.jsonl.gz).
 * A mutant whose result differs is re-run on the plain path; it passes only as a float32 near-tie (its
 * generation departs from run.c's at a step whose decision margin is below 1e-5). Exit code 1 on any other
 * difference.
 */
import { join, resolve } from 'node:path';
import { generateIds } from '../src/model/generate.js';
import { mutate, restore } from '../src/screen/mutate.js';
import { prepareScreen } from '../src/screen/runner.js';
import { compareWithFixture, fixtureKey, loadFixtureScreen, storedResults } from '../test/fixture-compare.js';
import { EXPECTED, ROOT } from '../test/helpers.js';

const store = resolve(process.argv[2] ?? join(ROOT, 'out', 'stories260K-element.sqlite'));
const fx = loadFixtureScreen(join(EXPECTED, 'screen-once-greedy-s1.jsonl.gz'));
const stored = storedResults(store);
const cmp = compareWithFixture(stored, fx.mutants);
console.log(`${store}: ${cmp.compared} of ${fx.mutants.length} run.c mutants compared, ${cmp.missing.length} missing, ${cmp.different.length} differ`);
let bad = cmp.missing.length;
if (cmp.different.length) {
  const p = await prepareScreen(join(ROOT, 'examples', 'stories260K-element.yaml'));
  const byKey = new Map(Array.from({ length: p.plan.total }, (_, i) => p.plan.mutant(i)).map((m) => [m.key, m]));
  for (const key of cmp.different) {
    const f = fx.mutants.find((x) => fixtureKey(x) === key)!;
    const m = byKey.get(key)!;
    const a = p.assays[0];
    const saved = mutate(m.target!.weights, m.unit!, m.kind!, p.stats(m));
    const g = generateIds(p.tf, a.promptIds, a.settings, a.stopIds);
    restore(saved);
    const expected = f.silent ? fx.baseline.ids : f.ids!;
    const step = Array.from({ length: Math.max(g.ids.length, expected.length) }, (_, i) => i).find((i) => g.ids[i] !== expected[i]);
    const margin = step === undefined ? Infinity : g.margins[step];
    const tie = step !== undefined && margin < 1e-5;
    if (!tie) bad++;
    console.log(`  ${key}: ${tie ? 'near-tie' : 'DIFFERENT'} (departs at step ${step}, margin ${margin.toExponential(2)})`);
  }
}
console.log(bad ? `FAILED: ${bad} mutants differ from run.c beyond a near-tie` : `OK: every mutant matches run.c (${cmp.different.length} float32 near-ties)`);
process.exitCode = bad ? 1 : 0;
