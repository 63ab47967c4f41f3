import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * llama2.c's tokenizer.bin and the exact encode/decode of its run.c, so that a prompt gives the same ids
 * here as there. Pieces are kept as byte strings (one char per byte) because run.c compares bytes with strcmp.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  private readonly lookup = new Map<string, number>();

  constructor(
    readonly pieces: string[],
    readonly scores: Float32Array,
    readonly maxTokenLength: number,
  ) {
    // run.c binary-searches a sorted copy; with duplicate pieces the first id is the stable choice.
    pieces.forEach((p, i) => {
      if (!this.lookup.has(p)) this.lookup.set(p, i);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Reads every token of the file (the format does not store the count). */
  static loadAll(file: string): Llama2cTokenizer {
    const buf = readFileSync(file);
    let n = 0;
    for (let off = 4; off + 8 <= buf.length; n++) {
      const len = buf.readInt32LE(off + 4);
      // a length that is negative or runs past the end: counted, so that load names the token
      if (len < 0 || off + 8 + len > buf.length) {
        n++;
        break;
      }
      off += 8 + len;
    }
    return Llama2cTokenizer.load(file, n);
  }

  static load(file: string, vocabSize: number): Llama2cTokenizer {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (e) {
      fail(`cannot read tokenizer: ${(e as Error).message}`, file, 'pass --tokenizer with the model\'s tokenizer.bin');
    }
    if (buf.length < 4) fail('tokenizer file is too short to hold a header', file);
    const maxTokenLength = buf.readInt32LE(0);
    if (maxTokenLength <= 0 || maxTokenLength > 1 << 16)
      fail(`tokenizer header has an impossible max_token_length ${maxTokenLength}`, file, 'is this a llama2.c tokenizer.bin?');
    const pieces: string[] = [];
    const scores = new Float32Array(vocabSize);
    let off = 4;
    for (let i = 0; i < vocabSize; i++) {
      if (off + 8 > buf.length)
        fail(
          `tokenizer holds only ${i} tokens but the model's vocabulary has ${vocabSize}`,
          file,
          'use the tokenizer that was trained with this model',
        );
      scores[i] = buf.readFloatLE(off);
      const len = buf.readInt32LE(off + 4);
      off += 8;
      if (len < 0 || off + len > buf.length) fail(`token ${i} has a length (${len}) past the end of the file`, file, 'the file is truncated or corrupt');
      pieces.push(buf.toString('latin1', off, off + len));
      off += len;
    }
    if (off !== buf.length)
      fail(
        `tokenizer has more than ${vocabSize} tokens (${buf.length - off} bytes left after token ${vocabSize - 1})`,
        file,
        "the model's vocab_size disagrees with this tokenizer: use the tokenizer trained with this model",
      );
    return new Llama2cTokenizer(pieces, scores, maxTokenLength);
  }

  /** run.c encode(): byte-level start, then repeatedly merge the adjacent pair whose union scores best. */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const bytes = Buffer.from(text, 'utf8');
    const tokens: number[] = [];
    if (opts.bos ?? true) tokens.push(this.bosId);
    if (bytes.length > 0) {
      const prefix = this.lookup.get(' ');
      if (prefix !== undefined) tokens.push(prefix);
    }
    let str = '';
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if ((c & 0xc0) !== 0x80) str = '';
      str += String.fromCharCode(c);
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && str.length < 4) continue;
      const id = this.lookup.get(str);
      if (id !== undefined) tokens.push(id);
      else for (let k = 0; k < str.length; k++) tokens.push(str.charCodeAt(k) + 3);
      str = '';
    }
    // Each adjacent pair's merged id (or -1) is kept and only the merged token's two pairs are looked up again:
    // the same merges in the same order as run.c's rescan of every pair, without building every pair's string
    // on every round (a 5-shot MMLU prompt took a third of a second).
    const merged = (a: number, b: number): number => this.lookup.get(this.pieces[a] + this.pieces[b]) ?? -1;
    const pair: number[] = [];
    for (let i = 0; i + 1 < tokens.length; i++) pair.push(merged(tokens[i], tokens[i + 1]));
    for (;;) {
      let bestScore = -1e10;
      let bestIdx = -1;
      for (let i = 0; i < pair.length; i++) {
        const id = pair[i];
        if (id >= 0 && this.scores[id] > bestScore) {
          bestScore = this.scores[id];
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, pair[bestIdx]);
      pair.splice(bestIdx, 1);
      if (bestIdx > 0) pair[bestIdx - 1] = merged(tokens[bestIdx - 1], tokens[bestIdx]);
      if (bestIdx + 1 < tokens.length) pair[bestIdx] = merged(tokens[bestIdx], tokens[bestIdx + 1]);
    }
    return tokens;
  }

  /**
   * run.c decode() + safe_printf(): the bytes printed for `id` following `prev`. Unlike safe_printf we keep
   * byte-fallback bytes ≥ 0x80, so characters outside the vocabulary come back as UTF-8 instead of vanishing;
   * control bytes are still dropped.
   */
  pieceBytes(prev: number, id: number): string {
    let piece = this.pieces[id] ?? '';
    if (prev === this.bosId && piece[0] === ' ') piece = piece.slice(1);
    const m = /^<0x([0-9A-Fa-f]{1,2})/.exec(piece);
    if (m) piece = String.fromCharCode(parseInt(m[1], 16));
    if (piece.length === 1) {
      const b = piece.charCodeAt(0);
      const control = (b < 0x20 && !(b >= 0x09 && b <= 0x0d)) || b === 0x7f;
      if (control) return '';
    }
    return piece;
  }

  decodeContinuation(promptIds: readonly number[], ids: readonly number[]): string {
    let prev = promptIds.length ? promptIds[promptIds.length - 1] : this.bosId;
    let out = '';
    for (const id of ids) {
      if (id === this.bosId) break; // run.c stops before printing a sampled BOS
      out += this.pieceBytes(prev, id);
      prev = id;
    }
    return Buffer.from(out, 'latin1').toString('utf8');
  }

  tokenText(id: number): string {
    return Buffer.from(this.pieces[id] ?? '', 'latin1').toString('utf8');
  }
}
