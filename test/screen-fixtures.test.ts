/**
 * Screens against llama2.c's run.c (../shared/models/stories260K/expected): every mutant of the three fixture
 * screens through the fast path, and 2,000 of them, drawn reproducibly, through the plain path: the silent/NSM
 * call and every NSM's whole output (ids). A mutant whose generation departs from run.c's must be flagged `tie`
 * in the store (some decision's margin below the tie epsilon: glibc's expf/cosf and BLAS round differently from
 * each other), and is listed with its margin; any other difference fails.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TIE_EPSILON } from '../src/model/ties.js';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { prepareScreen, type PreparedScreen } from '../src/screen/runner.js';
import { compareWithFixture, departure, fixtureKey, loadFixtureScreen, storedResults, type FixtureScreen } from './fixture-compare.js';
import { EXPECTED, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('fixtures');
after(() => dir.remove());

function screenFor(name: string, fx: FixtureScreen): string {
  const b = fx.baseline;
  const f = join(dir.path, `${name}.yaml`);
  const targets = [...new Set(fx.mutants.map((m) => m.target))];
  writeFileSync(
    f,
    `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ${targets.length === 35 ? 'all' : JSON.stringify(targets)}\nunit: { block: ${b.block} }\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: ${JSON.stringify(b.prompt)}\n    max_length: ${b.steps}\n    temperature: ${b.temperature}\n    top_p: ${b.topp}\n    seed: ${b.seed}\n`,
  );
  return f;
}

const FIXTURES = [
  { name: 'b16 greedy (partial edge blocks)', file: 'screen-once-greedy-b16.jsonl', plainDraw: 300 },
  { name: 'b4 greedy', file: 'screen-once-greedy-b4.jsonl', plainDraw: 850 },
  { name: 'b4 T=0.7 top-p 0.9 seed 42', file: 'screen-once-t07-b4.jsonl', plainDraw: 850 },
  { name: 'element screen of 3.gate, T=0.7 top-p 0.9 seed 7, 150 steps (every output whole)', file: 'screen-once-t07-s1-3gate.jsonl.gz', plainDraw: 120 },
];

for (const fxDef of FIXTURES)
  describe(`run.c fixture ${fxDef.name}`, () => {
    const fx = loadFixtureScreen(join(EXPECTED, fxDef.file));
    // the tie epsilon of the decisions the fixture makes (fp32 model): greedy in logits, sampled in probability
    const RUNC_TIE = fx.baseline.temperature > 0 ? TIE_EPSILON.f32.probability : TIE_EPSILON.f32.logit;
    const spec = screenFor(fxDef.file.replace(/\.jsonl(\.gz)?$/, ''), fx);
    const store = join(dir.path, fxDef.file.replace(/\.jsonl(\.gz)?$/, '.sqlite'));
    let p: PreparedScreen;
    let plain: PlainEvaluator;
    const ties: string[] = [];
    before(async () => {
      p = await prepareScreen(spec);
      plain = new PlainEvaluator(p.tf, p.assays, p.stats);
    });
    after(() => console.log(`# ${fxDef.file}: ${ties.length} near-ties with run.c (margin < ${RUNC_TIE})${ties.length ? `\n#   ${ties.join('\n#   ')}` : ''}`));

    it('has run.c\'s baseline', () => {
      assert.deepEqual(p.assays[0].promptIds, fx.baseline.prompt_ids);
      assert.deepEqual(p.assays[0].baseline.ids, fx.baseline.ids);
    });

    it(`every one of the ${fx.mutants.length} mutants through the fast path matches run.c`, () => {
      const r = runCli(['run', spec, '--store', store]);
      assert.equal(r.status, 0, r.stderr);
      const stored = storedResults(store);
      const cmp = compareWithFixture(stored, fx.mutants);
      assert.equal(cmp.missing.length, 0);
      assert.equal(cmp.compared, fx.mutants.length);
      const all = new Map(Array.from({ length: p.plan.total }, (_, i) => p.plan.mutant(i)).map((m) => [m.key, m]));
      for (const key of cmp.different) {
        const f = fx.mutants.find((x) => fixtureKey(x) === key)!;
        const d = departure(plain.trace(all.get(key)!, p.assays[0]), f, fx.baseline.ids);
        assert.ok(stored.get(key)!.tie, `${key}: departs from run.c at step ${d?.step} with margin ${d?.margin}, and the store does not flag it as a near-tie`);
        assert.ok(d && d.margin < RUNC_TIE, `${key}: departs from run.c at step ${d?.step} with margin ${d?.margin}`);
        ties.push(`${key}: step ${d.step}, margin ${d.margin.toExponential(2)}`);
      }
    });

    it(`${fxDef.plainDraw} mutants drawn reproducibly through the plain path match run.c and the fast path`, () => {
      let seed = 2024;
      const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const picked = new Set<number>();
      while (picked.size < fxDef.plainDraw) picked.add(Math.floor(rand() * fx.mutants.length));
      const byKey = new Map(Array.from({ length: p.plan.total }, (_, i) => p.plan.mutant(i)).map((m) => [m.key, m]));
      const stored = storedResults(store);
      for (const i of [...picked].sort((a, b) => a - b)) {
        const f = fx.mutants[i];
        const m = byKey.get(fixtureKey(f))!;
        const trace = plain.trace(m, p.assays[0]);
        const d = departure(trace, f, fx.baseline.ids);
        if (d) {
          assert.ok(d.margin < RUNC_TIE, `${m.key}: plain path departs from run.c at step ${d.step} with margin ${d.margin}`);
          ties.push(`${m.key} (plain): step ${d.step}, margin ${d.margin.toExponential(2)}`);
        }
        // The fast path stored exactly what the plain path gives, and flags the same near-ties (a re-checked
        // mutant is flagged by the fast path whatever the plain path's margins).
        const o = plain.oneAssay(m, p.assays[0]);
        const s = stored.get(m.key)!;
        if (d) assert.ok(o.tie, `${m.key}: the plain path departs from run.c without flagging a near-tie`);
        assert.equal(s.silent, o.silent, m.key);
        if (!o.silent) assert.deepEqual(s.ids, o.phenotype!.ids, m.key);
        if (o.tie) assert.ok(s.tie, `${m.key}: flagged by the plain path, not in the store`);
      }
    });
  });
