/**
 * npm run demo:measurement — a screen as a measurement, on stories260K, each step through the command line:
 *  1. the element screen of 1.k under 8 sampling seeds (examples/stories260K-replicates.yaml): per-mutant
 *     intervals, the share of one-seed calls another seed flips, the replicates' correlation (`mutascan scores`),
 *     and the score table (`mutascan export --format scores`);
 *  2. a threshold sweep of a super weight planted in a SmolLM-135M-shaped model (4 layers) and of its 80
 *     neighbours (`mutascan threshold`);
 *  3. 1,000 pairs of 1.k's element mutants (examples/stories260K-pairs.yaml): synthetic NSMs, suppressors and
 *     the additivity of log-likelihoods.
 * Everything goes to out/measurement/. Printed, not asserted (the tests check the parts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'out', 'measurement');
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

function cli(args: string[], show = true): string {
  process.stdout.write(`\n$ mutascan ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}\n`);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mutascan.js'), ...args], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(r.status ?? 1);
  }
  const tail = r.stderr.split('\n').filter((l) => l.startsWith('mutascan:')).join('\n');
  if (show) process.stdout.write(r.stdout + (tail ? tail + '\n' : ''));
  return r.stdout;
}

// 1. replicates
const rep = join(OUT, 'replicates.sqlite');
cli(['run', join(ROOT, 'examples', 'stories260K-replicates.yaml'), '--store', rep]);
cli(['scores', rep]);
const table = join(OUT, 'replicates-scores.csv');
cli(['export', rep, '--format', 'scores', '--out', table, '--assay', 'story']);
// cells of a line (names hold commas, so they are quoted)
const cells = (l: string) => l.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''));
const rows = readFileSync(table, 'utf8').trim().split('\n').slice(2).map(cells);
const width = rows.map((c) => Number(c[12]) - Number(c[11])).sort((a, b) => a - b);
const sure = rows.filter((c) => Number(c[11]) > 0.5 || Number(c[12]) < 0.5).length;
process.stdout.write(
  `per-mutant 95 % Wilson intervals of the NSM fraction over 8 seeds (${rows.length} mutants): width median ${width[width.length >> 1].toFixed(3)}, ` +
    `10th–90th percentile ${width[Math.floor(width.length * 0.1)].toFixed(3)}–${width[Math.floor(width.length * 0.9)].toFixed(3)}; ` +
    `${sure} mutants (${((100 * sure) / rows.length).toFixed(1)} %) have an interval that excludes 0.5\n`,
);

// 2. a planted super weight
const smol = join(OUT, 'smol-super-weight');
cli(['synth', '--like', 'smollm-135m', '--layers', '4', '--out', smol, '--tokenizer', join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin'), '--plant-super-weight', '1,100,700']);
const sw = join(OUT, 'super-weight.yaml');
writeFileSync(sw, `model: smol-super-weight\ntargets: ["1.down"]\nunit: element\nkinds: [zero]\nassays:\n  - { name: once, type: generate, prompt: "Once upon a time", max_new_tokens: 12 }\n`);
cli(['threshold', sw, '--to', '-100', '--region', '96-104,696-704', '--out', join(OUT, 'thresholds.csv'), '--maps', join(OUT, 'threshold-maps')]);

// 3. pairs
const pairs = join(OUT, 'pairs.sqlite');
cli(['run', join(ROOT, 'examples', 'stories260K-pairs.yaml'), '--store', pairs]);
cli(['scores', pairs]);
cli(['report', pairs, '--out', join(OUT, 'pairs-report'), '--no-embed'], false);
process.stdout.write(`\nstores, tables, maps and the pairs' report are in ${OUT.replace(ROOT + '/', '')}/\n`);
