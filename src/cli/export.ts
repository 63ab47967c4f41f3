import type { Command } from 'commander';
import { fail, withResults } from '../index.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('one row per mutant × assay as CSV or Parquet, or the score table (one row per mutant, replicates together)')
    .argument('<store>', 'SQLite store')
    .requiredOption('--format <format>', 'csv | parquet | scores (MaveDB-style: score, sd, se, ci_lower, ci_upper, n, a column per seed; docs/scores.md)')
    .requiredOption('--out <file>', 'file to write')
    .option('--assay <name>', 'scores: only this assay (its replicates together)')
    .option('--score <name>', 'scores: generate nsm | similarity | divergence; likelihood loglik | kl_mean | kl_max | nsm; choice accuracy_change | nsm (default: the first)')
    .action(async (path: string, o: { format: string; out: string; assay?: string; score?: string }) => {
      if (o.format !== 'csv' && o.format !== 'parquet' && o.format !== 'scores') fail(`unknown export format "${o.format}"`, '--format', 'use csv, parquet or scores');
      if (o.format !== 'scores' && (o.assay !== undefined || o.score !== undefined)) fail('--assay and --score belong to --format scores', '--format', 'add --format scores, or leave them out');
      const n = await withResults(path, (r) => r.export(o.format as 'csv' | 'parquet' | 'scores', o.out, { assay: o.assay, score: o.score }));
      process.stdout.write(`wrote ${n} rows to ${o.out}\n`);
    });
}
