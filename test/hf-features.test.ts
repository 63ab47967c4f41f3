/**
 * Features llama2.c cannot check, on tiny random Hugging Face folders, against the independent PyTorch
 * reference (test/reference/llama_reference.py) and, for chat templates, Python's jinja2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TsBackend } from '../src/backend/ts-backend.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { ZEPHYR_CHAT_TEMPLATE } from '../src/make/like.js';
import { writeSynthModel, type SynthSpec } from '../src/make/synth.js';
import { PYTHON, runCli, STORIES_TOK, tempDir, torchReference } from './helpers.js';

const base: SynthSpec = {
  architecture: 'llama', dim: 48, hiddenDim: 83, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 512, maxSeqLen: 64,
  tied: true, dtype: 'F32', shards: 1, seed: 1, tokenizer: STORIES_TOK,
};

const ZEPHYR_TEMPLATE = ZEPHYR_CHAT_TEMPLATE;

const variants: { name: string; spec: Partial<SynthSpec> }[] = [
  { name: 'llama f32, tied, GQA', spec: {} },
  { name: 'llama bf16, untied lm_head, 3 shards, llama3 rope scaling', spec: { dtype: 'BF16', tied: false, shards: 3, ropeTheta: 500000, ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } } },
  { name: 'llama f16, linear rope scaling, attention bias', spec: { dtype: 'F16', ropeScaling: { type: 'linear', factor: 2.5 }, attentionBias: true } },
  { name: 'qwen2 (q/k/v bias), untied, odd head count', spec: { architecture: 'qwen2', dim: 40, nHeads: 5, nKvHeads: 1, tied: false, ropeTheta: 1000000, normEps: 1e-6 } },
  { name: 'mistral bf16, sliding window 5 (shorter than the sequence)', spec: { architecture: 'mistral', dtype: 'BF16', slidingWindow: 5, nHeads: 8, nKvHeads: 4, dim: 64 } },
  { name: 'llama with explicit head_dim ≠ dim/heads', spec: { headDim: 16, nHeads: 4, nKvHeads: 2, dim: 48 } },
];

describe('Hugging Face folders vs the PyTorch reference', () => {
  const dir = tempDir('hf');
  const ids = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 17];
  let ref: number[][][];
  before(() => {
    variants.forEach((v, i) => writeSynthModel(join(dir.path, String(i)), { ...base, seed: 100 + i, ...v.spec }));
    ref = torchReference(variants.map((_, i) => ({ model: join(dir.path, String(i)), ids })));
  });
  after(() => dir.remove());

  variants.forEach((v, i) =>
    it(`${v.name}: logits within 1e-4 of PyTorch at every position`, () => {
      const m = loadModel(join(dir.path, String(i)));
      const tf = new Transformer(m.config, m.weights, new TsBackend());
      const got = tf.forward([{ cache: tf.newCache(ids.length), tokens: ids }], 'all');
      let d = 0;
      let scale = 0;
      ref[i].forEach((row, r) => row.forEach((x, j) => {
        d = Math.max(d, Math.abs(x - got[r * m.config.vocabSize + j]));
        scale = Math.max(scale, Math.abs(x));
      }));
      assert.ok(scale > 0.5, `logits should not be degenerate (max |logit| ${scale})`);
      assert.ok(d < 1e-4, `max |Δlogit| = ${d}`);
    }),
  );

  it('bf16 weights stay bf16 in memory', () => {
    const m = loadModel(join(dir.path, '1'));
    assert.equal(m.weights.layers[0].q.dtype, 'bf16');
    assert.ok(m.weights.layers[0].q.data instanceof Uint16Array);
    assert.equal(m.weights.lmHead.dtype, 'bf16');
    assert.notEqual(m.weights.lmHead, m.weights.embed);
  });
});

describe('chat template', () => {
  const dir = tempDir('chat');
  before(() => writeSynthModel(dir.path, { ...base, chatTemplate: ZEPHYR_TEMPLATE, architecture: 'mistral', slidingWindow: 4096 }));
  after(() => dir.remove());

  it('renders like Python jinja2 with transformers\' settings, and --chat feeds exactly that text', () => {
    const py = `
import jinja2, json, sys
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
t = env.from_string(sys.argv[1])
print(json.dumps(t.render(messages=[{"role": "user", "content": "Tell me a story"}], add_generation_prompt=True, bos_token="<s>", eos_token="</s>")))`;
    const r = spawnSync(PYTHON, ['-c', py, ZEPHYR_TEMPLATE], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(r.stdout) as string;
    assert.equal(expected, '<|user|>\nTell me a story</s>\n<|assistant|>\n');
    const m = loadModel(dir.path);
    assert.equal(m.chatTemplate!.renderUser('Tell me a story'), expected);
    const cli = runCli(['generate', dir.path, '--prompt', 'Tell me a story', '--chat', '--max-new-tokens', '3', '--temperature', '0', '--json', '--backend', 'ts']);
    assert.equal(cli.status, 0, cli.stderr);
    const out = JSON.parse(cli.stdout);
    assert.deepEqual(out.prompt_ids, m.tokenizer.encode(expected, { bos: false }));
    assert.ok(out.prompt_ids.includes(2), 'the template\'s </s> becomes the EOS token');
    assert.equal(out.ids.length, 3);
  });
});
