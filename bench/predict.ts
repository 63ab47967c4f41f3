/**
 * npm run bench:predict — what predicting costs beside screening, and how well it ranks, measured in one run:
 *
 * 1. the main job (examples/stories260K-element.yaml, 453,120 element mutants, greedy): `mutascan predict` on a new
 *    store (plan, baseline, gradients, predictions stored), then `mutascan run` on that store (the exhaustive
 *    screen, fast path), then `predict` again, which measures its predictions against the screen's outcomes;
 * 2. the paper's setting: the sampled element screen of 1.k (temperature 0.7, top-p 0.9, seed 42, 150 tokens), the same.
 *
 * Prints the seconds of each command, predict's share of the screen's time, AUROC and the recall of NSMs in the
 * top 10 % of the ranking. Printed, not asserted (the suite asserts the ranking against run.c's screen).
 *
 * BENCH_PREDICT_7B=1 adds the 7B shape: `predict` alone for the block-64 screen (max and min) of 31.down (or of the
 * targets in BENCH_PREDICT_7B_TARGETS, e.g. 31.down,1.down; a first-layer target takes about two hours) on the
 * random Llama-2-7B-shaped model of `npm run bench:7b` (bench/.cache/llama-2-7b), the paper's drosophila prompt
 * greedy for 150 tokens: seconds, the gradients' share, peak memory (printed by predict). About 7 minutes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { likeSpec } from '../src/make/like.js';
import { cachedSynth } from './synth-cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'mutascan.js');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-predict-'));

function timed(args: string[]): { seconds: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`mutascan ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds, out: r.stdout + r.stderr };
}

function bench(name: string, spec: string): void {
  const store = join(tmp, `${name}.sqlite`);
  const first = timed(['predict', spec, '--store', store]);
  const gradients = Number(/predicted from \d+ steps in ([\d.]+) s/.exec(first.out)?.[1]);
  const screen = timed(['run', spec, '--store', store]);
  const again = timed(['predict', spec, '--store', store]);
  const q = /against the ([\d,]+) screened mutants \(([\d,]+) NSMs\): AUROC ([\d.]+), recall of NSMs in the top 10\.0 %: ([\d.]+) %/.exec(again.out);
  console.log(`${name}:`);
  console.log(`  mutascan predict on a new store: ${first.seconds.toFixed(1)} s (the gradients and predictions themselves: ${gradients.toFixed(2)} s)`);
  console.log(`  mutascan run, the exhaustive screen: ${screen.seconds.toFixed(1)} s`);
  console.log(`  predict / screen: ${((100 * first.seconds) / screen.seconds).toFixed(1)} % (the gradients alone: ${((100 * gradients) / screen.seconds).toFixed(2)} %)`);
  if (q) console.log(`  against the screen (${q[1]} mutants, ${q[2]} NSMs): AUROC ${q[3]}, recall of NSMs in the top 10 %: ${q[4]} %`);
}

function bench7b(target: string): void {
  const model = cachedSynth('llama-2-7b', likeSpec('llama-2-7b', { tokenizer: join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin') }));
  const spec = join(tmp, `7b-${target}.yaml`);
  writeFileSync(spec, `model: ${model}\ntargets: ["${target}"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - name: drosophila\n    type: generate\n    prompt: "The life cycle of Drosophila:"\n    max_length: 150\n    temperature: 0\n`);
  const r = timed(['predict', spec, '--store', join(tmp, `7b-${target}.sqlite`)]);
  console.log(`Llama-2-7B shape, block-64 ${target} (max, min), 150 tokens greedy: ${r.out.trim().split('\n').filter((l) => !l.startsWith('mutascan:')).join(' | ')} (${r.seconds.toFixed(0)} s in all)`);
}

try {
  if (process.env.BENCH_PREDICT_7B === '1') for (const target of (process.env.BENCH_PREDICT_7B_TARGETS ?? '31.down').split(',')) bench7b(target);
  bench('main job (element, greedy)', join(ROOT, 'examples', 'stories260K-element.yaml'));
  const sampled = join(tmp, 'sampled.yaml');
  writeFileSync(
    sampled,
    `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ["1.k"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 42\n`,
  );
  bench('sampled 1.k (temperature 0.7, top-p 0.9)', sampled);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
