import type { Command } from 'commander';
import { join } from 'node:path';
import { writeStoreReport } from '../index.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('figures (SVG, PNG), tables (CSV) and an interactive page (index.html) from a screen store')
    .argument('<store>', 'SQLite store')
    .requiredOption('--out <dir>', 'folder to write the report into (created if missing)')
    .option('--model <path>', "this machine's copy of the screen's model, for the phenotypes' embeddings (default: the path in the store)")
    .option('--tokenizer <path>', 'its tokenizer, for llama2.c models')
    .option('--no-embed', "skip the phenotypes' embeddings, clusters and layout (no model needed)")
    .action(async (path: string, o: { out: string; model?: string; tokenizer?: string; embed: boolean }) => {
      const t0 = performance.now();
      const r = await writeStoreReport(path, o.out, { onNote: (line) => process.stderr.write(`report: ${line}\n`), model: o.model, tokenizer: o.tokenizer, noEmbed: !o.embed });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      process.stdout.write(`${join(o.out, 'index.html')}: ${r.figures} figures (SVG + PNG) in ${join(o.out, 'figures')}, ${r.tables} tables in ${join(o.out, 'tables')}, built in ${secs} s\n`);
    });
}
