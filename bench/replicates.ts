/**
 * npm run bench:replicates — a replicated screen against the same replicates run as separate screens, side by
 * side in one run: the element screen of stories260K's 1.k under 8 sampling seeds (examples/
 * stories260K-replicates.yaml: generate, T 0.7, top-p 0.9, 32 tokens, and the baselines scored teacher-forced),
 * once as one screen with `replicates: 8`, then as 8 screens of one seed each, each through `runScreen` with the
 * same processes (BENCH_JOBS, default 1). Prints both wall times and their ratio, and checks that every
 * replicate's results equal its separate screen's. Printed, not asserted.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScreen } from '../src/screen/runner.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = join(ROOT, 'examples', 'stories260K-replicates.yaml');
const SEEDS = 8;
const jobs = Number(process.env.BENCH_JOBS ?? 1);
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-replicates-'));

const source = readFileSync(SPEC, 'utf8');
const at = (p: string) => p.replaceAll('../../shared', join(ROOT, '..', 'shared'));
const together = join(tmp, 'replicates.yaml');
writeFileSync(together, at(source));

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

try {
  console.log(`bench:replicates: ${SPEC.replace(ROOT + '/', '')}, ${SEEDS} seeds, ${jobs} process(es)`);
  const one = await timed(together, join(tmp, 'replicates.sqlite'));
  console.log(`  one screen, replicates: ${SEEDS}      ${one.toFixed(1)} s`);
  let separate = 0;
  let differ = 0;
  let compared = 0;
  for (let s = 0; s < SEEDS; s++) {
    const file = join(tmp, `seed${s}.yaml`);
    writeFileSync(file, at(source).replace(`replicates: ${SEEDS}`, `seed: ${s}`));
    const store = join(tmp, `seed${s}.sqlite`);
    separate += await timed(file, store);
    for (const [mine, theirs] of [[`story@${s}`, 'story'], [`story-tf@${s}`, 'story-tf']]) {
      const a = results(join(tmp, 'replicates.sqlite'), mine);
      const b = results(store, theirs);
      for (const [k, v] of a) {
        compared++;
        if (b.get(k) !== v) differ++;
      }
    }
  }
  console.log(`  ${SEEDS} screens of one seed each     ${separate.toFixed(1)} s`);
  console.log(`  separate / replicated: ${(separate / one).toFixed(2)}× (results compared: ${compared}, differing: ${differ})`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
