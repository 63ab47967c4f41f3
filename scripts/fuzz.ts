/**
 * The fuzz targets of test/fuzz/ for as long as asked: `npm run fuzz -- [--runs N] [--seed S] [target…]`.
 * Prints per target the inputs tried, opened and refused, inputs per second, the slowest input and the memory
 * growth; a finding (shrunk by fast-check) is printed and saved under test/fuzz/findings/, and the exit status is 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTarget } from '../test/fuzz/check.js';
import { fuzzTargets } from '../test/fuzz/targets.js';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' } }, allowPositionals: true });
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const targets = fuzzTargets().filter((t) => positionals.length === 0 || positionals.includes(t.name));
if (!targets.length) throw new Error(`no such target; targets: ${fuzzTargets().map((t) => t.name).join(', ')}`);
process.stdout.write(`seed ${seed}, ${runs.toLocaleString('en-US')} inputs per target\n`);
let found = 0;
let total = 0;
const t0 = performance.now();
for (const t of targets) {
  const r = checkTarget(t, { runs, seed, slowMs: 2000 });
  total += r.runs;
  process.stdout.write(
    `${t.name.padEnd(20)} ${r.runs.toLocaleString('en-US').padStart(11)} inputs  ${r.opened.toLocaleString('en-US').padStart(9)} opened  ${r.refused.toLocaleString('en-US').padStart(11)} refused  ${Math.round(r.runs / r.seconds).toLocaleString('en-US').padStart(7)}/s  slowest ${r.slowestMs.toFixed(1).padStart(6)} ms  memory +${r.rssGrowthMiB.toFixed(0)} MiB\n`,
  );
  if (r.finding) {
    found++;
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fuzz', 'findings');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${t.name}-seed${seed}.json`);
    writeFileSync(file, JSON.stringify({ target: t.name, seed, ...r.finding }, null, 1) + '\n');
    process.stdout.write(`  FINDING: ${r.finding.problem.split('\n')[0]}\n  input: ${r.finding.input.slice(0, 400)}\n  saved to ${file}\n`);
  }
}
process.stdout.write(`${total.toLocaleString('en-US')} inputs in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${found} findings\n`);
process.exitCode = found ? 1 : 0;
