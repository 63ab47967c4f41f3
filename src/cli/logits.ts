import type { Command } from 'commander';
import { fail, openModel } from '../index.js';
import { int } from './options.js';

export function registerLogits(program: Command): void {
  program
    .command('logits')
    .description('teacher-forced next-token logits (or log-probabilities) at every position of a token sequence, as JSON')
    .argument('<model>', 'Hugging Face folder, .gguf file or llama2.c .bin checkpoint')
    .option('--ids <ids>', 'the token ids, comma-separated (BOS included if wanted)')
    .option('--text <text>', 'a text, tokenized as generate tokenizes a prompt (BOS where the tokenizer adds one)')
    .option('--logprobs', 'log-probabilities (log-softmax in float64) instead of logits')
    .option('--top <k>', 'only the k largest per position, as [id, value] pairs', int('--top', 1))
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin (default: beside a .bin model)')
    .option('--mutate <key...>', 'apply mutants first (keys as stores and exports print them)')
    .option('--backend <name>', 'auto | ts | native (default: MUTASCAN_BACKEND, else native when built)')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .action(async (modelPath: string, o: { ids?: string; text?: string; logprobs?: boolean; top?: number; tokenizer?: string; mutate?: string[]; backend?: string; threads?: number }) => {
      if ((o.ids === undefined) === (o.text === undefined)) fail('give the tokens as --ids 1,2,3 or as --text "…" (one of the two)', '--ids / --text');
      const model = await openModel(modelPath, { tokenizer: o.tokenizer, backend: o.backend as 'auto' | 'ts' | 'native' | undefined, threads: o.threads });
      const V = model.config.vocabSize;
      const ids =
        o.text !== undefined
          ? model.tokenize(o.text)
          : o.ids!.split(',').map((x, i) => {
              const n = Number(x.trim());
              if (!Number.isInteger(n) || n < 0 || n >= V) fail(`--ids: item ${i} ("${x}") is not a token id of this model (0…${V - 1})`, '--ids');
              return n;
            });
      if (!ids.length) fail('no tokens: the text tokenizes to nothing', '--text', 'give a longer text, or --ids');
      if (ids.length > model.config.maxSeqLen) fail(`${ids.length} tokens are more than the model's context of ${model.config.maxSeqLen}`, '--ids / --text');
      for (const key of o.mutate ?? []) model.mutate(key);
      const rows = (o.logprobs ? model.logprobs(ids) : model.logits(ids)).map((values) => {
        if (o.top === undefined) return Array.from(values);
        const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b).slice(0, o.top);
        return order.map((t) => [t, values[t]]);
      });
      process.stdout.write(JSON.stringify({ ids, vocab_size: V, [o.logprobs ? 'logprobs' : 'logits']: rows }) + '\n');
    });
}
