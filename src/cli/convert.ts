import type { Command } from 'commander';
import { convertLlama2c } from '../model/convert.js';
import { loadLlama2c } from '../model/load-llama2c.js';
import { Llama2cTokenizer } from '../model/tokenizer-llama2c.js';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('write a llama2.c checkpoint as a Hugging Face folder (config.json, model.safetensors, tokenizer.json)')
    .argument('<model>', 'llama2.c .bin checkpoint')
    .requiredOption('--tokenizer <file>', 'its llama2.c tokenizer.bin')
    .requiredOption('--out <dir>', 'folder to write')
    .action((modelPath: string, o) => {
      const ckpt = loadLlama2c(modelPath);
      const tok = Llama2cTokenizer.load(o.tokenizer, ckpt.config.vocabSize);
      convertLlama2c(ckpt.config, ckpt.weights, tok, o.out);
      process.stdout.write(`wrote ${o.out} (config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json)\n`);
    });
}
