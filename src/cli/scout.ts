import type { Command } from 'commander';
import { openModel } from '../index.js';
import { int } from './options.js';

const g = (x: number): string => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-2 && x !== 0) ? x.toExponential(2) : x.toFixed(2));

export function registerScout(program: Command): void {
  program
    .command('scout')
    .description('one instrumented pass: super-activation channels at each layer\'s down_proj output and the single weights feeding them, as candidates for an element screen')
    .argument('<model>', 'Hugging Face folder, .gguf file or llama2.c .bin checkpoint')
    .option('--prompt <text>', 'text to run (BOS first where the tokenizer adds one)', 'Once upon a time')
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin (default: beside a .bin model)')
    .option('--top <n>', 'candidates to list', int('--top', 1), 5)
    .option('--backend <name>', 'auto | ts | native')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .option('--json', 'print the candidates as JSON')
    .action(async (modelPath: string, o) => {
      const opened = await openModel(modelPath, { tokenizer: o.tokenizer, backend: o.backend, threads: o.threads });
      const ids = opened.promptIds(o.prompt);
      const found = opened.scoutSuperWeights(ids).slice(0, o.top);
      if (o.json) {
        process.stdout.write(JSON.stringify(found) + '\n');
        return;
      }
      const out = [`${ids.length} tokens; per layer, down_proj's strongest output channel, ranked by its peak over the median channel's:`];
      found.forEach((c, i) =>
        out.push(
          `${i + 1}. layer ${c.layer} down_proj [${c.row}, ${c.col}] = ${g(c.weight)}: output channel ${c.row} peaks at |${g(c.peak)}| (${g(c.ratio)}× the median channel) at position ${c.position}; this weight gives ${(100 * c.share).toFixed(0)} % of it, its input channel ${c.col} at ${g(c.input)} (${g(c.inputRatio)}× the median input)\n   try: mutascan generate ${modelPath} --prompt ${JSON.stringify(o.prompt)} --mutate ${c.key}`,
        ),
      );
      process.stdout.write(out.join('\n') + '\n');
    });
}
