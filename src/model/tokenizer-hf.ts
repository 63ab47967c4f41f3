import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from './tokenizer.js';

/** A Hugging Face tokenizer.json, through @huggingface/tokenizers. */
export class HfTokenizerAdapter implements Tokenizer {
  readonly vocabSize: number;
  constructor(
    private readonly tok: HfTokenizer,
    readonly bosId: number,
  ) {
    this.vocabSize = tok.get_vocab(true).size;
  }

  static fromJson(tokenizerJson: object, tokenizerConfig: object, bosId: number): HfTokenizerAdapter {
    return new HfTokenizerAdapter(new HfTokenizer(tokenizerJson, tokenizerConfig), bosId);
  }

  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return (opts.bos ?? true) && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  /** SentencePiece-style decoders drop a leading space, so decode prompt+continuation and cut off the prompt. */
  decodeContinuation(promptIds: readonly number[], ids: readonly number[]): string {
    const opts = { skip_special_tokens: true };
    const head = this.tok.decode([...promptIds], opts);
    const all = this.tok.decode([...promptIds, ...ids], opts);
    return all.startsWith(head) ? all.slice(head.length) : this.tok.decode([...ids], opts);
  }

  tokenText(id: number): string {
    return this.tok.decode([id], { skip_special_tokens: false });
  }
}
