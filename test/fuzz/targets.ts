/**
 * The doors mutascan opens to outside input, each as a fuzz target: a seed (a valid file of test/fuzz/corpus),
 * an arbitrary of structure-aware mutations of it, and `run`, which writes the mutated input where mutascan
 * reads it and opens it as a user's command would (and, when it opens, runs it one step). A target passes an
 * input when `run` returns or throws a MutascanError whose message names the file; anything else is a finding.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { TsBackend } from '../../src/backend/ts-backend.js';
import { Transformer } from '../../src/model/forward.js';
import { readGguf, readGgufTensor } from '../../src/model/gguf.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { readSafetensorsHeader, readTensor } from '../../src/model/safetensors.js';
import { Llama2cTokenizer } from '../../src/model/tokenizer-llama2c.js';
import { Plan, resolveMutantName } from '../../src/screen/plan.js';
import { parseScreenSpec } from '../../src/spec/spec.js';
import { openResults } from '../../src/index.js';
import { parseBatch, parseBatchResult, parsePublishedScreen } from '../../src/scale/payloads.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { VERSION } from '../../src/version.js';
import { applyEdits, applyJsonEdits, byteEdit, jsonEdit, type ByteEdit, type Field, type JsonEdit } from './mutations.js';

export const CORPUS = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

export interface FuzzTarget<T> {
  name: string;
  /** what it reads, in words */
  reads: string;
  input: fc.Arbitrary<T>;
  /** opens the input as mutascan would; throws what mutascan throws */
  run(input: T): void;
  /** what an error about this input must name: one of these files (none: any message) */
  names: string[];
}

/** A work folder of one target (on /dev/shm where there is one: millions of small writes). */
function workDir(name: string): string {
  const base = (() => {
    try {
      readdirSync('/dev/shm');
      return '/dev/shm';
    } catch {
      return tmpdir();
    }
  })();
  const d = join(base, `mutascan-fuzz-${process.pid}-${name}`);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

/** One step of a model that opened: a forward pass of one token on the TypeScript backend. */
function runOnce(model: Model): void {
  const tf = new Transformer(model.config, model.weights, new TsBackend());
  tf.forward([{ cache: tf.newCache(2), tokens: [Math.min(model.config.bosId ?? 0, model.config.vocabSize - 1)] }]);
  model.tokenizer.encode('Once upon a time', { bos: true });
}

const u32 = (b: Buffer, at: number): number => b.readUInt32LE(at);
const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64LE(at));

/** The integer fields of a GGUF file: counts, lengths, value types, array headers, dimensions, types, offsets. */
export function ggufFields(b: Buffer): Field[] {
  const f: Field[] = [{ at: 4, bytes: 4, what: 'version' }, { at: 8, bytes: 8, what: 'tensor count' }, { at: 16, bytes: 8, what: 'metadata count' }];
  let p = 24;
  const str = (what: string, keep: boolean): void => {
    if (keep) f.push({ at: p, bytes: 8, what });
    p += 8 + u64(b, p);
  };
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  for (let i = 0, n = u64(b, 16); i < n; i++) {
    str(`key ${i} length`, true);
    const t = u32(b, p);
    f.push({ at: p, bytes: 4, what: `key ${i} type` });
    p += 4;
    if (t === 8) str(`key ${i} string length`, true);
    else if (t === 9) {
      const et = u32(b, p);
      f.push({ at: p, bytes: 4, what: `key ${i} element type` }, { at: p + 4, bytes: 8, what: `key ${i} element count` });
      const count = u64(b, p + 4);
      p += 12;
      for (let j = 0; j < count; j++) {
        if (et === 8) str(`key ${i}[${j}] length`, j < 3);
        else p += SIZES[et];
      }
    } else p += SIZES[t];
  }
  for (let i = 0, n = u64(b, 8); i < n; i++) {
    str(`tensor ${i} name length`, true);
    const nd = u32(b, p);
    f.push({ at: p, bytes: 4, what: `tensor ${i} dimension count` });
    p += 4;
    for (let d = 0; d < nd; d++, p += 8) f.push({ at: p, bytes: 8, what: `tensor ${i} dimension ${d}` });
    f.push({ at: p, bytes: 4, what: `tensor ${i} type` }, { at: p + 4, bytes: 8, what: `tensor ${i} offset` });
    p += 12;
  }
  return f;
}

/** A llama2.c tokenizer's fields: the longest token's length, and the first tokens' lengths. */
function llama2cTokenizerFields(b: Buffer): Field[] {
  const f: Field[] = [{ at: 0, bytes: 4, what: 'max token length' }];
  let p = 4;
  for (let i = 0; i < 40 && p + 8 <= b.length; i++) {
    f.push({ at: p + 4, bytes: 4, what: `token ${i} length` });
    p += 8 + b.readInt32LE(p + 4);
  }
  return f;
}

/** An SQLite file's header counters and each page's first bytes (its b-tree header: type, cells, content start). */
function sqliteFields(b: Buffer): Field[] {
  const page = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16);
  const f: Field[] = [16, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 92, 96].map((at) => ({ at, bytes: 4 as const, what: `header byte ${at}` }));
  for (let p = 0; p < b.length; p += page) f.push({ at: p === 0 ? 100 : p, bytes: 4, what: `page ${p / page + 1} header` }, { at: (p === 0 ? 100 : p) + 4, bytes: 4, what: `page ${p / page + 1} header, bytes 4-7` });
  return f;
}

const edits = (seed: Buffer, fields: Field[]): fc.Arbitrary<ByteEdit[]> => fc.array(byteEdit(seed.length, fields), { minLength: 1, maxLength: 3 });

/** A binary file, mutated in place and opened by `open`. */
function binaryTarget(name: string, reads: string, seedFile: string, fieldsOf: (b: Buffer) => Field[], open: (file: string) => void, ext: string, alsoNamed: string[] = []): FuzzTarget<ByteEdit[]> {
  const seed = readFileSync(seedFile);
  const fields = fieldsOf(seed);
  const file = join(workDir(name), `input${ext}`);
  return {
    name,
    reads,
    names: [file, ...alsoNamed],
    input: edits(seed, fields),
    run: (e) => {
      // a new file each time (the old one unlinked): a model that opened keeps its mapping of the old file until
      // it is collected, and rewriting a mapped file in place makes every later write slower
      rmSync(file, { force: true });
      writeFileSync(file, applyEdits(seed, fields, e));
      open(file);
    },
  };
}

/** A Hugging Face folder with one of its files mutated (JSON documents as documents, the safetensors as bytes). */
function folderTarget(): FuzzTarget<{ file: string; json: JsonEdit[]; bytes: ByteEdit[] }> {
  const seedDir = join(CORPUS, 'hf-folder');
  const dir = workDir('hf-folder');
  const files = readdirSync(seedDir);
  for (const f of files) copyFileSync(join(seedDir, f), join(dir, f));
  const st = readFileSync(join(seedDir, 'model.safetensors'));
  const stFields: Field[] = [{ at: 0, bytes: 8, what: 'header length' }];
  let last: string | undefined;
  return {
    name: 'hf-folder',
    reads: 'a Hugging Face folder: config.json (every field), generation_config.json, tokenizer.json, tokenizer_config.json, model.safetensors',
    names: [dir],
    input: fc.record({ file: fc.constantFrom(...files), json: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), bytes: edits(st, stFields) }),
    run: ({ file, json, bytes }) => {
      // files replaced, not rewritten in place (see binaryTarget)
      if (last) {
        rmSync(join(dir, last));
        copyFileSync(join(seedDir, last), join(dir, last));
      }
      last = file;
      rmSync(join(dir, file));
      if (file.endsWith('.json')) {
        const r = applyJsonEdits(JSON.parse(readFileSync(join(seedDir, file), 'utf8')), json);
        writeFileSync(join(dir, file), r.text ?? JSON.stringify(r.doc));
      } else writeFileSync(join(dir, file), applyEdits(st, stFields, bytes));
      runOnce(loadModel(dir));
    },
  };
}

/** A safetensors file whose JSON header is edited as a document (shapes, dtypes, offsets, names), its length kept right. */
function safetensorsHeaderTarget(): FuzzTarget<JsonEdit[]> {
  const seed = readFileSync(join(CORPUS, 'safetensors', 'tiny-bf16.safetensors'));
  const n = u64(seed, 0);
  const header = JSON.parse(seed.subarray(8, 8 + n).toString('utf8'));
  const data = seed.subarray(8 + n);
  const file = join(workDir('safetensors-header'), 'model.safetensors');
  return {
    name: 'safetensors-header',
    reads: 'a safetensors header as JSON: dtypes, shapes (products past 2^53), data_offsets (reversed, past the end, overlapping), metadata, deep nesting',
    names: [file],
    input: fc.array(jsonEdit, { minLength: 1, maxLength: 4 }),
    run: (e) => {
      const r = applyJsonEdits(header, e);
      const h = Buffer.from(r.text ?? JSON.stringify(r.doc), 'utf8');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      rmSync(file, { force: true });
      writeFileSync(file, Buffer.concat([len, h, data]));
      for (const t of readSafetensorsHeader(file).values()) readTensor(t);
    },
  };
}

/** The screen file: its YAML as a document (every key, wrong types, unknown keys), and as text (aliases, garbage). */
function screenTarget(model: () => Model): FuzzTarget<{ json: JsonEdit[]; text?: string }> {
  const seed = parseYaml(readFileSync(join(CORPUS, 'screen', 'screen.yaml'), 'utf8'));
  const file = join(CORPUS, 'screen', 'screen.yaml');
  const aliasBomb = (depth: number, width: number): string => {
    const rows = [`l0: &l0 [${Array(width).fill('"x"').join(',')}]`];
    for (let i = 1; i < depth; i++) rows.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(',')}]`);
    return rows.join('\n') + '\n';
  };
  return {
    name: 'screen',
    reads: 'a screen file: every key with values of the wrong type, unknown keys, YAML alias bombs, tags, garbage text',
    names: [file],
    input: fc.record(
      {
        json: fc.array(jsonEdit, { minLength: 1, maxLength: 4 }),
        text: fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 })).map(([d, w]) => aliasBomb(d, w)),
          fc.constantFrom('!!binary AAAA', 'a: !!js/function "x"', '? [a, b]\n: c', '{a: 1, a: 2}', '--- a\n--- b', '\t- x', 'model: &m x\ntargets: *m'),
        ),
      },
      { requiredKeys: ['json'] },
    ),
    run: ({ json, text }) => {
      const r = applyJsonEdits(seed, json);
      const source = text ?? r.text ?? stringifyYaml(r.doc);
      const spec = parseScreenSpec(source, file);
      Plan.of({ ...spec, model: model().source.path }, model());
    },
  };
}

/** Mutant keys as `mutate`, `generate --mutate` and stores give them: near-keys with odd numbers and names. */
function mutantKeyTarget(model: () => Model): FuzzTarget<string> {
  const num = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 9 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53, 1e21, 0, -1) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) });
  const target = fc.oneof(fc.constantFrom('0.q', '0.k', '0.down', 'embed', 'lm_head', 'final_norm', '0.attn_norm', '0.norms', '9.q', '*.q', 'model.layers.0.mlp.down_proj.weight'), fc.string({ maxLength: 8 }));
  const kind = fc.oneof(fc.constantFrom('max', 'min', 'zero', 'negate', 'value:1', 'scale:2', 'value:NaN', 'scale:1e400', 'value:', 'maximum'), fc.string({ maxLength: 8 }));
  return {
    name: 'mutant-key',
    reads: 'mutant names (target:row,col[+rows x cols]:kind, several joined by +) with odd targets, coordinates, extents and kinds',
    names: [],
    input: (() => {
      const single = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(target, num, num, num, num, kind).map(([t, r, c, h, w, k]) => `${t}:${r},${c}+${h}x${w}:${k}`) },
        { weight: 1, arbitrary: fc.tuple(target, num, num, kind).map(([t, r, c, k]) => `${t}:${r},${c}:${k}`) },
      );
      return fc.oneof({ weight: 4, arbitrary: single }, { weight: 2, arbitrary: fc.array(single, { minLength: 2, maxLength: 4 }).map((xs) => xs.join('+')) }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) });
    })(),
    run: (key) => {
      resolveMutantName(key, model());
    },
  };
}

/** An edited document as BullMQ hands it over: parsed JSON, or the text itself where it no longer parses. */
function asDelivered(r: { doc?: unknown; text?: string }): unknown {
  if (r.text === undefined) return r.doc;
  try {
    return JSON.parse(r.text);
  } catch {
    return r.text;
  }
}

/** What arrives from Redis: a published screen's JSON, a job's batch and a worker's result, as documents with odd values and as text. */
function queueTargets(): FuzzTarget<JsonEdit[]>[] {
  const screen = {
    id: 's1', queue: 'mutascan-s1', specYaml: readFileSync(join(CORPUS, 'screen', 'screen.yaml'), 'utf8'), specFile: '/tmp/screen.yaml',
    modelFingerprint: 'ab'.repeat(32), backend: 'native', plain: false, baselines: [[1, 2, 3], [4]], numerics: 'native/f32', mutascanVersion: VERSION, schemaVersion: SCHEMA_VERSION,
  };
  const batches = [{ first: 1, count: 32 }, { first: 7, count: 3, ordinals: [7, 100, 12] }];
  // a result as a worker returns it (JSON): a silent mutant, an NSM with its phenotype, a choice assay's metrics
  const silent = { silent: true, firstDivergence: null, similarity: null, destructive: false, nTokens: 12, tie: false };
  const nsm = {
    silent: false, phenotype: { key: 'k3f9', ids: [1, 403, 261, 6], text: ' Once upon a cat', divergeAt: 2, divergeEnd: 4, baselineEnd: 4 },
    firstDivergence: 2, similarity: 0.5, destructive: false, nTokens: 4, tie: false, metrics: { accuracy: 0.25, accuracyChange: -0.5, klMean: 0.1, klMax: null },
  };
  const workerResult = {
    results: [{ ordinal: 7, outcomes: [silent, nsm] }, { ordinal: 100, outcomes: [nsm, silent] }, { ordinal: 12, outcomes: [silent, silent] }],
    worker: { name: 'host pid 1', seconds: 0.4, numerics: 'native/f32' },
  };
  return [
    {
      name: 'queue-screen',
      reads: 'a screen published on Redis (JSON): every field with values of the wrong type, other versions, garbage',
      names: ['screen s1'],
      input: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }),
      run: (e) => {
        const r = applyJsonEdits(screen, e);
        parsePublishedScreen(r.text ?? JSON.stringify(r.doc) ?? 'null', 's1');
      },
    },
    {
      name: 'queue-batch',
      reads: "a job's batch from Redis: first, count and ordinals with odd values, past the screen's end",
      names: ['the queue'],
      input: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }),
      run: (e) => {
        for (const b of batches) {
          parseBatch('m1', asDelivered(applyJsonEdits(b, e)), 200);
        }
      },
    },
    {
      name: 'queue-result',
      reads: "what a worker returns for a batch (the coordinator reads it from Redis): mutants, outcomes, phenotypes and metrics with odd values",
      names: ['the result of batch'],
      input: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }),
      run: (e) => {
        parseBatchResult({ id: 'm7', first: 7, count: 3, ordinals: [7, 100, 12] }, asDelivered(applyJsonEdits(workerResult, e)), { assays: 2, vocabSize: 512 });
      },
    },
  ];
}

export function fuzzTargets(): FuzzTarget<never>[] {
  let tiny: Model | undefined;
  const model = (): Model => (tiny ??= loadModel(join(CORPUS, 'llama2c', 'tiny.bin'), { tokenizer: join(CORPUS, 'llama2c', 'tokenizer.bin') }));
  const tok = join(CORPUS, 'llama2c', 'tokenizer.bin');
  const targets = [
    binaryTarget('gguf', 'a GGUF file: header, metadata of every type, arrays, tensor infos, dimensions, types, alignment, offsets', join(CORPUS, 'gguf', 'tiny-f32.gguf'), ggufFields, (f) => {
      const g = readGguf(f);
      for (const t of g.tensors.values()) readGgufTensor(t);
      runOnce(loadModel(f));
    }, '.gguf'),
    binaryTarget('gguf-bf16', 'the same of a BF16 GGUF file (what a screen of a bf16 model opens)', join(CORPUS, 'gguf', 'tiny-bf16.gguf'), ggufFields, (f) => runOnce(loadModel(f)), '.gguf'),
    binaryTarget('safetensors', 'a safetensors file as bytes: the header length, the header, the data', join(CORPUS, 'safetensors', 'tiny-bf16.safetensors'), () => [{ at: 0, bytes: 8, what: 'header length' }], (f) => {
      for (const t of readSafetensorsHeader(f).values()) readTensor(t);
    }, '.safetensors'),
    safetensorsHeaderTarget(),
    binaryTarget('llama2c', 'a llama2.c checkpoint: the seven header fields, cuts, the weights', join(CORPUS, 'llama2c', 'tiny.bin'), () => ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'].map((what, i) => ({ at: 4 * i, bytes: 4 as const, what })), (f) => runOnce(loadModel(f, { tokenizer: tok })), '.bin', [tok]),
    binaryTarget('llama2c-tokenizer', "a llama2.c tokenizer: the longest token's length, token lengths, scores, cuts", join(CORPUS, 'llama2c-tokenizer', 'tok512.bin'), llama2cTokenizerFields, (f) => {
      Llama2cTokenizer.loadAll(f);
      const t = Llama2cTokenizer.load(f, 512);
      t.decodeContinuation(t.encode('Once upon a time, \u00e9\u4e2d\ud83d\ude00', { bos: true }), [3, 4, 5, 300, 511]);
    }, '.bin'),
    folderTarget(),
    binaryTarget('store', 'a store of results: the SQLite header, page headers, cuts and flipped bytes anywhere', join(CORPUS, 'store', 'tiny.sqlite'), sqliteFields, (f) => {
      const r = openResults(f);
      try {
        void r.screen;
        r.status();
        r.rows();
      } finally {
        r.close();
      }
    }, '.sqlite'),
    screenTarget(model),
    mutantKeyTarget(model),
    ...queueTargets(),
  ];
  return targets as unknown as FuzzTarget<never>[];
}

