/**
 * Writes the fuzzers' seed corpus (test/fuzz/corpus/): one small valid file of each format mutascan opens, made
 * from a tiny random llama2.c checkpoint (dim 8, 1 layer, stories260K's 512-token vocabulary) and mutascan's own
 * writers. Running it again gives the same bytes but for the store, whose run records name the host and the
 * time. `npm run fuzz:seeds`.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModelGguf } from '../src/make/to-gguf.js';
import { writeModelHf } from '../src/make/to-hf.js';
import { loadModel } from '../src/model/model.js';
import { runScreen } from '../src/index.js';
import { Gaussian } from '../src/util/random.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = join(ROOT, 'test', 'fuzz', 'corpus');
const TOK = join(ROOT, '..', 'shared', 'models', 'stories260K', 'tok512.bin');

/** A llama2.c version-0 checkpoint with the given header and random weights (legacy RoPE tables included). */
function llama2c(file: string, h: { dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number }): void {
  const headDim = h.dim / h.heads;
  const kvDim = headDim * h.kvHeads;
  const floats = h.vocab * h.dim + h.layers * (h.dim + h.dim * h.dim + 2 * kvDim * h.dim + h.dim * h.dim + h.dim + 3 * h.hidden * h.dim) + h.dim + h.seqLen * headDim;
  const buf = Buffer.alloc(28 + floats * 4);
  [h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLen].forEach((v, i) => buf.writeInt32LE(v, i * 4));
  const g = new Gaussian(7);
  for (let i = 0; i < floats; i++) buf.writeFloatLE(0.3 * g.normal(), 28 + i * 4);
  writeFileSync(file, buf);
}

rmSync(CORPUS, { recursive: true, force: true });
for (const d of ['llama2c', 'llama2c-tokenizer', 'gguf', 'safetensors', 'hf-folder', 'screen', 'store']) mkdirSync(join(CORPUS, d), { recursive: true });
const bin = join(CORPUS, 'llama2c', 'tiny.bin');
llama2c(bin, { dim: 8, hidden: 16, layers: 1, heads: 2, kvHeads: 1, vocab: 512, seqLen: 16 });
copyFileSync(TOK, join(CORPUS, 'llama2c', 'tokenizer.bin'));
copyFileSync(TOK, join(CORPUS, 'llama2c-tokenizer', 'tok512.bin'));
const model = loadModel(bin, { tokenizer: TOK });
writeModelGguf(model, join(CORPUS, 'gguf', 'tiny-f32.gguf'), { dtype: 'F32' });
writeModelGguf(model, join(CORPUS, 'gguf', 'tiny-bf16.gguf'), { dtype: 'BF16' });
writeModelHf(model, join(CORPUS, 'hf-folder'), { dtype: 'BF16' });
copyFileSync(join(CORPUS, 'hf-folder', 'model.safetensors'), join(CORPUS, 'safetensors', 'tiny-bf16.safetensors'));
writeFileSync(
  join(CORPUS, 'screen', 'screen.yaml'),
  `model: ../llama2c/tiny.bin
tokenizer: ../llama2c/tokenizer.bin
targets: ["0.q", "*.down", "0.norms", embed]
unit: { block: 4 }
kinds: [max, min, zero, "value:1.5", "scale:-2", negate, { scale: { from: 0, to: 2, steps: 3 } }]
order: plan
assays:
  - { name: once, type: generate, prompt: "Once upon a time", max_new_tokens: 8, temperature: 0.7, top_p: 0.9, top_k: 40, seeds: [3, 4] }
  - { name: fly, type: generate, preset: drosophila, chat: false }
  - { name: facts, type: choice, data: ../mmlu.csv, subjects: [global_facts], shots: 0, scoring: letters, select: { first: 2 }, replicates: 2 }
  - { name: kl, type: likelihood, texts: ["Once upon a time"], baseline_of: [once], kl_threshold: 0.01, kl_stat: mean }
pairs: { among: all, count: 5, seed: 1 }
`,
);
// a finished store of a small screen of the tiny model: 2 targets, blocks of 4, two kinds, two assays
await runScreen({
  screen: {
    model: bin, tokenizer: TOK, targets: ['0.q', '0.down'], unit: { block: 4 }, kinds: ['zero', 'max'],
    assays: [{ name: 'once', type: 'generate', prompt: 'Once upon a time', max_new_tokens: 6 }, { name: 'kl', type: 'likelihood', texts: ['Once upon a time'] }],
  },
  store: join(CORPUS, 'store', 'tiny.sqlite'),
  backend: 'ts',
  jobs: 1,
});
process.stdout.write(`wrote the seed corpus in ${CORPUS}\n`);
