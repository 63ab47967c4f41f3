/**
 * The Python round trip (docs/python.md): examples/python/scores.py reads a store with Python's sqlite3 and
 * pandas (Debian's python3-pandas), rebuilds the score table from the raw results with its own formulas and
 * SciPy's t quantile, and compares it with `mutascan export --format scores`, value by value.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { PYTHON, ROOT, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('mutascan-python-');
after(() => dir.remove());

it('a replicated screen with pairs: the score table equals the one pandas rebuilds from the store', () => {
  const spec = join(dir.path, 'screen.yaml');
  writeFileSync(
    spec,
    `model: ${STORIES_BIN}
tokenizer: ${STORIES_TOK}
targets: ["1.k", "4.down"]
unit: { block: 8 }
kinds: [max, min]
assays:
  - { name: story, type: generate, prompt: "Once upon a time", max_new_tokens: 20, temperature: 0.8, replicates: 3 }
  - { name: story-tf, type: likelihood, baseline_of: [story] }
  - { name: facts, type: choice, data: ${join(ROOT, '..', 'shared', 'data', 'mmlu')}, subjects: [global_facts], shots: 1, select: { first: 6 } }
pairs: { among: all, count: 60, seed: 2 }
`,
  );
  const store = join(dir.path, 'screen.sqlite');
  const r = runCli(['run', spec, '--store', store]);
  assert.equal(r.status, 0, r.stderr);
  const csv = join(dir.path, 'scores.csv');
  assert.equal(runCli(['export', store, '--format', 'scores', '--out', csv]).status, 0);
  const py = spawnSync(PYTHON, [join(ROOT, 'examples', 'python', 'scores.py'), store, csv], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stdout + py.stderr);
  assert.match(py.stdout, /the score table equals the one rebuilt from the store/);
  // every score column was compared, pairs' additivity included, and nothing differs
  for (const col of ['score', 'sd', 'ci_lower', 'nsm_ci_upper', 'expected', 'epistasis']) assert.match(py.stdout, new RegExp(`${col}\\s+[1-9]\\d* values compared, 0 differ`), col);
});
