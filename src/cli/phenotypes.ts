import type { Command } from 'commander';
import { selectBackend } from '../backend/select.js';
import { fail } from '../errors.js';
import { phenotypeFamilies } from '../phenotypes/families.js';
import { PHENOTYPE_COLUMNS, phenotypeRecord } from '../phenotypes/record.js';
import { csvCell } from '../store/export.js';
import { Store } from '../store/store.js';
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
      const store = Store.open(path);
      try {
        if (o.assay && !store.assays().some((a) => a.name === o.assay && a.type === 'generate'))
          fail(`no generate assay "${o.assay}" in the store`, path, `its generate assays: ${store.assays().filter((a) => a.type === 'generate').map((a) => a.name).join(', ') || 'none'}`);
        const all = await phenotypeFamilies(store, { model: o.model, tokenizer: o.tokenizer, noEmbed: !o.embed, seed: Number(o.seed), backend: () => selectBackend() }, o.assay);
        for (const a of all) if (a.note) process.stderr.write(`mutascan: note: assay "${a.assay}": ${a.note}\n`);
        let text: string;
        if (o.format === 'json') text = JSON.stringify(all, null, 1) + '\n';
        else {
          const lines = [PHENOTYPE_COLUMNS.join(',')];
          for (const a of all) for (const f of a.families) lines.push(PHENOTYPE_COLUMNS.map((c) => csvCell(phenotypeRecord(f)[c])).join(','));
          text = lines.join('\n') + '\n';
        }
        if (o.out) writeWhole(o.out, text, 'phenotype list', 'run the command again');
        else process.stdout.write(text);
      } finally {
        store.close();
      }
    });
}
