// The screen-file and command-line references are made from the schema and the commands: a key or option added
// without regenerating them fails here, and so does a reference that no longer matches what is accepted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildProgram } from '../src/cli/main.js';
import { parseScreenSpec, screenFileJsonSchema } from '../src/spec/spec.js';
import { REFERENCES, staleReferences } from '../scripts/docs-reference.js';

test('docs/screen-file.md, its JSON Schema and docs/cli-reference.md are what the code makes (npm run docs:reference)', () => {
  assert.deepEqual(staleReferences(), [], 'run npm run docs:reference');
  assert.deepEqual(Object.keys(REFERENCES).sort(), ['cli-reference.md', 'screen-file.md', 'screen-file.schema.json']);
});

test('every key the screen-file reference lists is one the parser accepts, and only those', () => {
  const doc = readFileSync(new URL('../docs/screen-file.md', import.meta.url), 'utf8');
  const section = (title: string): string[] => {
    const part = doc.split(/^#+ /m).find((s) => s.startsWith(title))!;
    return [...part.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  };
  const schema = screenFileJsonSchema() as { properties: Record<string, unknown> };
  assert.deepEqual(section('Top level'), Object.keys(schema.properties));
  // each documented key of each assay type parses in a minimal screen of that type, and a key beside them does not
  const base = { model: 'm.bin', targets: 'all', unit: 'element', kinds: ['zero'] };
  const values: Record<string, unknown> = { name: 'a', preset: 'drosophila', prompt: 'x', chat: false, max_length: 10, temperature: 0, top_p: 0, top_k: 0, seed: 1, data: 'd.csv', subjects: ['s'], shots: 0, scoring: 'letters', select: 'all', texts: ['t'], kl_threshold: 0.1, kl_stat: 'max' };
  for (const type of ['generate', 'choice', 'likelihood']) {
    const keys = section(`${type} assay`);
    assert.ok(keys.length >= 4, type);
    for (const k of keys) {
      if (k === 'type' || k === 'name' || k === 'max_new_tokens' || k === 'baseline_of') continue;
      const assay = { name: 'a', type, ...(type === 'generate' ? { prompt: 'x' } : type === 'choice' ? { data: 'd.csv' } : { texts: ['t'] }), [k]: values[k] };
      assert.doesNotThrow(() => parseScreenSpec(JSON.stringify({ ...base, assays: [assay] }), '/tmp/s.yaml'), `${type}.${k}`);
    }
    const wrong = { name: 'a', type, prompt: 'x', data: 'd.csv', texts: ['t'], nonsense: 1 };
    assert.throws(() => parseScreenSpec(JSON.stringify({ ...base, assays: [wrong] }), '/tmp/s.yaml'), /unknown key/);
  }
});

test('the command-line reference names every command and every option of each', () => {
  const doc = readFileSync(new URL('../docs/cli-reference.md', import.meta.url), 'utf8');
  const program = buildProgram();
  assert.ok(program.commands.length >= 15);
  for (const c of program.commands) {
    assert.match(doc, new RegExp(`^## mutascan ${c.name()}$`, 'm'));
    for (const o of c.options) assert.ok(doc.includes(`| \`${o.flags.replace(/\|/g, '\\|')}\``), `${c.name()} ${o.flags}`);
  }
});

test('a YAML alias bomb in a screen file is refused with a message, not expanded', () => {
  const rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 8; i++) rows.push(`${'abcdefgh'[i]}: &${'abcdefgh'[i]} [${Array(9).fill(`*${'abcdefgh'[i - 1]}`).join(',')}]`);
  assert.throws(() => parseScreenSpec(rows.join('\n') + '\nmodel: x\n', '/tmp/bomb.yaml'), (e: Error) => e.constructor.name === 'MutascanError' && /cannot be read as data: Excessive alias count.*\/tmp\/bomb\.yaml/.test(e.message));
});
