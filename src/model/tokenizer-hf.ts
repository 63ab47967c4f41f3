import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { fail } from '../errors.js';
import type { Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

/** More tokens than any vocabulary has (the largest published are about 256k). */
const MAX_TOKENS = 1 << 22;

/**
 * Every id the file gives a token (the model's vocabulary, the added tokens) is a whole number within reach:
 * the library sizes its tables by the largest id, so one id of 2^31 costs minutes and gigabytes. (Whether the
 * vocabulary fits the model's is checked where both are known, load-hf.ts.)
 */
function checkIds(json: Json, limit: number, source?: string): void {
  const model = json.model as Json | undefined;
  const vocab = model?.vocab;
  const check = (token: unknown, id: unknown): void => {
    if (!(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < limit))
      fail(`the tokenizer gives ${JSON.stringify(token)?.slice(0, 40)} the id ${JSON.stringify(id)}, not a whole number below ${limit.toLocaleString('en-US')}`, source, 'the tokenizer file is damaged, or belongs to another model');
  };
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) for (const token in vocab) check(token, (vocab as Json)[token]);
  if (Array.isArray(json.added_tokens)) for (const t of json.added_tokens as (Json | null)[]) check(t?.content, t?.id);
}

/**
 * A Hugging Face tokenizer.json, through @huggingface/tokenizers. It keeps the JSON it was made from, so that the
 * writers can put the same vocabulary into a GGUF file or another folder.
 */
export class HfTokenizerAdapter implements Tokenizer {
  readonly vocabSize: number;
  private constructor(
    private readonly tok: HfTokenizer,
    readonly bosId: number,
    /** whether the model's own tokenizer starts a text with BOS (Llama: yes; Qwen: no) */
    readonly addsBos: boolean,
    readonly json: Json,
    readonly config: Json,
    /** the file it came from, for messages */
    readonly source?: string,
  ) {
    this.vocabSize = tok.get_vocab(true).size;
  }

  /** The library's exceptions (a tokenizer.json it accepted but cannot run) as a message naming the file. */
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      fail(`the tokenizer failed to ${what}: ${(e as Error)?.message ?? e}`, this.source, 'the tokenizer file is damaged or of a kind mutascan cannot run');
    }
  }

  /**
   * Whether a text starts with BOS: as tokenizer_config.json's add_bos_token says, else as the tokenizer's own
   * post-processor does (Llama 3 adds <|begin_of_text|> there; Qwen adds nothing).
   */
  static fromJson(tokenizerJson: Json, tokenizerConfig: Json, bosId: number, source?: string): HfTokenizerAdapter {
    checkIds(tokenizerJson, MAX_TOKENS, source);
    const tok = new HfTokenizer(tokenizerJson, tokenizerConfig);
    const said = tokenizerConfig.add_bos_token;
    const addsBos = typeof said === 'boolean' ? said : tok.encode('a', { add_special_tokens: true }).ids[0] === bosId;
    const t = new HfTokenizerAdapter(tok, bosId, addsBos, tokenizerJson, tokenizerConfig, source);
    // once through every part (normalizer, pre-tokenizer, model, post-processor, decoder) while the file is at hand
    const probe = t.encode('Once upon a time, \u00e9\u4e2d\ud83d\ude00 12');
    t.decodeContinuation(probe.slice(0, 2), probe.slice(2));
    tok.encode('a', { add_special_tokens: true });
    return t;
  }

  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.guard('encode a text', () => this.tok.encode(text, { add_special_tokens: false }).ids);
    return (opts.bos ?? true) && this.addsBos && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  /** SentencePiece-style decoders drop a leading space, so decode prompt+continuation and cut off the prompt. */
  decodeContinuation(promptIds: readonly number[], ids: readonly number[]): string {
    const opts = { skip_special_tokens: true };
    // (the library refuses to decode nothing)
    const decode = (x: readonly number[]): string => (x.length ? this.guard('decode tokens', () => this.tok.decode([...x], opts)) : '');
    const head = decode(promptIds);
    const all = decode([...promptIds, ...ids]);
    return all.startsWith(head) ? all.slice(head.length) : decode(ids);
  }

  tokenText(id: number): string {
    return this.guard('decode a token', () => this.tok.decode([id], { skip_special_tokens: false }));
  }
}
