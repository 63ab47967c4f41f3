import type { Command } from 'commander';
import { openModel } from '../index.js';
import { int, real } from './options.js';

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate text from a prompt, from the model or from a mutant of it')
    .argument('<model>', 'Hugging Face folder, .gguf file or llama2.c .bin checkpoint')
    .requiredOption('--prompt <text>', 'prompt text (BOS first where the tokenizer adds one)')
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin (default: beside a .bin model)')
    .option('--max-length <n>', 'positions in all, prompt included (run.c steps)', int('--max-length', 1))
    .option('--max-new-tokens <n>', 'tokens to generate', int('--max-new-tokens', 1))
    .option('--temperature <t>', '0 = greedy', real('--temperature', 0))
    .option('--top-p <p>', 'nucleus mass; outside (0,1) disables', real('--top-p', 0, 1))
    .option('--top-k <k>', '0 disables', int('--top-k', 0))
    .option('--seed <s>', 'sampler seed (0 is mapped to a fixed non-zero state)', int('--seed', 0))
    .option('--chat', "wrap the prompt in the model's chat template")
    .option('--backend <name>', 'auto | ts | native (default: MUTASCAN_BACKEND, else native when built)')
    .option('--threads <n>', 'threads for the native backend (default: MUTASCAN_THREADS, else every core)', int('--threads', 1))
    .option('--mutate <key...>', 'generate from a mutant, named as stores, exports and `mutascan scout` name it (1.down:2533,7890+1x1:zero; several joined by +, or listed, apply together)')
    .option('--json', 'print {"prompt_ids", "ids", "text"}')
    .action(async (modelPath: string, o) => {
      if (o.maxLength !== undefined && o.maxNewTokens !== undefined)
        program.error('error: give --max-length or --max-new-tokens, not both');
      const opened = await openModel(modelPath, { tokenizer: o.tokenizer, backend: o.backend, threads: o.threads });
      for (const key of (o.mutate as string[] | undefined) ?? []) opened.mutate(key);
      const d = opened.defaults;
      // without a length, the checkpoint's defaults (cut to the context, as transformers does); a length given must fit
      const useDefaultsLength = o.maxLength === undefined && o.maxNewTokens === undefined;
      const room = opened.config.maxSeqLen - opened.promptIds(o.prompt, { chat: o.chat === true }).length + 1;
      const lengths = !useDefaultsLength
        ? { maxLength: o.maxLength, maxNewTokens: o.maxNewTokens }
        : d.maxNewTokens === undefined
          ? { maxLength: Math.min(d.maxLength ?? 256, opened.config.maxSeqLen) }
          : { maxNewTokens: Math.max(0, Math.min(d.maxNewTokens, room)) };
      const g = opened.generate(o.prompt, {
        temperature: o.temperature ?? d.temperature ?? 1,
        topP: o.topP ?? d.topP ?? 0.9,
        topK: o.topK ?? d.topK ?? 0,
        seed: o.seed ?? 0,
        ...lengths,
        chat: o.chat === true,
      });
      if (o.json) process.stdout.write(JSON.stringify({ prompt_ids: g.promptIds, ids: g.ids, text: g.text }) + '\n');
      else process.stdout.write(`${o.prompt}${g.text}\n`);
    });
}
