/**
 * npm run bench:tokenize — the llama2.c tokenizer (run.c's merge rule) on the choice assay's prompts: 5-shot MMLU
 * prompts as the assay builds them (the first PER test questions of every subject, default 2), with the Llama 2
 * vocabulary and stories260K's. Prints milliseconds per prompt and tokens per prompt (what an MMLU21 screen
 * feeds per question). Printed, not asserted.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { choicePrompt, loadQuestionSet } from '../src/assays/mmlu.js';
import { Llama2cTokenizer } from '../src/model/tokenizer-llama2c.js';

const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const per = Number(process.env.PER ?? 2);
const set = loadQuestionSet(join(SHARED, 'data', 'mmlu'));
const prompts: string[] = [];
for (const [subject, tests] of set.test) {
  const dev = (set.dev.get(subject) ?? []).slice(0, 5);
  for (const q of tests.slice(0, per)) prompts.push(choicePrompt(subject, dev, q));
}
for (const [name, file] of [['Llama 2', join(SHARED, 'tokenizers', 'llama2', 'tokenizer.bin')], ['stories260K tok512', join(SHARED, 'models', 'stories260K', 'tok512.bin')]]) {
  const tok = Llama2cTokenizer.loadAll(file);
  tok.encode(prompts[0]);
  const t0 = performance.now();
  let tokens = 0;
  for (const p of prompts) tokens += tok.encode(p, { bos: true }).length;
  const ms = performance.now() - t0;
  console.log(`${name}: ${prompts.length} 5-shot MMLU prompts (${set.test.size} subjects), ${(ms / prompts.length).toFixed(2)} ms and ${(tokens / prompts.length).toFixed(1)} tokens per prompt`);
}
