/**
 * npm run bench:screen — screening speed, measured side by side in one run:
 *  1. plain path vs fast path, mutants/s and their ratio, on a fixed subset of the stories260K element screen
 *     and of a random model of SmolLM-135M's shape (both paths evaluate the same mutants; the fast path also a
 *     larger run of them, for a stable rate);
 *  2. the main job: the full element screen of stories260K (453,120 mutants), wall time and mutants/s, with
 *     the processes `mutascan run` would use (--jobs auto)
 *     (BENCH_MAIN=0 skips it).
 * Printed, not asserted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { FastEvaluator } from '../src/screen/fast.js';
import type { Mutant } from '../src/screen/plan.js';
import { prepareScreen, runScreen } from '../src/screen/runner.js';
import { cachedSynth, SMOLLM_135M_SHAPE } from './synth-cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'examples', 'stories260K-element.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-'));

/** `per` consecutive mutants from the start of each listed target, in plan order. */
function subset(p: Awaited<ReturnType<typeof prepareScreen>>, targets: string[], per: number): Mutant[] {
  const out: Mutant[] = [];
  p.plan.targets.forEach((t, ti) => {
    if (!targets.includes(t.short)) return;
    const { first, count } = p.plan.range(ti);
    for (let i = 0; i < Math.min(per, count); i++) out.push(p.plan.mutant(first + i));
  });
  return out;
}

function rate(fn: () => void, n: number): number {
  const t0 = performance.now();
  fn();
  return n / ((performance.now() - t0) / 1000);
}

async function compare(name: string, specFile: string, targets: string[], plainPer: number, fastPer: number): Promise<void> {
  const p = await prepareScreen(specFile);
  const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
  const fast = new FastEvaluator(p.tf, p.assays, p.stats, plain);
  const small = subset(p, targets, plainPer);
  const large = subset(p, targets, fastPer);
  const byTarget = (ms: Mutant[]): Mutant[][] => targets.map((t) => ms.filter((m) => m.target!.short === t));
  const plainRate = rate(() => byTarget(small).forEach((g) => plain.evaluate(g)), small.length);
  const fastSame = rate(() => byTarget(small).forEach((g) => fast.evaluate(g)), small.length);
  const fastRate = rate(() => byTarget(large).forEach((g) => fast.evaluate(g)), large.length);
  console.log(`${name}: targets ${targets.join(' ')}, backend ${p.backend.name}`);
  console.log(`  plain  ${plainRate.toFixed(1).padStart(9)} mutants/s  (${small.length} mutants)`);
  console.log(`  fast   ${fastSame.toFixed(1).padStart(9)} mutants/s  (the same ${small.length})   ${fastRate.toFixed(1).padStart(9)} mutants/s (${large.length} mutants)`);
  console.log(`  ratio  ${(fastRate / plainRate).toFixed(1)}× fast/plain  (near-ties re-checked on the plain path: ${fast.rechecks})`);
}

await compare('stories260K element screen (prompt "Once upon a time", greedy, max_length 48)', MAIN, ['0.q', '1.v', '2.o', '3.gate', '4.up', '4.down'], 40, 1000);

const smol = cachedSynth('smollm-135m-shape-tok', { ...SMOLLM_135M_SHAPE, tokenizer: join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin') });
const smolSpec = join(tmp, 'smollm.yaml');
writeFileSync(
  smolSpec,
  `model: ${smol}\ntargets: ["0.k", "14.gate", "29.down"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - name: story\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 24\n    temperature: 0\n`,
);
await compare('SmolLM-135M shape (random bf16 weights; Llama 2 tokens padded to 49,152), block 64, greedy, 24 new tokens', smolSpec, ['0.k', '14.gate', '29.down'], 4, 40);

if (process.env.BENCH_MAIN !== '0') {
  const store = join(tmp, 'main.sqlite');
  const s = await runScreen({ specFile: MAIN, storePath: store, jobs: 'auto' });
  console.log(`main job: ${s.ranNow} mutants in ${s.seconds.toFixed(1)} s wall = ${(s.ranNow / s.seconds).toFixed(0)} mutants/s, ${s.jobs} processes (near-ties re-checked: ${s.rechecks})`);
}
rmSync(tmp, { recursive: true, force: true });
