/**
 * llama.cpp, through node-llama-cpp's CPU build, as the engine nobody here wrote: teacher-forced log-probabilities
 * and greedy continuations of a GGUF file.
 *
 * Its KV cache is F32: with the default F16 cache llama.cpp rounds every key and value to half precision, and its
 * log-probabilities then differ from run.c's by up to 6e-2; with F32 by under 4e-5.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';

let llama: Promise<Llama> | undefined;

function runtime(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  return llama;
}

export interface LlamaCppRun {
  /** per position, log-probabilities of every token llama.cpp gave a probability (the next token's distribution) */
  logprobs: Map<number, number>[];
}

/**
 * Contexts get room to spare: a sequence that fills its context makes node-llama-cpp shift the context (drop its
 * first tokens) before the last evaluation, which changes that position's distribution.
 */
async function withModel<T>(file: string, contextSize: number, threads: number, f: (m: LlamaModel, evaluate: (ids: number[], wantAll: boolean) => Promise<Map<number, number>[]>) => Promise<T>): Promise<T> {
  const l = await runtime();
  const model = await l.loadModel({ modelPath: file, useMmap: true });
  try {
    const ctx = await model.createContext({ contextSize, threads, batchSize: contextSize, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
    try {
      const seq = ctx.getSequence();
      const evaluate = async (ids: number[], wantAll: boolean): Promise<Map<number, number>[]> => {
        const input = ids.map((t, i) => (wantAll || i === ids.length - 1 ? ([t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] as const) : t));
        const res = await seq.controlledEvaluate(input as Parameters<typeof seq.controlledEvaluate>[0]);
        const out: Map<number, number>[] = [];
        res.forEach((r) => {
          const p = r?.next?.probabilities;
          if (p) out.push(new Map([...p.entries()].map(([t, v]) => [t as number, Math.log(v)])));
        });
        return out;
      };
      return await f(model, evaluate);
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Log-probabilities of the next token at every position of `ids` (teacher-forced, one batch). */
export async function llamaCppLogprobs(file: string, ids: number[], threads = 2): Promise<Map<number, number>[]> {
  return withModel(file, ids.length + 32, threads, (_m, evaluate) => evaluate(ids, true));
}

/** Greedy continuation of `prompt` for `n` tokens: each step's choice and its top-2 log-probability gap. */
export async function llamaCppGreedy(file: string, prompt: number[], n: number, threads = 2): Promise<{ ids: number[]; gaps: number[] }> {
  return withModel(file, prompt.length + n + 32, threads, async (_m, evaluate) => {
    const ids: number[] = [];
    const gaps: number[] = [];
    let next = (await evaluate(prompt, false))[0];
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bv = -Infinity;
      let second = -Infinity;
      for (const [t, v] of next) {
        if (v > bv || (v === bv && t < best)) {
          second = bv;
          bv = v;
          best = t;
        } else if (v > second) second = v;
      }
      ids.push(best);
      gaps.push(bv - second);
      if (i + 1 < n) next = (await evaluate([best], false))[0];
    }
    return { ids, gaps };
  });
}

/** llama.cpp's tokens of each text (no BOS added; special tokens written in the text are parsed, as a rendered chat template needs), and its text of them (special tokens left out). */
export async function llamaCppTokenize(file: string, texts: string[]): Promise<{ ids: number[]; text: string }[]> {
  const l = await runtime();
  const model = await l.loadModel({ modelPath: file, useMmap: true });
  try {
    return texts.map((t) => {
      const tokens = model.tokenize(t, true);
      return { ids: tokens.map(Number), text: model.detokenize(tokens, false) };
    });
  } finally {
    await model.dispose();
  }
}
