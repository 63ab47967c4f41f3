import type { Command } from 'commander';
import { selectBackend } from '../backend/select.js';
import { Transformer } from '../model/forward.js';
import { checkLength, generate, promptIds } from '../model/generate.js';
import { loadModel } from '../model/model.js';
import { int, real } from './options.js';
import { matrixStats, mutate } from '../screen/mutate.js';
import { parseMutantKey } from '../screen/plan.js';

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
    .option('--mutate <key...>', 'generate from a mutant: a mutant key such as 1.down:2533,7890+1x1:zero (as stores, exports and `mutascan scout` print them); several apply together')
    .option('--json', 'print {"prompt_ids", "ids", "text"}')
    .action(async (modelPath: string, o) => {
      if (o.maxLength !== undefined && o.maxNewTokens !== undefined)
        program.error('error: give --max-length or --max-new-tokens, not both');
      const model = loadModel(modelPath, { tokenizer: o.tokenizer });
      const backend = await selectBackend(o.backend, o.threads);
      const tf = new Transformer(model.config, model.weights, backend);
      // (a mapped checkpoint's mapping is private: the write copies the page, never the file)
      for (const key of (o.mutate as string[] | undefined) ?? []) {
        const m = parseMutantKey(key, model);
        mutate(m.target.weights, m.unit, m.kind, matrixStats(m.target.weights));
      }
      const d = model.defaults;
      const useDefaultsLength = o.maxLength === undefined && o.maxNewTokens === undefined;
      // a length given here must fit the context; the checkpoint's defaults are cut to it, as transformers does
      if (!useDefaultsLength) checkLength(promptIds(model, o.prompt, o.chat === true).length, { maxLength: o.maxLength, maxNewTokens: o.maxNewTokens }, model.config.maxSeqLen);
      const g = generate(
        model,
        tf,
        o.prompt,
        {
          temperature: o.temperature ?? d.temperature ?? 1,
          topP: o.topP ?? d.topP ?? 0.9,
          topK: o.topK ?? d.topK ?? 0,
          seed: o.seed ?? 0,
          maxLength: useDefaultsLength ? (d.maxNewTokens === undefined ? (d.maxLength ?? 256) : undefined) : o.maxLength,
          maxNewTokens: useDefaultsLength ? d.maxNewTokens : o.maxNewTokens,
        },
        o.chat === true,
      );
      if (o.json) process.stdout.write(JSON.stringify({ prompt_ids: g.promptIds, ids: g.ids, text: g.text }) + '\n');
      else process.stdout.write(`${o.prompt}${g.text}\n`);
    });
}
