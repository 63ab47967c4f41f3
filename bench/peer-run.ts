/**
 * One engine's speed on one GGUF file, in a process of its own (so that its memory is its own): prompt
 * processing (a prompt of PREFILL tokens, one call) and decoding (one token per step after it), each repeated
 * until about SECONDS have passed; then the process's peak resident memory. Prints one line of JSON.
 *
 *   tsx bench/peer-run.ts mutascan|llamacpp FILE THREADS PREFILL DECODE SECONDS
 *
 * llama.cpp runs through node-llama-cpp's CPU build with an F32 KV cache (mutascan's keys and values are F32;
 * llama.cpp's default F16 cache would make its numbers differ from run.c's by up to 6e-2) and greedy sampling.
 */
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { selectBackend } from '../src/backend/select.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';

const [engine, file, threadsArg, prefillArg, decodeArg, secondsArg, vocabArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const PREFILL = Number(prefillArg);
const DECODE = Number(decodeArg);
const SECONDS = Number(secondsArg);
/** A prompt of ordinary token ids, the same for both engines. */
const ids = Array.from({ length: PREFILL }, (_, i) => 3 + ((i * 7919) % Math.min(Number(vocabArg) - 3, 30000)));

/** Runs `f` until about SECONDS have passed (at least twice); returns its calls per second. */
async function perSecond(f: () => unknown): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  do {
    await f();
    n++;
  } while (n < 2 || performance.now() - t0 < SECONDS * 1000);
  return n / ((performance.now() - t0) / 1000);
}

/** DECODE steps after the prompt, repeated until SECONDS of steps (only the steps timed); steps per second. */
async function decodeRate(start: () => Promise<unknown> | unknown, steps: () => Promise<number>): Promise<number> {
  let time = 0;
  let n = 0;
  while (n < 2 * DECODE || time < SECONDS * 1000) {
    await start();
    const t1 = performance.now();
    n += await steps();
    time += performance.now() - t1;
  }
  return n / (time / 1000);
}

async function mutascan(): Promise<{ prefill: number; decode: number }> {
  const backend = await selectBackend('native', threads);
  const model = loadModel(file);
  const tf = new Transformer(model.config, model.weights, backend);
  const fresh = () => tf.newCache(PREFILL + DECODE);
  tf.forward([{ cache: fresh(), tokens: ids }], 'last'); // pages in, workspace made
  const prefill = PREFILL * (await perSecond(() => tf.forward([{ cache: fresh(), tokens: ids }], 'last')));
  let cache = fresh();
  const decode = await decodeRate(
    () => {
      cache = fresh();
      tf.forward([{ cache, tokens: ids }], 'last');
    },
    async () => {
      for (let s = 0; s < DECODE; s++) tf.forward([{ cache, tokens: [ids[s % PREFILL]] }], 'last');
      return DECODE;
    },
  );
  return { prefill, decode };
}

async function llamacpp(): Promise<{ prefill: number; decode: number }> {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: file, useMmap: true });
  const ctx = await model.createContext({ contextSize: PREFILL + DECODE + 16, threads, batchSize: PREFILL, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
  const seq = ctx.getSequence();
  const tokens = ids as never[];
  const once = async () => {
    await seq.clearHistory();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
  };
  await once();
  const prefill = PREFILL * (await perSecond(once));
  const decode = await decodeRate(once, async () => {
    let k = 0;
    for await (const _ of seq.evaluate([tokens[0]], { temperature: 0 })) if (++k >= DECODE) break;
    return k;
  });
  await ctx.dispose();
  await model.dispose();
  return { prefill, decode };
}

const r = engine === 'mutascan' ? await mutascan() : await llamacpp();
// the peak of this process's own address space: Linux carries getrusage's maxrss over fork and exec, so it
// would report the parent's size when that was larger
const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
process.stdout.write(JSON.stringify({ ...r, maxRssMiB: hwm }) + '\n');
process.exit(0);
