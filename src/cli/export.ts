import type { Command } from 'commander';
import { fail, withResults } from '../index.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('one row per mutant × assay, as CSV or Parquet')
    .argument('<store>', 'SQLite store')
    .requiredOption('--format <format>', 'csv | parquet')
    .requiredOption('--out <file>', 'file to write')
    .action(async (path: string, o: { format: string; out: string }) => {
      if (o.format !== 'csv' && o.format !== 'parquet') fail(`unknown export format "${o.format}"`, '--format', 'use csv or parquet');
      const n = await withResults(path, (r) => r.export(o.format as 'csv' | 'parquet', o.out));
      process.stdout.write(`wrote ${n} rows to ${o.out}\n`);
    });
}
