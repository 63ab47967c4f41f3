import type { Command } from 'commander';
import { fail, phenotypeCsv, withResults } from '../index.js';
import { writeWhole } from '../util/output.js';

export function registerPhenotypes(program: Command): void {
  program
    .command('phenotypes')
    .description('list the phenotypes of a store: mutants, styles, cluster, similarity to the baseline, where their mutants sit; largest families first')
    .argument('<store>', 'SQLite store')
    .option('--assay <name>', 'only this generate assay')
    .option('--format <f>', 'csv or json', 'csv')
    .option('--out <file>', 'write here instead of standard output')
    .option('--model <path>', "this machine's copy of the screen's model, for the embeddings (default: the path in the store)")
    .option('--tokenizer <path>', 'its tokenizer, for llama2.c models')
    .option('--no-embed', 'skip embeddings, clusters and the 2-D layout (no model needed)')
    .option('--seed <n>', 'seed of the clustering and the layout', '1')
    .action(async (path: string, o: { assay?: string; format: string; out?: string; model?: string; tokenizer?: string; embed: boolean; seed: string }) => {
      if (o.format !== 'csv' && o.format !== 'json') fail(`unknown format "${o.format}"`, '--format', 'use csv or json');
      const all = await withResults(path, (r) => r.phenotypes({ assay: o.assay, model: o.model, tokenizer: o.tokenizer, noEmbed: !o.embed, seed: Number(o.seed) }));
      for (const a of all) if (a.note) process.stderr.write(`mutascan: note: assay "${a.assay}": ${a.note}\n`);
      const text = o.format === 'json' ? JSON.stringify(all, null, 1) + '\n' : phenotypeCsv(all);
      if (o.out) writeWhole(o.out, text, 'phenotype list', 'run the command again');
      else process.stdout.write(text);
    });
}
