/**
 * Vocabularies in GGUF metadata, read and written. Two kinds exist in the files of the families mutascan opens:
 *
 * - `llama`: SentencePiece-style pieces with scores (Llama 1/2, Mistral, Gemma, Phi-3). They become run.c's
 *   tokenizer, whose merge-by-score rule is the one llama.cpp's SPM tokenizer applies.
 * - `gpt2`: byte-level BPE with a merge list and a named pre-tokenizer (Llama 3, Qwen 2/3, OLMo 2, SmolLM). They
 *   become a tokenizer.json run by @huggingface/tokenizers: the file's tokens and merges, and the pre-tokenizer's
 *   regular expressions as llama.cpp's src/llama-vocab.cpp lists them for that name.
 *
 * Token types are llama.cpp's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
 */
import { fail, MutascanError } from '../errors.js';
import type { GgufEntry, GgufFile, GgufValue } from './gguf.js';
import type { ModelConfig } from './config.js';
import { HfTokenizerAdapter } from './tokenizer-hf.js';
import { Llama2cTokenizer } from './tokenizer-llama2c.js';
import type { Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

// The pre-tokenizers' expressions (llama.cpp's forms: JavaScript has no inline (?i:…) before Node 23).
const LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

interface PreTokenizer {
  /** applied one after the other, each splitting what the one before left (matches kept as pieces of their own) */
  regexes: string[];
  /** a whole piece that is itself a token is taken as it is, before any merge (Llama 3) */
  ignoreMerges?: boolean;
  /** whether a text starts with BOS when the file does not say (llama.cpp's default for the name) */
  addsBos?: boolean;
}

const LLAMA3_PRE: PreTokenizer = { regexes: [LLAMA3], ignoreMerges: true, addsBos: true };

/** llama.cpp's pre-tokenizer names (tokenizer.ggml.pre) that mutascan reads. */
const PRE: Record<string, PreTokenizer> = {
  'llama-bpe': LLAMA3_PRE,
  llama3: LLAMA3_PRE,
  'llama-v3': LLAMA3_PRE,
  dbrx: { regexes: [LLAMA3] },
  'smaug-bpe': { regexes: [LLAMA3] },
  qwen2: { regexes: [QWEN2] },
  'deepseek-r1-qwen': { regexes: [QWEN2] },
  'gpt-2': { regexes: [GPT2] },
  olmo: { regexes: [GPT2] },
  smollm: { regexes: ['\\p{N}', GPT2] },
  starcoder: { regexes: ['\\p{N}', GPT2] },
  default: { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'] },
};

/** Hugging Face's own expressions of the pre-tokenizers a tokenizer.json can name, and their llama.cpp name. */
const HF_PRE: [string, string][] = [
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'llama-bpe'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen2'],
];

const describe = (v: GgufValue | undefined): string => (typeof v === 'string' ? `"${v}"` : v === undefined ? 'missing' : typeof v);

/** The tokenizer a GGUF file's metadata describes (`vocabSize`: the embedding's rows, which it must fit in). */
export function readGgufTokenizer(g: GgufFile, vocabSize: number): Tokenizer {
  const md = g.metadata;
  const kind = md.get('tokenizer.ggml.model');
  if (kind === undefined) fail('the file has no tokenizer (tokenizer.ggml.model)', g.file, 'convert the model again with its tokenizer');
  const tokens = md.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) fail('tokenizer.ggml.tokens is not an array of strings', g.file, 'the header is corrupt');
  if (tokens.length > vocabSize) fail(`the tokenizer has ${tokens.length} tokens but the embedding only ${vocabSize} rows`, g.file, 'the tokenizer does not belong to this model');
  const built = (f: () => Tokenizer): Tokenizer => {
    try {
      return f();
    } catch (e) {
      if (e instanceof MutascanError) throw e;
      return fail(`the tokenizer could not be built: ${(e as Error).message}`, g.file);
    }
  };
  if (kind === 'llama') return built(() => spmTokenizer(g, tokens as string[]));
  if (kind === 'gpt2') return built(() => bpeTokenizer(g, tokens as string[]));
  return fail(`tokenizer type ${describe(kind)} is not supported`, g.file, 'mutascan reads SentencePiece ("llama") and byte-level BPE ("gpt2") GGUF vocabularies; open the Hugging Face folder instead');
}

function spmTokenizer(g: GgufFile, tokens: string[]): Tokenizer {
  const scores = g.metadata.get('tokenizer.ggml.scores');
  const sc = scores instanceof Float32Array ? scores : new Float32Array(tokens.length);
  if (sc.length !== tokens.length) fail(`tokenizer.ggml.scores has ${sc.length} entries for ${tokens.length} tokens`, g.file, 'the header is corrupt');
  // run.c compares pieces as byte strings: one char per UTF-8 byte; GGUF's U+2581 is a space
  const pieces = tokens.map((t) => Buffer.from(t.replaceAll('\u2581', ' '), 'utf8').toString('latin1'));
  return new Llama2cTokenizer(pieces, sc, pieces.reduce((a, p) => Math.max(a, p.length), 1));
}

function bpeTokenizer(g: GgufFile, tokens: string[]): Tokenizer {
  const md = g.metadata;
  const preName = md.get('tokenizer.ggml.pre') ?? 'default';
  if (typeof preName !== 'string' || !(preName in PRE))
    fail(`pre-tokenizer ${describe(preName)} (tokenizer.ggml.pre) is not one mutascan knows`, g.file, `it reads ${Object.keys(PRE).join(', ')}; open the Hugging Face folder instead`);
  const pre = PRE[preName];
  const merges = md.get('tokenizer.ggml.merges');
  if (!Array.isArray(merges) || !merges.every((m) => typeof m === 'string' && m.includes(' '))) fail('tokenizer.ggml.merges is not a list of "left right" pairs', g.file, 'the header is corrupt');
  const types = md.get('tokenizer.ggml.token_type');
  const type = (i: number): number => (types instanceof Int32Array ? types[i] : 1);
  const vocab: Json = {};
  const added: Json[] = [];
  tokens.forEach((t, id) => {
    const ty = type(id);
    if (ty === 3 || ty === 4) added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: ty === 4, special: ty === 3 });
    if (!(t in vocab)) vocab[t] = id;
  });
  const json: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...pre.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: pre.ignoreMerges === true, vocab, merges,
    },
  };
  const bos = md.get('tokenizer.ggml.bos_token_id');
  const bosId = typeof bos === 'number' ? bos : -1;
  const said = md.get('tokenizer.ggml.add_bos_token');
  const addsBos = (typeof said === 'boolean' ? said : pre.addsBos === true) && bosId >= 0;
  return HfTokenizerAdapter.fromJson(json, { add_bos_token: addsBos }, bosId);
}

/** What a vocabulary is written for: the model's config, its tokenizer, and where it came from (for messages). */
interface VocabularyOf {
  config: ModelConfig;
  tokenizer: Tokenizer;
  source: { path: string };
}

/** The tokenizer.* keys of a GGUF file for the model's vocabulary, padded with unused tokens to the embedding's rows. */
export function ggufTokenizerEntries(model: VocabularyOf): [string, GgufEntry][] {
  const c = model.config;
  const tok = model.tokenizer;
  const u32 = (value: number): GgufEntry => ({ type: 'u32', value });
  const ids: [string, GgufEntry][] = [
    ['tokenizer.ggml.bos_token_id', u32(c.bosId)],
    ['tokenizer.ggml.eos_token_id', u32(c.stopIds[0] ?? 2)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: tok instanceof HfTokenizerAdapter ? tok.addsBos : true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];
  const m = tok instanceof HfTokenizerAdapter ? (tok.json.model as Json | undefined) : undefined;
  if (tok instanceof HfTokenizerAdapter && m?.type === 'BPE' && !m.byte_fallback) return [...bpeEntries(model, tok), ...ids];
  const v = spmVocabulary(model);
  return [
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'strings', value: v.tokens }],
    ['tokenizer.ggml.scores', { type: 'f32s', value: v.scores }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: v.types }],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ...ids,
  ];
}

/** A byte-level BPE tokenizer.json as llama.cpp's `gpt2` arrays, its pre-tokenizer named as llama.cpp names it. */
function bpeEntries(model: VocabularyOf, tok: HfTokenizerAdapter): [string, GgufEntry][] {
  const n = model.config.vocabSize;
  const m = tok.json.model as { vocab?: Record<string, number>; merges?: (string | string[])[] };
  const tokens: string[] = new Array<string>(n);
  const types = new Int32Array(n).fill(1);
  for (const [t, id] of Object.entries(m.vocab ?? {})) if (id >= 0 && id < n) tokens[id] = t;
  for (const a of (tok.json.added_tokens as { id: number; content: string; special?: boolean }[] | undefined) ?? [])
    if (a.id >= 0 && a.id < n) {
      tokens[a.id] = a.content;
      types[a.id] = a.special ? 3 : 4;
    }
  for (let i = 0; i < n; i++)
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5;
    }
  const merges = (m.merges ?? []).map((x) => (Array.isArray(x) ? x.join(' ') : x));
  return [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: preNameOf(tok.json, model.source.path) }],
    ['tokenizer.ggml.tokens', { type: 'strings', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: types }],
    ['tokenizer.ggml.merges', { type: 'strings', value: merges }],
  ];
}

/** llama.cpp's name of a tokenizer.json's pre-tokenizer: by its expressions, as written by Hugging Face or by mutascan. */
function preNameOf(json: Json, source: string): string {
  const p = json.pre_tokenizer as { type?: string; pretokenizers?: Json[]; use_regex?: boolean } | null;
  const parts = p?.type === 'Sequence' ? (p.pretokenizers ?? []) : p ? [p as Json] : [];
  const regexes = parts.filter((x) => x.type === 'Split').map((x) => ((x.pattern as Json | undefined)?.Regex as string | undefined) ?? '');
  const byteLevel = parts.find((x) => x.type === 'ByteLevel');
  if (!regexes.length && byteLevel && byteLevel.use_regex !== false) return 'gpt-2';
  const key = JSON.stringify(regexes);
  const named = HF_PRE.find(([r]) => JSON.stringify([r]) === key)?.[1] ?? Object.entries(PRE).find(([, v]) => JSON.stringify(v.regexes) === key)?.[0];
  if (!named)
    fail(
      `the tokenizer's pre-tokenizer (${regexes.map((r) => `/${r}/`).join(', ') || 'none'}) is not one llama.cpp names`,
      source,
      `GGUF files name their pre-tokenizer; mutascan writes ${Object.keys(PRE).join(', ')}`,
    );
  return named;
}

interface SpmVocabulary {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
}

/**
 * The model's vocabulary as GGUF's SentencePiece arrays (spaces as U+2581), padded with unused tokens to the
 * embedding's rows. From a llama2.c tokenizer: its pieces and scores. From a tokenizer.json BPE with byte fallback
 * (Llama 2, Mistral, mutascan's synthesized models): a token made by merge r scores −r, so llama.cpp's rule
 * (merge the pair whose result scores best) follows the merge list.
 */
function spmVocabulary(model: VocabularyOf): SpmVocabulary {
  const n = model.config.vocabSize;
  const tokens: string[] = [];
  const scores = new Float32Array(n);
  const types = new Int32Array(n).fill(1);
  const tok = model.tokenizer;
  if (tok instanceof Llama2cTokenizer) {
    tok.pieces.forEach((p, i) => {
      tokens.push(Buffer.from(p, 'latin1').toString('utf8').replaceAll(' ', '\u2581'));
      scores[i] = tok.scores[i];
    });
  } else {
    const m = tok instanceof HfTokenizerAdapter ? (tok.json.model as { type?: string; byte_fallback?: boolean; vocab?: Record<string, number>; merges?: (string | string[])[] } | undefined) : undefined;
    if (!(tok instanceof HfTokenizerAdapter) || m?.type !== 'BPE' || !m.byte_fallback || !m.vocab)
      fail('the model\'s tokenizer is neither SentencePiece-style nor byte-level BPE, so no GGUF vocabulary can hold it', model.source.path);
    for (const [piece, id] of Object.entries(m.vocab)) if (id >= 0 && id < n) tokens[id] = piece;
    for (const a of (tok.json.added_tokens as { id: number; content: string; special?: boolean }[] | undefined) ?? [])
      if (a.id >= 0 && a.id < n) {
        tokens[a.id] = a.content;
        if (a.special) types[a.id] = 3;
      }
    const rank = new Map<string, number>();
    (m.merges ?? []).forEach((mg, r) => {
      const [a, b] = Array.isArray(mg) ? mg : mg.split(' ');
      if (!rank.has(a + b)) rank.set(a + b, r);
    });
    for (let i = 0; i < tokens.length; i++) if (tokens[i] !== undefined) scores[i] = rank.has(tokens[i]) ? -rank.get(tokens[i])! : 0;
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `<unused_${i}>`;
      types[i] = 5;
    } else if (/^<0x[0-9A-F]{2}>$/.test(tokens[i])) types[i] = 6;
  }
  if (n > 2) {
    types[0] = 2;
    types[1] = types[2] = 3;
  }
  return { tokens, scores, types };
}
