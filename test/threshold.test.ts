/**
 * Thresholds by bisection, on a super weight planted in a synthetic model (make/plant.ts): its threshold must
 * stand far below its neighbours', every bracket's ends must be what a plain generation of that mutant says, and
 * the fast path must find what the plain path finds.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { UnitThreshold } from '../src/index.js';
import { expectCleanError, LLAMA2_TOK, runCli, tempDir } from './helpers.js';

const tmp = tempDir('mutascan-threshold-');
after(() => tmp.remove());

describe('thresholds of a planted super weight and its neighbours', () => {
  const model = join(tmp.path, 'smol');
  const spec = join(tmp.path, 'sw.yaml');
  const args = [spec, '--to', '-100', '--region', '96-104,696-704'];
  let fast: UnitThreshold[] = [];

  it('the planted weight flips the output at a change far below any neighbour\'s', () => {
    const s = runCli(['synth', '--like', 'smollm-135m', '--layers', '4', '--out', model, '--tokenizer', join(LLAMA2_TOK, 'tokenizer.bin'), '--plant-super-weight', '1,100,700']);
    assert.equal(s.status, 0, s.stderr);
    writeFileSync(spec, `model: smol\ntargets: ["1.down"]\nunit: element\nkinds: [zero]\nassays:\n  - { name: once, type: generate, prompt: "Once upon a time", max_new_tokens: 12 }\n`);
    const r = runCli(['threshold', ...args, '--json', '--out', join(tmp.path, 'th.csv'), '--maps', join(tmp.path, 'maps')]);
    assert.equal(r.status, 0, r.stderr);
    fast = JSON.parse(r.stdout) as UnitThreshold[];
    assert.equal(fast.length, 81);
    const planted = fast.find((u) => u.row === 100 && u.col === 700)!;
    assert.equal(planted.status, 'threshold');
    assert.ok(planted.change! < 1, `the planted weight flips before it reaches zero: change ${planted.change}`);
    const others = fast.filter((u) => u !== planted);
    for (const u of others) assert.ok(u.status === 'silent-throughout' || u.change! > 5 * planted.change!, `${u.unit}: ${u.status}, change ${u.change}`);
    assert.ok(others.filter((u) => u.status === 'silent-throughout').length > 40);
    const csv = readFileSync(join(tmp.path, 'th.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 82);
    assert.ok(csv.some((l) => l.startsWith('"1.down:100,700+1x1",1.down,100,700,1,1,') && l.includes(',threshold,')), 'names are quoted');
    assert.ok(existsSync(join(tmp.path, 'maps', 'thresholds-1.down.svg')) && existsSync(join(tmp.path, 'maps', 'thresholds-1.down.png')));
  });

  it('each bracket holds: its silent end generates the baseline, its NSM end does not (plain generation)', () => {
    const gen = (...mutate: string[]) => {
      const r = runCli(['generate', model, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '12', '--json', ...mutate.flatMap((k) => ['--mutate', k])]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.stringify((JSON.parse(r.stdout) as { ids: number[] }).ids);
    };
    const base = gen();
    for (const u of fast.filter((x) => x.status === 'threshold')) {
      assert.notEqual(gen(`${u.unit}:scale:${u.nsmAt}`), base, `${u.unit} at ${u.nsmAt}`);
      assert.equal(gen(`${u.unit}:scale:${u.silentAt}`), base, `${u.unit} at ${u.silentAt}`);
      assert.ok(Math.abs(u.nsmAt! - u.silentAt!) <= 0.01 + 1e-12);
    }
  });

  it('the plain path finds the same brackets', () => {
    const r = runCli(['threshold', ...args, '--json', '--plain']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), fast);
  });

  it('refuses a bad region, an empty one and a series of one point', () => {
    expectCleanError(runCli(['threshold', spec, '--to', '0', '--region', '96-104']), /--region must be ROW0-ROW1,COL0-COL1/);
    expectCleanError(runCli(['threshold', spec, '--to', '0', '--region', '9000-9001,0-1']), /no unit of the screen's targets falls within the region/);
    expectCleanError(runCli(['threshold', spec, '--to', '1']), /from and to are the same/);
  });
});
