import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

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
  ) {
    this.vocabSize = tok.get_vocab(true).size;
  }

  /**
   * Whether a text starts with BOS: as tokenizer_config.json's add_bos_token says, else as the tokenizer's own
   * post-processor does (Llama 3 adds <|begin_of_text|> there; Qwen adds nothing).
   */
  static fromJson(tokenizerJson: Json, tokenizerConfig: Json, bosId: number): HfTokenizerAdapter {
    const tok = new HfTokenizer(tokenizerJson, tokenizerConfig);
    const said = tokenizerConfig.add_bos_token;
    const addsBos = typeof said === 'boolean' ? said : tok.encode('a', { add_special_tokens: true }).ids[0] === bosId;
    return new HfTokenizerAdapter(tok, bosId, addsBos, tokenizerJson, tokenizerConfig);
  }

  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return (opts.bos ?? true) && this.addsBos && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  /** SentencePiece-style decoders drop a leading space, so decode prompt+continuation and cut off the prompt. */
  decodeContinuation(promptIds: readonly number[], ids: readonly number[]): string {
    const opts = { skip_special_tokens: true };
    // (the library refuses to decode nothing)
    const decode = (x: readonly number[]): string => (x.length ? this.tok.decode([...x], opts) : '');
    const head = decode(promptIds);
    const all = decode([...promptIds, ...ids]);
    return all.startsWith(head) ? all.slice(head.length) : decode(ids);
  }

  tokenText(id: number): string {
    return this.tok.decode([id], { skip_special_tokens: false });
  }
}
