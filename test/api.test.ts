/**
 * The library as a user gets it: `npm pack`, installed into an empty folder by npm (dependencies from the
 * registry, the native backend built by its install script), and docs/api.md's worked example run there as
 * written. Also what the tarball holds, and that its type declarations compile against a user's TypeScript.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ROOT, STORIES_BIN, tempDir } from './helpers.js';

const npm = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('the packed library', () => {
  const dir = tempDir('api');
  after(() => dir.remove());
  const app = join(dir.path, 'app');
  let tarball = '';

  before(() => {
    // the build npm test made is packed as it is: a prepare script rebuilding dist/ under the other tests' feet would race them
    const p = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir.path], ROOT);
    assert.equal(p.status, 0, p.stderr);
    // npm prints the prepare script's output before the JSON
    const info = JSON.parse(p.stdout.slice(p.stdout.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    tarball = join(dir.path, info[0].filename);
    const files = info[0].files.map((f) => f.path);
    console.log(`# npm pack: ${info[0].size} bytes (${info[0].unpackedSize} unpacked), ${files.length} files`);
    // what a user needs, and nothing of the repository's own work
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/mutascan.js', 'native/binding.gyp', 'scripts/build-native.mjs', 'README.md', 'CHANGELOG.md', 'package.json'])
      assert.ok(files.includes(f), `the tarball holds ${f}`);
    assert.deepEqual(files.filter((f) => /^(test|bench|docs|examples|deploy)\/|\.py$|\.map$|\.sqlite/.test(f)), []);
    assert.ok(info[0].size < 1_000_000, `${info[0].size} bytes`);
    spawnSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const i = npm(['install', '--prefer-offline', tarball], app);
    assert.equal(i.status, 0, i.stderr);
  });

  it("runs docs/api.md's worked example as written: a model, a mutant, a screen from an object, its results, an error", () => {
    const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(doc)![1];
    writeFileSync(join(app, 'example.mjs'), code);
    const store = join(app, 'example.sqlite');
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, MUTASCAN_MODEL: STORIES_BIN, MUTASCAN_STORE: store } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^tokens 1 403 407 261 378; most likely next token \d+$/);
    assert.match(lines[3], /^screened 89 of 89 mutants in [\d.]+ s$/);
    const nsm = Number(/^(\d+) of 89 mutants change the output$/.exec(lines[4])![1]);
    assert.equal(lines[5], 'refused: model not found');
    // the store the library wrote is the CLI's: every mutant done, the NSMs counted above
    const db = new Database(store, { readonly: true });
    assert.equal(db.prepare('SELECT count(*) FROM mutants WHERE done = 1').pluck().get(), 89);
    assert.equal(db.prepare('SELECT count(*) FROM results WHERE silent = 0').pluck().get(), nsm);
    db.close();
    // the output docs/api.md shows is this run's
    const shown = /Its output on stories260K[^\n]*\n\n```\n([\s\S]*?)```/.exec(doc)![1].trimEnd().split('\n');
    assert.deepEqual(shown.filter((_, k) => k !== 3), lines.filter((_, k) => k !== 3), 'docs/api.md shows what the example prints (but its time)');
  });

  it("its declarations type-check a user's TypeScript", () => {
    writeFileSync(
      join(app, 'check.ts'),
      "import { openModel, openResults, MutascanError, type ResultRow, type ScreenFile } from 'mutascan';\n" +
        "const screen: ScreenFile = { model: 'm', targets: ['0.q'], unit: { block: 4 }, kinds: ['max'], assays: [{ name: 'a', type: 'generate', prompt: 'x' }] };\n" +
        'export async function f(): Promise<number> {\n  const m = await openModel(screen.model);\n  const row: ResultRow | undefined = openResults("s.sqlite").rows()[0];\n' +
        '  return m.logits([1])[0].length + (row?.phenotype ?? 0) + (new MutascanError("x").what.length);\n}\n',
    );
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['check.ts'] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  });
});
