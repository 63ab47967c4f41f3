/**
 * llama.cpp's least cost per mutant, in a process of its own: the time one generation takes on a GGUF file
 * (the prompt's ids processed in one call, then TOKENS sampled tokens, one per step), which any loop that screens
 * a mutant by generating its output with llama.cpp pays at least once per mutant (rewriting the weights between
 * mutants not counted). Prints one line of JSON: the seconds of each of REPEATS generations and the tokens each
 * produced.
 *
 *   tsx bench/peer-generate.ts FILE THREADS TOKENS TEMPERATURE SEED REPEATS ID,ID,…
 *
 * node-llama-cpp's CPU build with an F32 KV cache, as bench/peer-run.ts runs it.
 */
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [file, threadsArg, tokensArg, temperatureArg, seedArg, repeatsArg, idsArg] = process.argv.slice(2);
const TOKENS = Number(tokensArg);
const ids = idsArg.split(',').map(Number) as never[];

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath: file, useMmap: true });
const ctx = await model.createContext({ contextSize: ids.length + TOKENS + 16, threads: Number(threadsArg), batchSize: ids.length, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
const seq = ctx.getSequence();

/** One generation: the prompt, then TOKENS sampled tokens (an end-of-text token does not stop it: a mutant's output runs to its length). */
async function generate(): Promise<number> {
  await seq.clearHistory();
  let k = 0;
  for await (const _ of seq.evaluate(ids, { temperature: Number(temperatureArg), seed: Number(seedArg) })) if (++k >= TOKENS) break;
  return k;
}

await generate(); // pages the weights in
const seconds: number[] = [];
const tokens: number[] = [];
for (let r = 0; r < Number(repeatsArg); r++) {
  const t = performance.now();
  tokens.push(await generate());
  seconds.push((performance.now() - t) / 1000);
}
await ctx.dispose();
await model.dispose();
process.stdout.write(JSON.stringify({ seconds, tokens }) + '\n');
process.exit(0);
