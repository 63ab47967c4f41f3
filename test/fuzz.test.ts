// Every door to outside input, tried by fast-check with structure-aware mutations of the seed corpus
// (test/fuzz/): each input is opened or refused with a MutascanError naming its file, within a time limit and
// without memory growing by a header's claims. The suite runs a fixed sample (FUZZ_RUNS per target, seeded);
// `npm run fuzz` runs as many as asked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTarget } from './fuzz/check.js';
import { fuzzTargets } from './fuzz/targets.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);

for (const t of fuzzTargets())
  test(`fuzz ${t.name}: ${t.reads}`, async () => {
    const r = await checkTarget(t, { runs: RUNS, seed: SEED, slowMs: 2000 });
    console.log(`# fuzz ${t.name}: ${r.runs} inputs in ${r.seconds.toFixed(2)} s, ${r.opened} opened, ${r.refused} refused, slowest ${r.slowestMs.toFixed(1)} ms, memory +${r.rssGrowthMiB.toFixed(0)} MiB`);
    assert.equal(r.finding, undefined, r.finding && `${r.finding.problem}\ninput: ${r.finding.input}`);
    assert.equal(r.runs, RUNS);
    // every target reaches both sides: some mutations leave a file mutascan opens, most break it
    if (t.name !== 'mutant-key') assert.ok(r.opened > 0 && r.refused > 0, `${r.opened} opened, ${r.refused} refused`);
    assert.ok(r.rssGrowthMiB < 512, `memory grew ${r.rssGrowthMiB.toFixed(0)} MiB`);
  });
