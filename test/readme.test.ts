/**
 * The README's tour, run as a reader runs it: every `$ ` command of its console blocks, in order, from the
 * repository's folder, its output compared with the lines the README shows under it (rates and times, the
 * numbers with a decimal point in a `… mutants/s, … s)` line, aside; progress bars and notes left out).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const tour = readme.slice(readme.indexOf('## A five-minute tour'), readme.indexOf('## Where to read on'));
const steps = [...tour.matchAll(/```console\n([\s\S]*?)```/g)].flatMap((m) => {
  const out: { command: string; expected: string[] }[] = [];
  for (const line of m[1].trimEnd().split('\n'))
    if (line.startsWith('$ ')) out.push({ command: line.slice(2), expected: [] });
    else out[out.length - 1].expected.push(line);
  return out;
});

/** What a reader compares: the lines a command printed, timings blurred. */
const shown = (lines: string[]): string[] =>
  lines.filter((l) => l && !l.includes('\r') && !/^mutascan: note:/.test(l) && !/^screen .* mutants \|/.test(l)).map((l) => l.replace(/\(\d+ now, [\d.]+ mutants\/s, [\d.]+ s\)/, '(… now, … mutants/s, … s)'));

describe("the README's tour", () => {
  it(`runs all ${steps.length} commands as written and prints what the README shows`, () => {
    assert.ok(steps.length >= 6, `${steps.length} commands found`);
    // out/ is where `npm run demo` (the README's first command) writes; the tour's own files start afresh
    mkdirSync(join(ROOT, 'out'), { recursive: true });
    for (const f of ['tour.sqlite', 'tour.sqlite-wal', 'tour.sqlite-shm', 'tour.csv', 'tour-mutant.gguf']) rmSync(join(ROOT, 'out', f), { force: true });
    for (const s of steps) {
      const r = spawnSync('bash', ['-c', s.command], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(r.status, 0, `${s.command}\n${r.stderr}`);
      const printed = shown(`${r.stdout}\n${r.stderr}`.split('\n'));
      assert.deepEqual(printed, shown(s.expected), s.command);
    }
  });
});
