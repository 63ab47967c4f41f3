import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { LIKE, likeSpec } from '../model/like.js';
import { writeSynthModel } from '../model/synth.js';
import { int } from './options.js';
import { parseSuperWeight, plantSuperWeight, type SuperWeight } from '../model/plant.js';

/** The Llama 2 vocabulary beside the project (../shared/tokenizers/llama2), when this is a checkout that has it. */
function defaultTokenizer(): string | undefined {
  const f = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin');
  return existsSync(f) ? f : undefined;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description("write a Hugging Face folder with a known model's exact architecture and random bf16 weights")
    .requiredOption('--like <name>', `architecture to imitate: ${Object.keys(LIKE).join(', ')}`)
    .requiredOption('--out <dir>', 'folder to write (must not exist yet)')
    .option('--layers <n>', 'number of decoder layers (default: as published)', int('--layers', 1))
    .option('--seed <n>', 'random seed', int('--seed', 0), 0)
    .option('--plant-super-weight <L,ROW,COL>', 'plant a super weight at down_proj [ROW, COL] of layer L: a large weight and the activation path that makes it matter (a known answer for `mutascan scout` and screens)', parseSuperWeight)
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin with the Llama 2 vocabulary (default: ../shared/tokenizers/llama2/tokenizer.bin)')
    .action((o) => {
      if (!(o.like in LIKE)) fail(`unknown --like ${o.like}`, undefined, `choose one of: ${Object.keys(LIKE).join(', ')}`);
      const out = resolve(o.out);
      if (existsSync(out) && (!statSync(out).isDirectory() || existsSync(join(out, 'config.json'))))
        fail('already exists', out, 'choose another --out, or delete it first');
      const tokenizer = o.tokenizer ?? defaultTokenizer();
      if (!tokenizer) fail('no tokenizer', undefined, 'pass --tokenizer FILE: a llama2.c tokenizer.bin with the Llama 2 vocabulary (32,000 tokens)');
      const spec = likeSpec(o.like, { layers: o.layers, seed: o.seed, tokenizer });
      const t0 = performance.now();
      writeSynthModel(out, spec, (done, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\rsynth: ${(done / 2 ** 30).toFixed(2)} of ${(total / 2 ** 30).toFixed(2)} GiB`);
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.stdout.write(`wrote ${out}: ${LIKE[o.like].repo}'s architecture with ${spec.nLayers} layers, random bf16 weights (seed ${spec.seed}), ${spec.shards} shard(s), in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      if (o.plantSuperWeight) {
        const sw = o.plantSuperWeight as SuperWeight;
        const p = plantSuperWeight(out, sw);
        process.stdout.write(
          `planted a super weight: layer ${sw.layer} down_proj [${sw.row}, ${sw.col}] = ${p.weight.toPrecision(4)}, fed by gate and up rows ${sw.col} aligned with layer ${sw.layer}'s feed-forward input at BOS; its mutant key: ${sw.layer}.down:${sw.row},${sw.col}+1x1:zero\n`,
        );
      }
    });
}
