/**
 * npm run bench:screen — screening speed, measured side by side in one run:
 *  1. plain path vs fast path, mutants/s and their ratio, on a fixed subset of the stories260K element screen
 *     and of a random model of SmolLM-135M's shape (both paths evaluate the same mutants; the fast path also a
 *     larger run of them, for a stable rate);
 *  2. the paper's setting, where nearly every mutant is an NSM (BENCH_SAMPLED=0 skips it): the element screen of
 *     stories260K's 1.k (4,096 mutants; "Once upon a time", temperature 0.7, top-p 0.9, seed 42, max_length 150)
 *     and a block-8 screen of 0.q, 2.up and 4.down under the same sampling, fast and plain path on one thread
 *     (mutants/s per core, to set beside run.c's one-generation-per-mutant rate), their ratio, the share of NSMs,
 *     where the fast path's rows go (teacher-forced pass vs NSM decoding), then the whole 1.k screen through
 *     `mutascan run` (--jobs auto);
 *  3. the main job: the full element screen of stories260K (453,120 mutants), wall time and mutants/s, with
 *     the processes `mutascan run` would use (--jobs auto)
 *     (BENCH_MAIN=0 skips it).
 * BENCH_GREEDY=0 skips part 1. Printed, not asserted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { FastEvaluator } from '../src/screen/fast.js';
import { loadAddon } from '../src/backend/native-backend.js';
import type { Mutant } from '../src/screen/plan.js';
import { prepareScreen, runScreen } from '../src/screen/runner.js';
import { cachedSynth, SMOLLM_135M_SHAPE } from './synth-cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'examples', 'stories260K-element.yaml');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
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

if (process.env.BENCH_GREEDY !== '0') await compare('stories260K element screen (prompt "Once upon a time", greedy, max_length 48)', MAIN, ['0.q', '1.v', '2.o', '3.gate', '4.up', '4.down'], 40, 1000);

if (process.env.BENCH_GREEDY !== '0') {
  const smol = cachedSynth('smollm-135m-shape-tok', { ...SMOLLM_135M_SHAPE, tokenizer: join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin') });
  const smolSpec = join(tmp, 'smollm.yaml');
  writeFileSync(
    smolSpec,
    `model: ${smol}\ntargets: ["0.k", "14.gate", "29.down"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - name: story\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 24\n    temperature: 0\n`,
  );
  await compare('SmolLM-135M shape (random bf16 weights; Llama 2 tokens padded to 49,152), block 64, greedy, 24 new tokens', smolSpec, ['0.k', '14.gate', '29.down'], 4, 40);
}

/**
 * The paper's setting on one thread: `plainN` mutants on the plain path, `fastN` on the fast path (each taken as
 * runs of consecutive mutants from spread places of every target, as a screen evaluates them).
 */
async function sampled(name: string, spec: string, plainN: number, fastN: number): Promise<void> {
  const p = await prepareScreen(spec, undefined, 1);
  const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
  const fast = new FastEvaluator(p.tf, p.assays, p.stats, plain);
  const spread = (n: number, runs: number): Mutant[][] => {
    const out: Mutant[][] = [];
    const per = Math.ceil(n / (runs * p.plan.targets.length));
    p.plan.targets.forEach((_, ti) => {
      const { first, count } = p.plan.range(ti);
      for (let r = 0; r < runs; r++) {
        const start = first + Math.floor(((count - per) * r) / Math.max(1, runs - 1));
        out.push(Array.from({ length: Math.min(per, count) }, (_, i) => p.plan.mutant(start + i)));
      }
    });
    return out;
  };
  const small = spread(plainN, 4);
  const large = spread(fastN, 2);
  const count = (g: Mutant[][]): number => g.reduce((a, x) => a + x.length, 0);
  let nsm = 0;
  const plainRate = rate(() => small.forEach((g) => plain.evaluate(g)), count(small));
  const decoded0 = fast.decodedRows();
  const passRows0 = fast.passRows;
  const fastRate = rate(() => large.forEach((g) => fast.evaluate(g).forEach((o) => (nsm += o[0].silent ? 0 : 1))), count(large));
  const decoded = fast.decodedRows() - decoded0;
  const passRows = fast.passRows - passRows0;
  console.log(`${name}: backend ${p.backend.name}, one thread`);
  console.log(`  plain  ${plainRate.toFixed(1).padStart(9)} mutants/s per core  (${count(small)} mutants)`);
  console.log(`  fast   ${fastRate.toFixed(1).padStart(9)} mutants/s per core  (${count(large)} mutants, ${((100 * nsm) / count(large)).toFixed(1)} % NSMs; rows per mutant: ${(passRows / count(large)).toFixed(0)} in teacher-forced passes, ${(decoded / count(large)).toFixed(0)} decoded)`);
  console.log(`  ratio  ${(fastRate / plainRate).toFixed(1)}× fast/plain  (near-ties re-checked on the plain path: ${fast.rechecks})`);
  // How far from the FLOP limit: the products and attention a row costs (attention over half the sequence on
  // average), times the rows the fast path ran, against this core's fp32 FMA peak measured now.
  const c = p.tf.config;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const seqLength = (p.assays[0] as { promptIds: number[] }).promptIds.length + (p.assays[0] as { budget: number }).budget;
  const perRow = c.nLayers * (2 * (c.dim * qDim * 2 + c.dim * kvDim * 2 + 3 * c.dim * c.hiddenDim) + 4 * qDim * (seqLength / 2)) + 2 * c.dim * c.vocabSize;
  const flops = ((passRows + decoded) / count(large)) * perRow;
  const peak = p.backend.name === 'native' ? loadAddon().peak('f32', 1, 0.5) : null;
  console.log(`  FLOPs per mutant ${(flops / 1e6).toFixed(0)} M (${(perRow / 1e6).toFixed(2)} M per row); at ${fastRate.toFixed(0)} mutants/s that is ${((flops * fastRate) / 1e9).toFixed(1)} GFLOP/s${peak ? `, ${((100 * flops * fastRate) / 1e9 / peak).toFixed(1)} % of this core's fp32 peak (${peak.toFixed(0)} GFLOP/s)` : ''}`);
  // The ceiling: every row the fast path must run, at the peak, against the plain path measured above.
  if (peak) console.log(`  ceiling: those rows at the fp32 peak would give ${((peak * 1e9) / flops).toFixed(0)} mutants/s per core = ${((peak * 1e9) / flops / plainRate).toFixed(0)}× the plain path`);
}

if (process.env.BENCH_SAMPLED !== '0') {
  const paper = (targets: string, unit: string): string =>
    `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ${targets}\nunit: ${unit}\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 42\n`;
  const k1 = join(tmp, 'sampled-1k.yaml');
  writeFileSync(k1, paper('["1.k"]', 'element'));
  const b8 = join(tmp, 'sampled-b8.yaml');
  writeFileSync(b8, paper('["0.q", "2.up", "4.down"]', '{ block: 8 }'));
  await sampled('paper\'s setting: element screen of 1.k (T=0.7, top-p 0.9, seed 42, max_length 150)', k1, 48, 1200);
  await sampled('paper\'s setting: block-8 screen of 0.q, 2.up, 4.down (same sampling)', b8, 48, 600);
  const store = join(tmp, 'sampled-1k.sqlite');
  const s = await runScreen({ specFile: k1, storePath: store, jobs: 'auto' });
  console.log(`  the whole 1.k screen through mutascan run: ${s.ranNow} mutants in ${s.seconds.toFixed(1)} s wall = ${(s.ranNow / s.seconds).toFixed(0)} mutants/s, ${s.jobs} processes (near-ties re-checked: ${s.rechecks})`);
}

if (process.env.BENCH_MAIN !== '0') {
  const store = join(tmp, 'main.sqlite');
  const s = await runScreen({ specFile: MAIN, storePath: store, jobs: 'auto' });
  console.log(`main job: ${s.ranNow} mutants in ${s.seconds.toFixed(1)} s wall = ${(s.ranNow / s.seconds).toFixed(0)} mutants/s, ${s.jobs} processes (near-ties re-checked: ${s.rechecks})`);
}
rmSync(tmp, { recursive: true, force: true });
