/**
 * npm run bench:busy — a screen on a quiet machine and on a busy one, side by side in one run: the sampled
 * block-8 screen of stories260K's 0.q, 2.up and 4.down (T 0.7, top-p 0.9, seed 42, max_length 150; 1,441
 * mutants), through `mutascan run` with one screening process on all cores (BENCH_JOBS sets --jobs), fast and
 * plain path, first alone, then while the benchmark keeps one core busy, then every core, with processes of its
 * own (spinning loops). A run should slow down in proportion to the cores it loses, not tenfold. The fast path
 * runs twice more: with OpenMP's threads spinning while they wait (OMP_WAIT_POLICY=active, the runtime's way
 * before mutascan asked for passive) and as it runs now. Prints each time, its CPU time, and the slowdown.
 * Printed, not asserted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Wall and CPU seconds `mutascan run` takes on the screen (a fresh store each time), with extra environment. */
function timed(plain: boolean, env: Record<string, string> = {}): { wall: number; cpu: number } {
  const store = join(tmp, `s${Math.random().toString(36).slice(2)}.sqlite`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mutascan.js'), 'run', spec, '--store', store, '--jobs', process.env.BENCH_JOBS ?? '1', ...(plain ? ['--plain'] : [])], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  const wall = (performance.now() - t0) / 1000;
  // the child's CPU time: what /proc says of this process's waited-for children
  const stat = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[13]) + Number(stat[14]);
  const cpu = (ticks - lastChildTicks) / 100;
  lastChildTicks = ticks;
  return { wall, cpu };
}
let lastChildTicks = 0;

/** Processes that keep `n` cores busy until killed. */
function spinners(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

const cores = availableParallelism();
try {
  console.log(`bench:busy: ${cores} cores; the sampled block-8 screen (1,441 mutants), mutascan run --jobs ${process.env.BENCH_JOBS ?? '1'}`);
  const settings: [string, boolean, Record<string, string>][] = [
    ['fast, threads spin (OMP_WAIT_POLICY=active)', false, { OMP_WAIT_POLICY: 'active' }],
    ['fast (as it runs now)', false, {}],
    ['plain', true, {}],
  ];
  for (const [name, plain, env] of settings) {
    const row: string[] = [];
    let quiet = 0;
    for (const busy of [0, 1, cores]) {
      const load = spinners(busy);
      let t: { wall: number; cpu: number };
      try {
        t = timed(plain, env);
      } finally {
        for (const p of load) p.kill('SIGKILL');
      }
      if (busy === 0) quiet = t.wall;
      row.push(`${busy === 0 ? 'alone' : `${busy} core${busy > 1 ? 's' : ''} busy`} ${t.wall.toFixed(1)} s (CPU ${t.cpu.toFixed(1)} s)${busy ? `, ${(t.wall / quiet).toFixed(2)}×` : ''}`);
    }
    console.log(`  ${name}: ${row.join('; ')}`);
  }
  console.log(`  (in proportion: one core of ${cores} taken, up to ${(cores / Math.max(1, cores - 1)).toFixed(1)}× slower; every core shared with one busy process each, about 2×)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
