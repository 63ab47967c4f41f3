/**
 * Double mutants (`pairs:`): chosen after the singles, run on the plain path, set against their singles. Their
 * outputs are checked against `generate --mutate a+b` (the library's own application of a multi-mutant); the
 * counts of synthetic NSMs and suppressors against the stored calls, recounted here.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { expectCleanError, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('mutascan-pairs-');
after(() => dir.remove());

const screen = (pairs: string) => `model: ${STORIES_BIN}
tokenizer: ${STORIES_TOK}
targets: ["1.k"]
unit: { block: 2 }
kinds: [max]
assays:
  - { name: once, type: generate, prompt: "Once upon a time", max_new_tokens: 24 }
  - { name: once-tf, type: likelihood, baseline_of: [once] }
${pairs}`;

describe('pairs of singles', () => {
  const spec = join(dir.path, 'pairs.yaml');
  const store = join(dir.path, 'pairs.sqlite');

  it('are chosen once the singles are done, and each pair\'s output is the two mutations applied together', () => {
    writeFileSync(spec, screen('pairs: { among: all, count: 300, seed: 4 }\n'));
    const r = runCli(['run', spec, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /pairs: 300 of 300 stored/);
    const db = new Database(store, { readonly: true });
    const pairs = db.prepare('SELECT p.name, p.a, p.b, ph.ids_json, pr.silent FROM pairs p JOIN pair_results pr ON pr.pair_id = p.id JOIN assays a ON a.id = pr.assay_id LEFT JOIN phenotypes ph ON ph.id = pr.phenotype_id WHERE a.name = ? ORDER BY p.id').all('once') as { name: string; a: number; b: number; ids_json: string | null; silent: number }[];
    const baseline = db.prepare("SELECT b.ids_json FROM baselines b JOIN assays a ON a.id = b.assay_id WHERE a.name = 'once'").pluck().get() as string;
    db.close();
    assert.equal(pairs.length, 300);
    assert.equal(new Set(pairs.map((p) => p.name)).size, 300);
    for (const p of pairs.filter((_, i) => i % 30 === 0)) {
      const g = runCli(['generate', STORIES_BIN, '--tokenizer', STORIES_TOK, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '24', '--json', '--mutate', p.name]);
      assert.equal(g.status, 0, g.stderr);
      const ids = JSON.stringify((JSON.parse(g.stdout) as { ids: number[] }).ids);
      assert.equal(ids, p.silent ? baseline : p.ids_json, p.name);
    }
  });

  it('`mutascan scores` counts synthetic NSMs and suppressors as the stored calls say', () => {
    const db = new Database(store, { readonly: true });
    const rows = db
      .prepare(
        `SELECT pr.silent AS p, ra.silent AS a, rb.silent AS b FROM pairs x JOIN pair_results pr ON pr.pair_id = x.id JOIN assays s ON s.id = pr.assay_id
         JOIN results ra ON ra.mutant_id = x.a AND ra.assay_id = pr.assay_id JOIN results rb ON rb.mutant_id = x.b AND rb.assay_id = pr.assay_id WHERE s.name = 'once'`,
      )
      .all() as { p: number; a: number; b: number }[];
    db.close();
    const synthetic = rows.filter((x) => !x.p && x.a && x.b).length;
    const suppressors = rows.filter((x) => x.p && (!x.a || !x.b)).length;
    const out = runCli(['scores', store]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`once: 300 pairs; ${synthetic} synthetic NSMs .*, ${suppressors} suppressors`));
    assert.match(out.stdout, /once-tf: 300 pairs;.*\n {2}log-likelihood of a pair against the sum of its singles': Pearson r \d\.\d{3}/);
    const csv = join(dir.path, 'scores.csv');
    assert.equal(runCli(['export', store, '--format', 'scores', '--out', csv, '--assay', 'once-tf']).status, 0);
  });

  it('a list of pairs is read line by line; a bad line is named by its line', () => {
    const list = join(dir.path, 'list.txt');
    writeFileSync(list, '# pairs to try\n1.k:0,0+2x2:max+1.k:2,2+2x2:max\n\n1.k:4,0+2x2:max + 1.k:0,4+2x2:max\n');
    writeFileSync(spec, screen(`pairs: { among: list, list: ${list} }\n`));
    const s2 = join(dir.path, 'list.sqlite');
    const r = runCli(['run', spec, '--store', s2]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /pairs: 2 of 2 stored/);
    writeFileSync(list, '1.k:0,0+2x2:max+1.k:2,2+2x2:max\n1.k:0,0+2x2:min+1.k:2,2+2x2:max\n');
    expectCleanError(runCli(['run', spec, '--store', join(dir.path, 'bad.sqlite')]), /"1\.k:0,0\+2x2:min" is not a mutant of this screen \(in .*list\.txt:2\)/);
    writeFileSync(spec, screen('pairs: { among: list }\n'));
    expectCleanError(runCli(['run', spec, '--store', join(dir.path, 'bad2.sqlite')]), /among: list needs list: <file>/);
  });
});
