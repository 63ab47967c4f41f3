/**
 * npm run bench:replicates — a replicated screen against the same replicates run as separate screens, side by
 * side in one run, each through `runScreen` with the same processes (BENCH_JOBS, default 1):
 *  1. the element screen of stories260K's 1.k under 8 sampling seeds (examples/stories260K-replicates.yaml:
 *     generate, T 0.7, top-p 0.9, 32 tokens, and the baselines scored teacher-forced);
 *  2. the same assays on a random model of SmolLM-135M's shape, block-64 mutants of 2.o (81), where nearly every
 *     mutant is an NSM and decoding, one token per step for every live sequence, is most of the work
 *     (BENCH_SMOL=0 skips it).
 * Each once as one screen with `replicates: 8`, then as 8 screens of one seed each. Prints both wall times and
 * their ratio, and checks that every replicate's results equal its separate screen's. Printed, not asserted.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScreen } from '../src/screen/runner.js';
import { cachedSynth, SMOLLM_135M_SHAPE } from './synth-cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = join(ROOT, 'examples', 'stories260K-replicates.yaml');
const SEEDS = 8;
const jobs = Number(process.env.BENCH_JOBS ?? 1);
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-replicates-'));

const at = (p: string) => p.replaceAll('../../shared', join(ROOT, '..', 'shared'));

/** results of one assay, by mutant key: silent, first divergence, phenotype ids, KL, log-likelihood */
function results(store: string, assay: string): Map<string, string> {
  const db = new Database(store, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT m.key, r.silent, r.first_divergence, r.similarity, p.ids_json, r.kl_max, r.loglik_change FROM results r JOIN mutants m ON m.id = r.mutant_id
         JOIN assays a ON a.id = r.assay_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id WHERE a.name = ?`,
      )
      .all(assay) as Record<string, unknown>[];
    return new Map(rows.map((r) => [r.key as string, JSON.stringify({ ...r, key: undefined })]));
  } finally {
    db.close();
  }
}

async function timed(spec: string, store: string): Promise<number> {
  const t0 = performance.now();
  await runScreen({ specFile: spec, storePath: store, jobs });
  return (performance.now() - t0) / 1000;
}

async function compare(name: string, source: string): Promise<void> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const together = join(dir, 'replicates.yaml');
  writeFileSync(together, source);
  console.log(`${name}: ${SEEDS} seeds, ${jobs} process(es)`);
  const one = await timed(together, join(dir, 'replicates.sqlite'));
  console.log(`  one screen, replicates: ${SEEDS}      ${one.toFixed(1)} s`);
  let separate = 0;
  let differ = 0;
  let compared = 0;
  for (let s = 0; s < SEEDS; s++) {
    const file = join(dir, `seed${s}.yaml`);
    writeFileSync(file, source.replace(`replicates: ${SEEDS}`, `seed: ${s}`));
    const store = join(dir, `seed${s}.sqlite`);
    separate += await timed(file, store);
    for (const [mine, theirs] of [[`story@${s}`, 'story'], [`story-tf@${s}`, 'story-tf']]) {
      const a = results(join(dir, 'replicates.sqlite'), mine);
      const b = results(store, theirs);
      for (const [k, v] of a) {
        compared++;
        if (b.get(k) !== v) differ++;
      }
    }
  }
  console.log(`  ${SEEDS} screens of one seed each     ${separate.toFixed(1)} s`);
  console.log(`  separate / replicated: ${(separate / one).toFixed(2)}× (results compared: ${compared}, differing: ${differ})`);
}

try {
  const source = at(readFileSync(SPEC, 'utf8'));
  await compare('stories260K, element screen of 1.k', source);
  if (process.env.BENCH_SMOL !== '0') {
    const smol = cachedSynth('smollm-135m-shape-tok', { ...SMOLLM_135M_SHAPE, tokenizer: join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin') });
    const shaped = source
      .replace(/^model: .*$/m, `model: ${smol}`)
      .replace(/^tokenizer: .*\n/m, '')
      .replace('targets: ["1.k"]', 'targets: ["2.o"]')
      .replace('unit: element', 'unit: { block: 64 }');
    await compare('SmolLM-135M shape (random), block-64 screen of 2.o', shaped);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
