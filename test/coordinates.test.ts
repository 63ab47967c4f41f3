/**
 * Mutant coordinates across formats: a screen of a Hugging Face folder and of its GGUF conversion (whose q/k rows
 * llama.cpp's converter permutes) name the same weights and get the same results, mutant for mutant; the export
 * says which order each target's rows are counted in; a store begun when GGUF q/k rows were given in the file's
 * order is not continued in the other.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { expectCleanError, resultRows, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const screenOf = (model: string, targets: string): string =>
  `model: ${model}\ntargets: [${targets}]\nunit: { block: 4 }\nkinds: [max, min]\nassays:\n` +
  `  - name: greedy\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 10\n    temperature: 0\n` +
  `  - name: sampled\n    type: generate\n    prompt: "Lily saw a"\n    max_new_tokens: 10\n    temperature: 0.8\n    seed: 3\n`;

/** The export's rows as objects. */
function exported(store: string, dir: string): Record<string, string>[] {
  const csv = join(dir, `${Math.random().toString(36).slice(2)}.csv`);
  const r = runCli(['export', store, '--format', 'csv', '--out', csv]);
  assert.equal(r.status, 0, r.stderr);
  return parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
}

describe('coordinates: a Hugging Face folder and its GGUF conversion', () => {
  const dir = tempDir('coordinates');
  after(() => dir.remove());
  const hf = join(dir.path, 'llama');
  const gguf = join(dir.path, 'llama.gguf');
  const hfStore = join(dir.path, 'hf.sqlite');
  const ggufStore = join(dir.path, 'gguf.sqlite');

  it('agree mutant for mutant on q and k, whose rows the GGUF file holds in another order', () => {
    // a trained model, so that mutants of q and k are silent and not (stories260K, whose pair order the folder
    // puts into halves and the GGUF file back into pairs)
    assert.equal(runCli(['convert', STORIES_BIN, '--tokenizer', STORIES_TOK, '--out', hf]).status, 0);
    assert.equal(runCli(['convert', hf, '--out', gguf]).status, 0);
    writeFileSync(join(dir.path, 'hf.yaml'), screenOf(hf, '"0.q", "1.k", "1.v"'));
    writeFileSync(join(dir.path, 'gguf.yaml'), screenOf(gguf, '"0.q", "1.k", "1.v"'));
    for (const [spec, store] of [['hf.yaml', hfStore], ['gguf.yaml', ggufStore]]) {
      const r = runCli(['run', join(dir.path, spec), '--store', store]);
      assert.equal(r.status, 0, r.stderr);
    }
    const a = resultRows(hfStore);
    const b = resultRows(ggufStore);
    assert.equal(a.length, (16 * 16 * 2 + 8 * 16 * 2 * 2 + 1) * 2); // q [64 × 64], k and v [32 × 64]
    assert.deepEqual(b, a);
    const nsm = a.filter((r) => JSON.parse(r).silent === 0).length;
    assert.ok(nsm > 20 && nsm < a.length - 20, `both kinds of outcome on q/k (${nsm} NSMs of ${a.length})`);
    const rows = exported(ggufStore, dir.path).filter((r) => r.target);
    assert.ok(rows.every((r) => r.layout === 'huggingface'));
  });

  it('llama2.c checkpoints keep their pair order of q and k, and the export says so', () => {
    const spec = join(dir.path, 'bin.yaml');
    writeFileSync(spec, screenOf(STORIES_BIN, '"0.q", "0.v"').replace('\nunit: { block: 4 }', `\ntokenizer: ${STORIES_TOK}\nunit: { block: 16 }`));
    const store = join(dir.path, 'bin.sqlite');
    const r = runCli(['run', spec, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    const layouts = new Map(exported(store, dir.path).filter((x) => x.target).map((x) => [x.target, x.layout]));
    assert.deepEqual(Object.fromEntries(layouts), { '0.q': 'llama2c', '0.v': 'huggingface' });
  });

  /** A store as mutascan wrote it before schema 4 (no layout column). */
  const asSchema3 = (store: string, copy: string): void => {
    const src = new Database(store, { readonly: true });
    src.prepare('VACUUM INTO ?').run(copy); // with what its write-ahead log holds
    src.close();
    const db = new Database(copy);
    db.exec('ALTER TABLE targets DROP COLUMN layout; ALTER TABLE screen DROP COLUMN tokenizer_path; UPDATE screen SET schema_version = 3; DELETE FROM results WHERE mutant_id > 100; UPDATE mutants SET done = 0, claim = NULL WHERE id > 100');
    db.close();
  };

  it('a store of schema 3 continues on the folder (layouts filled in), not on a GGUF file whose q/k order changed', () => {
    const oldHf = join(dir.path, 'old-hf.sqlite');
    asSchema3(hfStore, oldHf);
    const r = runCli(['run', join(dir.path, 'hf.yaml'), '--store', oldHf]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /migrated to schema 4/);
    assert.deepEqual(resultRows(oldHf), resultRows(hfStore));
    assert.ok(exported(oldHf, dir.path).filter((x) => x.target).every((x) => x.layout === 'huggingface'));

    const oldGguf = join(dir.path, 'old-gguf.sqlite');
    asSchema3(ggufStore, oldGguf);
    const before = readFileSync(oldGguf);
    expectCleanError(runCli(['run', join(dir.path, 'gguf.yaml'), '--store', oldGguf]), /written with schema 3, and its q\/k mutants name rows in llama\.cpp's order of this GGUF file.*new store/);
    assert.ok(readFileSync(oldGguf).equals(before), 'the refused store is unchanged');
  });
});
