import type { Command } from 'commander';
import { join } from 'node:path';
import { writeReport } from '../report/report.js';
import { Store } from '../store/store.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('figures (SVG, PNG), tables (CSV) and an interactive page (index.html) from a screen store')
    .argument('<store>', 'SQLite store')
    .requiredOption('--out <dir>', 'folder to write the report into (created if missing)')
    .action(async (path: string, o: { out: string }) => {
      const store = Store.open(path);
      try {
        const t0 = performance.now();
        const r = await writeReport(store, o.out, (line) => process.stderr.write(`report: ${line}\n`));
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        process.stdout.write(`${join(o.out, 'index.html')}: ${r.figures} figures (SVG + PNG) in ${join(o.out, 'figures')}, ${r.tables} tables in ${join(o.out, 'tables')}, built in ${secs} s\n`);
      } finally {
        store.close();
      }
    });
}
