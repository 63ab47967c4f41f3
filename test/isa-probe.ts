/**
 * Run by test/isa-levels.test.ts in one process per instruction-set level (MUTASCAN_ISA): computes the same
 * things at whatever level it is given and prints a digest of each result's bits as one JSON line, so that the
 * levels can be compared without moving the results between processes.
 *
 *   node --import tsx test/isa-probe.ts [MODEL …]   (Hugging Face folders, besides stories260K)
 */
import { createHash } from 'node:crypto';
import { loadAddon, loadNativeBackend } from '../src/backend/native-backend.js';
import { Transformer } from '../src/model/forward.js';
import { generateIds } from '../src/model/generate.js';
import { loadModel } from '../src/model/model.js';
import { STORIES_BIN, STORIES_TOK } from './helpers.js';

const digest = (...arrays: ArrayBufferView[]): string => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
};

let seed = 7;
const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;

/** bf16 bit patterns over the whole range: normal values of every size, and some subnormal and tiny ones */
function bf16(n: number, kinds: 'normal' | 'edge'): Uint16Array {
  const w = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const u = rnd();
    let e = 107 + Math.floor(rnd() * 40);
    // edge: exponents whose products land near float32's smallest normal (2^-126), and bf16 subnormals
    if (kinds === 'edge') e = u < 0.15 ? 0 : u < 0.5 ? 50 + Math.floor(rnd() * 30) : e;
    w[i] = (rnd() < 0.5 ? 0x8000 : 0) | (e << 7) | Math.floor(rnd() * 128);
  }
  return w;
}

const widen = (b: Uint16Array): Float32Array => {
  const f = new Float32Array(b.length);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < b.length; i++) u[i] = b[i] << 16;
  return f;
};

const addon = loadAddon();
const backend = loadNativeBackend();
const out: Record<string, string> = { level: addon.info().isa, bf16: addon.info().bf16Numerics };

// products: shapes off every tile and block size, one thread and two
for (const threads of [1, 2]) {
  addon.setThreads(threads);
  seed = 7;
  const parts: string[] = [];
  for (const [rows, m, n] of [[1, 7, 5], [1, 37, 2100], [3, 17, 33], [5, 33, 100], [9, 50, 1100], [200, 40, 2100], [13, 97, 64], [2, 130, 4096]]) {
    for (const kinds of ['normal', 'edge'] as const) {
      const w = bf16(m * n, kinds);
      const x = widen(bf16(rows * n, kinds));
      const ob = new Float32Array(rows * m);
      addon.bf16exact(ob, m, x, rows, w, m, n);
      const of = new Float32Array(rows * m);
      addon.f32exact(of, m, x, rows, widen(w), m, n);
      parts.push(digest(ob), digest(of));
    }
  }
  out[`products-t${threads}`] = digest(...parts.map((p) => Buffer.from(p)));
  // bf16 and f32 separately, so a failure says which
  out[`bf16-t${threads}`] = digest(...parts.filter((_, i) => i % 2 === 0).map((p) => Buffer.from(p)));
  out[`f32-t${threads}`] = digest(...parts.filter((_, i) => i % 2 === 1).map((p) => Buffer.from(p)));
}
addon.setThreads(2);

// whole models: teacher-forced logits and a sampled generation (every kernel of the forward pass and the sampler)
const models: [string, ReturnType<typeof loadModel>][] = [['stories260K', loadModel(STORIES_BIN, { tokenizer: STORIES_TOK })]];
for (const path of process.argv.slice(2)) models.push([path.split('/').pop()!, loadModel(path)]);
for (const [name, model] of models) {
  const tf = new Transformer(model.config, model.weights, backend);
  const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 1) % model.config.vocabSize);
  const logits = tf.forward([{ cache: tf.newCache(ids.length), tokens: ids }], 'all');
  const g = generateIds(tf, [1, 403, 407, 261, 378], { temperature: 0.8, topP: 0.95, topK: 0, seed: 1234, maxNewTokens: 48 }, []);
  out[`${name}-logits`] = digest(logits);
  out[`${name}-generation`] = JSON.stringify(g.ids);
}
process.stdout.write(JSON.stringify(out) + '\n');
