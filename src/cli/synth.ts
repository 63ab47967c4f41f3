import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail, synthModel, SYNTH_ARCHITECTURES, type SuperWeight } from '../index.js';
import { int } from './options.js';

/** --plant-super-weight LAYER,ROW,COL */
function parseSuperWeight(text: string): SuperWeight {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$/.exec(text);
  if (!m) fail(`--plant-super-weight ${text}: not LAYER,ROW,COL`, '--plant-super-weight', 'e.g. 1,2533,7890 (down_proj of layer 1, row 2533, column 7890: the Super Weight paper\'s coordinates in Llama-2-7B)');
  return { layer: Number(m[1]), row: Number(m[2]), col: Number(m[3]) };
}

/** The Llama 2 vocabulary beside the project (../shared/tokenizers/llama2), when this is a checkout that has it. */
function defaultTokenizer(): string | undefined {
  const f = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin');
  return existsSync(f) ? f : undefined;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description("write a Hugging Face folder with a known model's exact architecture and random bf16 weights")
    .requiredOption('--like <name>', `architecture to imitate: ${Object.keys(SYNTH_ARCHITECTURES).join(', ')}`)
    .requiredOption('--out <dir>', 'folder to write (must not exist yet)')
    .option('--layers <n>', 'number of decoder layers (default: as published)', int('--layers', 1))
    .option('--seed <n>', 'random seed', int('--seed', 0), 0)
    .option('--plant-super-weight <L,ROW,COL>', 'plant a super weight at down_proj [ROW, COL] of layer L: a large weight and the activation path that makes it matter (a known answer for `mutascan scout` and screens)', parseSuperWeight)
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin with the Llama 2 vocabulary (default: ../shared/tokenizers/llama2/tokenizer.bin)')
    .action((o) => {
      if (!(o.like in SYNTH_ARCHITECTURES)) fail(`unknown --like ${o.like}`, undefined, `choose one of: ${Object.keys(SYNTH_ARCHITECTURES).join(', ')}`);
      const tokenizer = o.tokenizer ?? defaultTokenizer();
      if (!tokenizer) fail('no tokenizer', undefined, 'pass --tokenizer FILE: a llama2.c tokenizer.bin with the Llama 2 vocabulary (32,000 tokens)');
      const t0 = performance.now();
      const sw = o.plantSuperWeight as SuperWeight | undefined;
      const r = synthModel(o.out, {
        like: o.like, tokenizer, layers: o.layers, seed: o.seed, superWeight: sw,
        onProgress: (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\rsynth: ${(done / 2 ** 30).toFixed(2)} of ${(total / 2 ** 30).toFixed(2)} GiB`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.stdout.write(`wrote ${r.dir}: ${r.repo}'s architecture with ${r.layers} layers, random bf16 weights (seed ${r.seed}), ${r.shards} shard(s), in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      if (sw && r.superWeight)
        process.stdout.write(
          `planted a super weight: layer ${sw.layer} down_proj [${sw.row}, ${sw.col}] = ${r.superWeight.value.toPrecision(4)}, fed by gate and up rows ${sw.col} aligned with layer ${sw.layer}'s feed-forward input at BOS; its mutant key: ${r.superWeight.key}\n`,
        );
    });
}
