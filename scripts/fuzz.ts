/**
 * The fuzz targets of test/fuzz/ for as long as asked: `npm run fuzz -- [--runs N | --campaign] [--seed S] [target…]`.
 * `--no-coverage` leaves out the count of source lines reached (block coverage slows the code it counts).
 * Prints per target the inputs tried, opened and refused, crashes and hangs, inputs per second, the slowest
 * input, the memory growth and the source lines reached; a finding (shrunk by fast-check) is printed and saved under test/fuzz/findings/, and the exit status is 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTarget } from '../test/fuzz/check.js';
import { LineCoverage } from '../test/fuzz/coverage.js';
import { fuzzTargets } from '../test/fuzz/targets.js';

/**
 * The long campaign's inputs per target (`--campaign`): 10 million in all, the fast parsers given more, every
 * target at least 100,000 (the suite's budget is 1,500 each).
 */
const CAMPAIGN: Record<string, number> = {
  'mutant-key': 3_000_000, 'llama2c-tokenizer': 1_500_000, safetensors: 1_500_000, llama2c: 1_500_000, 'gguf-bf16': 1_000_000, gguf: 500_000,
  store: 300_000, screen: 200_000, 'hf-folder': 100_000, 'safetensors-header': 100_000, 'queue-screen': 100_000, 'queue-batch': 100_000, 'queue-result': 100_000,
};

const { values, positionals } = parseArgs({ options: { campaign: { type: 'boolean', default: false }, runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'no-coverage': { type: 'boolean', default: false } }, allowPositionals: true });
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const targets = fuzzTargets().filter((t) => positionals.length === 0 || positionals.includes(t.name));
if (!targets.length) throw new Error(`no such target; targets: ${fuzzTargets().map((t) => t.name).join(', ')}`);
process.stdout.write(`seed ${seed}, ${values.campaign ? 'the campaign\'s inputs per target' : `${runs.toLocaleString('en-US')} inputs per target`}\n`);
// off with --no-coverage: block coverage slows the code it counts
const coverage = values['no-coverage'] ? null : new LineCoverage((url) => url.includes('/src/') && !url.includes('node_modules'));
let found = 0;
let total = 0;
const t0 = performance.now();
for (const t of targets) {
  // the lines of src/ reached after the first 1 % of the inputs, and what the other 99 % added
  const n = values.campaign ? CAMPAIGN[t.name] ?? runs : runs;
  const early = Math.max(1, Math.floor(n / 100));
  let atEarly = 0;
  coverage?.reset();
  const r = await checkTarget(t, {
    runs: n,
    seed,
    slowMs: 2000,
    afterInput: coverage ? (n) => n === early && (coverage.take(), (atEarly = coverage.lines().reached)) : undefined,
  });
  coverage?.take();
  const reached = coverage ? coverage.lines().reached : 0;
  total += r.runs;
  process.stdout.write(
    `${t.name.padEnd(20)} ${r.runs.toLocaleString('en-US').padStart(11)} inputs  ${r.opened.toLocaleString('en-US').padStart(9)} opened  ${r.refused.toLocaleString('en-US').padStart(11)} refused  crashes ${r.finding && !/^took /.test(r.finding.problem) ? 1 : 0}  hangs ${r.finding && /^took /.test(r.finding.problem) ? 1 : 0}  ${Math.round(r.runs / r.seconds).toLocaleString('en-US').padStart(7)}/s  slowest ${r.slowestMs.toFixed(1).padStart(6)} ms  memory +${r.rssGrowthMiB.toFixed(0)} MiB` +
      (coverage ? `  src lines reached ${reached.toLocaleString('en-US')} (${Math.max(0, reached - atEarly)} of them new after the first 1 % of the inputs)` : '') +
      '\n',
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
