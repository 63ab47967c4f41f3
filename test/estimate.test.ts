/**
 * `mutascan estimate` and `mutascan synth` from the command line. Durations are machine-dependent and are not
 * asserted (npm run check:estimate compares a prediction with a real run); what is checked here is what a
 * run determines: the plan's size, the sample, the store's size against the store the screen really writes, the
 * workers' arithmetic, scratch files cleaned up, and clear errors.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { machinesWithin } from '../src/screen/estimate.js';
import { expectCleanError, runCli, STORIES_BIN, tempDir } from './helpers.js';

const dir = tempDir('estimate');
after(() => dir.remove());

describe('mutascan estimate', () => {
  const spec = join(dir.path, 'screen.yaml');
  writeFileSync(
    spec,
    `model: ${STORIES_BIN}\ntargets: ["0.q", "1.k", "2.up", "4.down"]\nunit: { block: 4 }\nkinds: [max, min]\nassays:\n` +
      `  - { name: once, type: generate, prompt: "Once upon a time", max_length: 48, temperature: 0 }\n`,
  );

  it('samples the plan, predicts one machine and N workers, and sizes the store like the real run', () => {
    const scratch = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('mutascan-estimate-'));
    const before = scratch();
    const r = runCli(['estimate', spec, '--json', '--workers', '8', '--sample-targets', '3']);
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    // 0.q 64×64, 1.k 32×64, 2.up 172×64, 4.down 64×172 in 4×4 blocks, two kinds, plus the null mutant
    assert.equal(e.mutants, 1 + 2 * (256 + 128 + 688 + 688));
    assert.equal(e.targets, 4);
    assert.deepEqual(e.samples.map((s: { target: string }) => s.target), ['0.q', '2.up', '4.down']);
    assert.deepEqual(e.samples.map((s: { depth: number }) => s.depth), [5, 3, 1]);
    for (const s of e.samples) assert.ok(s.mutants > 0 && s.secondsPerMutant > 0);
    assert.ok(e.evaluateSeconds > 0 && e.seconds > e.evaluateSeconds);
    assert.equal(e.workers, 8);
    assert.ok(e.workersSeconds < e.seconds && e.workersSeconds >= e.setupSeconds);
    // machines for a deadline: the evaluation shared, setup paid by each, storing by the coordinator
    assert.equal(machinesWithin(e, 7 * 86400), 1);
    assert.equal(machinesWithin(e, e.setupSeconds + e.evaluateSeconds / 2.5), 3);
    assert.equal(machinesWithin(e, e.setupSeconds), Infinity);
    assert.equal(machinesWithin({ ...e, storeSeconds: 1e9 }, 7 * 86400), Infinity);
    assert.deepEqual(scratch(), before, 'the scratch store is removed');

    const store = join(dir.path, 'real.sqlite');
    const run = runCli(['run', spec, '--store', store]);
    assert.equal(run.status, 0, run.stderr);
    const size = statSync(store).size;
    assert.ok(Math.abs(e.storeBytes - size) / size < 0.25, `predicted ${e.storeBytes} bytes, the store has ${size}`);
  });

  it('times the samples with the screening processes run would start (--jobs), and leaves none behind', () => {
    const children = (): number => Number(execFileSync('sh', ['-c', `ps -e -o args= | grep -c '[j]ob-process' || true`]).toString().trim());
    const before = children();
    const one = JSON.parse(runCli(['estimate', spec, '--json', '--sample-targets', '2', '--per-target', '64']).stdout);
    // this screen is too small for auto to start processes (as run --jobs auto would not)
    assert.equal(one.jobs, 1);
    const r = runCli(['estimate', spec, '--json', '--jobs', '2', '--sample-targets', '2', '--per-target', '64']);
    assert.equal(r.status, 0, r.stderr);
    const two = JSON.parse(r.stdout);
    assert.equal(two.jobs, 2);
    assert.deepEqual(two.samples.map((s: { target: string; mutants: number }) => [s.target, s.mutants]), one.samples.map((s: { target: string; mutants: number }) => [s.target, s.mutants]));
    for (const s of two.samples) assert.ok(s.secondsPerMutant > 0 && Number.isFinite(s.secondsPerMutant));
    // the same mutants' outcomes, kept in the order the processes returned them
    assert.ok(Math.abs(two.storeBytes - one.storeBytes) / one.storeBytes < 0.1, `store ${two.storeBytes} bytes with two processes, ${one.storeBytes} with one`);
    assert.equal(children(), before, 'the screening processes are gone');
    assert.match(runCli(['estimate', spec, '--jobs', '2', '--sample-targets', '1', '--per-target', '16']).stdout, /^one machine like this: .*; 2 screening processes$/m);
  });

  it('prints a readable summary', () => {
    const r = runCli(['estimate', spec, '--workers', '100', '--sample-targets', '2', '--per-target', '40']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^screen\.yaml: 3,521 mutants over 4 targets$/m);
    assert.match(r.stdout, /^ {2}0\.q\s+5 layers up\s+40 mutants\s+[\d.]+ ms per mutant$/m);
    assert.match(r.stdout, /^one machine like this: +[\d.]+ (s|min).*\(0\.\d{3} machine-days; a week on 1 machine like this\)$/m);
    assert.match(r.stdout, /^100 machines like this: +[\d.]+ s/m);
    assert.match(r.stdout, /^store: about [\d.]+ (KB|MB)$/m);
  });

  it('says what is wrong with a bad screen file', () => {
    expectCleanError(runCli(['estimate', join(dir.path, 'missing.yaml')]), /missing\.yaml/);
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, `model: ${STORIES_BIN}\ntargets: ["9.q"]\nunit: element\nkinds: [max]\nassays:\n  - { name: a, type: generate, prompt: "Hi" }\n`);
    expectCleanError(runCli(['estimate', bad]), /layer 9 does not exist/);
  });
});

describe('mutascan synth', () => {
  it('refuses an unknown architecture and an existing model folder', () => {
    expectCleanError(runCli(['synth', '--like', 'gpt-2', '--out', join(dir.path, 'x')]), /unknown --like gpt-2.*llama-2-7b, zephyr-7b-beta, smollm-135m/);
    const taken = join(dir.path, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'config.json'), '{}');
    expectCleanError(runCli(['synth', '--like', 'smollm-135m', '--layers', '1', '--out', taken]), /already exists/);
    expectCleanError(runCli(['synth', '--like', 'smollm-135m', '--layers', '0', '--out', join(dir.path, 'y')]), /--layers must be a whole number ≥ 1/);
  });
});
