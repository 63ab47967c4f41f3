/** What the engine needs from any tokenizer, whichever file it came from. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  /** Ids of `text`, with a leading BOS when asked (the engine never appends EOS). */
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** Text of `ids` as they would be printed after `promptIds`. */
  decodeContinuation(promptIds: readonly number[], ids: readonly number[]): string;
  /** A readable form of one token, for reports. */
  tokenText(id: number): string;
}
