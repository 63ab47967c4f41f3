import type { Command } from 'commander';
import { writeExport } from '../store/export.js';
import { Store } from '../store/store.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('one row per mutant × assay, as CSV or Parquet')
    .argument('<store>', 'SQLite store')
    .requiredOption('--format <format>', 'csv | parquet')
    .requiredOption('--out <file>', 'file to write')
    .action((path: string, o) => {
      const store = Store.open(path);
      try {
        const n = writeExport(store, o.format, o.out);
        process.stdout.write(`wrote ${n} rows to ${o.out}\n`);
      } finally {
        store.close();
      }
    });
}
