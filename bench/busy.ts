/**
 * npm run bench:busy — a screen on a quiet machine and on a busy one, side by side in one run: the sampled
 * block-8 screen of stories260K's 0.q, 2.up and 4.down (T 0.7, top-p 0.9, seed 42, max_length 150; 1,441
 * mutants), through `mutascan run` with one screening process on all cores, fast and plain path, first alone,
 * then while the benchmark keeps one core busy with a process of its own (a spinning loop). With one of the
 * machine's cores taken, a run should slow down in proportion (at most cores / (cores − 1)), not tenfold.
 * Prints each time and the slowdown. Printed, not asserted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-busy-'));
const spec = join(tmp, 'b8.yaml');
writeFileSync(
  spec,
  `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ["0.q", "2.up", "4.down"]\nunit: { block: 8 }\nkinds: [max, min]\nassays:\n  - { name: once, type: generate, prompt: "Once upon a time", max_length: 150, temperature: 0.7, top_p: 0.9, seed: 42 }\n`,
);

/** Seconds `mutascan run` takes on the screen (a fresh store each time), with extra environment. */
function timed(plain: boolean, env: Record<string, string> = {}): number {
  const store = join(tmp, `s${Math.random().toString(36).slice(2)}.sqlite`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mutascan.js'), 'run', spec, '--store', store, '--jobs', '1', ...(plain ? ['--plain'] : [])], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return (performance.now() - t0) / 1000;
}

/** A process that keeps one core busy until killed. */
function spinner(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

const cores = availableParallelism();
try {
  console.log(`bench:busy: ${cores} cores; the sampled block-8 screen (1,441 mutants), mutascan run --jobs 1 (one process, ${cores} threads)`);
  for (const plain of [false, true]) {
    const quiet = timed(plain);
    const load = spinner();
    let busy: number;
    try {
      busy = timed(plain);
    } finally {
      load.kill('SIGKILL');
    }
    console.log(`  ${plain ? 'plain' : 'fast '}: quiet ${quiet.toFixed(1)} s, one core busy ${busy.toFixed(1)} s: ${(busy / quiet).toFixed(2)}× slower (in proportion: ${(cores / Math.max(1, cores - 1)).toFixed(2)}×)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
