/**
 * npm run demo:families [-- --layers N] [-- name …] — a screen of every family, end to end, with the commands a
 * user types: `mutascan synth --like` writes each published architecture (its config.json field for field, random
 * BF16 weights, N layers, default 2), `mutascan run` screens a q matrix and the norm vectors of its last layer
 * (blocks of 256, max and min, a greedy and a sampled assay), and `mutascan report` draws it. Everything goes to
 * out/families/; each family's line gives its parameters, mutants, rate, NSMs and the report's path. The models
 * are full width (a Gemma 2 2B embedding alone is 1.2 GB), so this takes minutes and a few GB of disk.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { LIKE } from '../src/make/like.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'out', 'families');
const args = process.argv.slice(2);
const li = args.indexOf('--layers');
const layers = li >= 0 ? Number(args.splice(li, 2)[1]) : 2;
const FAMILIES = ['llama-3.2-1b', 'qwen3-0.6b', 'olmo2-1b', 'gemma2-2b', 'gemma3-1b', 'phi-3-mini-4k', 'phi-4-mini'];
const names = args.length ? args : FAMILIES;
for (const n of names) if (!(n in LIKE)) throw new Error(`unknown family ${n}: choose from ${Object.keys(LIKE).join(', ')}`);

const cli = (argv: string[]): string => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'mutascan.js'), ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`mutascan ${argv.join(' ')} failed:\n${r.stderr}`);
  return r.stderr + r.stdout;
};

mkdirSync(out, { recursive: true });
for (const name of names) {
  const model = join(out, name);
  if (!existsSync(join(model, 'config.json'))) {
    rmSync(model, { recursive: true, force: true });
    cli(['synth', '--like', name, '--layers', String(layers), '--out', model]);
  }
  const last = layers - 1;
  const screen = join(out, `${name}.yaml`);
  writeFileSync(
    screen,
    `model: ${model}\ntargets: ["${last}.q", "${last}.norms"]\nunit: { block: 256 }\nkinds: [max, min]\nassays:\n` +
      `  - name: greedy\n    type: generate\n    prompt: "Once upon a time"\n    max_new_tokens: 24\n    temperature: 0\n` +
      `  - name: sampled\n    type: generate\n    prompt: "The capital of France is"\n    max_new_tokens: 24\n    temperature: 0.7\n    seed: 42\n`,
  );
  const store = join(out, `${name}.sqlite`);
  rmSync(store, { force: true });
  const t0 = performance.now();
  cli(['run', screen, '--store', store]);
  const seconds = (performance.now() - t0) / 1000;
  const report = join(out, `${name}-report`);
  cli(['report', store, '--out', report]);
  const db = new Database(store, { readonly: true });
  const mutants = db.prepare('SELECT count(*) FROM mutants').pluck().get() as number;
  const nsm = db.prepare('SELECT a.name, sum(r.silent = 0) AS nsm FROM results r JOIN assays a ON a.id = r.assay_id GROUP BY a.id').all() as { name: string; nsm: number }[];
  const targets = db.prepare('SELECT short FROM targets ORDER BY id').pluck().all() as string[];
  db.close();
  console.log(
    `${name} (${LIKE[name].repo}, ${layers} layers): ${mutants} mutants of ${targets.join(', ')} in ${seconds.toFixed(1)} s (run, model loading included); ` +
      `NSMs ${nsm.map((a) => `${a.name} ${a.nsm}`).join(', ')}; report ${join(report, 'index.html')}`,
  );
}
