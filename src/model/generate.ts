import { fail } from '../errors.js';
import type { Transformer } from './forward.js';
import type { Model } from './model.js';
import { Rng, type Sampling } from './sampler.js';

export interface GenerateSettings extends Sampling {
  /**
   * Positions evaluated, prompt included: run.c's `steps`. The model samples `maxLength − prompt + 1` tokens
   * (the last one is never fed back), so prompt + output = maxLength + 1 tokens. Clamped to the context.
   */
  maxLength?: number;
  /** Alternatively, the number of tokens to sample. */
  maxNewTokens?: number;
}

export interface Generation {
  promptIds: number[];
  /** generated ids only; a final stop token included */
  ids: number[];
  text: string;
  /** each step's decision margin (see sampler.ts) */
  margins: number[];
}

/**
 * Refuses a length the context cannot hold, where a person asked for it: run.c would cut it to the context
 * silently, and a screen would then measure something shorter than its file says.
 */
export function checkLength(promptLength: number, s: Pick<GenerateSettings, 'maxLength' | 'maxNewTokens'>, maxSeqLen: number): void {
  const room = maxSeqLen - promptLength + 1;
  if (s.maxLength !== undefined && s.maxLength > maxSeqLen)
    fail(`max_length ${s.maxLength} is longer than the model's context of ${maxSeqLen}`, undefined, `give max_length ≤ ${maxSeqLen}, or max_new_tokens ≤ ${room}`);
  if (s.maxNewTokens !== undefined && s.maxNewTokens > room)
    fail(`the prompt (${promptLength} tokens) and max_new_tokens ${s.maxNewTokens} need more than the model's context of ${maxSeqLen}`, undefined, `give max_new_tokens ≤ ${room}`);
}

/** How many tokens a generation samples at most, from the settings and the context size. */
export function sampleBudget(promptLength: number, s: GenerateSettings, maxSeqLen: number): number {
  if (promptLength < 1) fail('the prompt has no tokens', undefined, 'generation needs at least a BOS token');
  if (promptLength > maxSeqLen)
    fail(`the prompt is ${promptLength} tokens, longer than the model's context of ${maxSeqLen}`, undefined, 'shorten the prompt');
  const room = maxSeqLen - promptLength + 1;
  if (s.maxNewTokens !== undefined) return Math.min(s.maxNewTokens, room);
  const steps = s.maxLength === undefined || s.maxLength <= 0 || s.maxLength > maxSeqLen ? maxSeqLen : s.maxLength;
  return Math.max(0, steps - promptLength + 1);
}

/** Generates from prompt ids exactly as run.c's generate(): prefill, then one sampled token per step. */
export function generateIds(tf: Transformer, promptIds: readonly number[], s: GenerateSettings, stopIds: readonly number[]): { ids: number[]; margins: number[] } {
  const n = sampleBudget(promptIds.length, s, tf.config.maxSeqLen);
  const ids: number[] = [];
  const margins: number[] = [];
  if (n === 0) return { ids, margins };
  const cache = tf.newCache(promptIds.length + n - 1);
  let logits = tf.forward([{ cache, tokens: promptIds }], 'last');
  const rng = new Rng(s.seed);
  // the backend's sampler: the same choice as sampler.ts's `choose`, in native code where there is one
  const token = new Int32Array(1);
  const margin = new Float64Array(1);
  const coin = new Float64Array(1);
  for (let step = 0; step < n; step++) {
    coin[0] = s.temperature === 0 ? 0 : rng.nextF32();
    tf.backend.sampleRows(token, margin, logits, 1, tf.config.vocabSize, s, coin);
    ids.push(token[0]);
    margins.push(margin[0]);
    if (stopIds.includes(token[0]) || step === n - 1) break;
    logits = tf.forward([{ cache, tokens: [token[0]] }], 'last');
  }
  return { ids, margins };
}

/** The prompt ids an assay or the CLI feeds: raw text with BOS, or the model's chat template. */
export function promptIds(model: Model, prompt: string, chat = false): number[] {
  if (!chat) return model.tokenizer.encode(prompt, { bos: true });
  if (!model.chatTemplate)
    fail('this model has no chat template', model.source.path, 'drop --chat / chat: true, or use a folder whose tokenizer_config.json has "chat_template"');
  return model.tokenizer.encode(model.chatTemplate.renderUser(prompt), { bos: false });
}

export function generate(model: Model, tf: Transformer, prompt: string, s: GenerateSettings, chat = false): Generation {
  const ids0 = promptIds(model, prompt, chat);
  const { ids, margins } = generateIds(tf, ids0, s, model.config.stopIds);
  return { promptIds: ids0, ids, margins, text: model.tokenizer.decodeContinuation(ids0, ids) };
}
