/** The engine against llama2.c's run.c (../shared/models/stories260K/expected). */
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TsBackend } from '../src/backend/ts-backend.js';
import { Transformer } from '../src/model/forward.js';
import { generate } from '../src/model/generate.js';
import { loadModel, type Model } from '../src/model/model.js';
import { EXPECTED, expectCleanError, readJson, readJsonl, runCli, STORIES_BIN, STORIES_TOK, tempDir, torchReference } from './helpers.js';

interface GenCase {
  prompt: string;
  prompt_ids: number[];
  steps: number;
  temperature: number;
  topp: number;
  seed: number;
  ids: number[];
  text: string;
}
interface LogitsCase {
  prompt: string;
  prompt_ids: number[];
  logits: number[][];
}

const cases = readJsonl<GenCase>(`${EXPECTED}/generate.jsonl`);
const LOGIT_FILES = ['once', 'lily', 'mmlu'];

function maxAbsDiff(expected: number[][], got: Float32Array, vocab: number): number {
  let d = 0;
  expected.forEach((row, r) => row.forEach((v, i) => (d = Math.max(d, Math.abs(v - got[r * vocab + i])))));
  return d;
}

describe('stories260K: library API reproduces run.c', () => {
  const model = loadModel(STORIES_BIN);
  const tf = new Transformer(model.config, model.weights, new TsBackend());

  it('reads the llama2.c header', () => {
    assert.deepEqual(
      [model.config.dim, model.config.hiddenDim, model.config.nLayers, model.config.nHeads, model.config.nKvHeads, model.config.vocabSize, model.config.maxSeqLen],
      [64, 172, 5, 8, 4, 512, 512],
    );
    assert.equal(model.config.tiedEmbeddings, true);
  });

  for (const c of cases)
    it(`generate ${JSON.stringify(c.prompt)} T=${c.temperature} top-p=${c.topp} seed=${c.seed}`, () => {
      const g = generate(model, tf, c.prompt, { temperature: c.temperature, topP: c.topp, topK: 0, seed: c.seed, maxLength: c.steps });
      assert.deepEqual(g.promptIds, c.prompt_ids);
      assert.deepEqual(g.ids, c.ids);
      assert.equal(g.text, c.text);
    });

  for (const name of LOGIT_FILES)
    it(`logits-${name}.json within 1e-4 at every position (prefill and token-by-token)`, () => {
      const d = readJson<LogitsCase>(`${EXPECTED}/logits-${name}.json`);
      assert.deepEqual(model.tokenizer.encode(d.prompt, { bos: true }), d.prompt_ids);
      const prefill = tf.forward([{ cache: tf.newCache(d.prompt_ids.length), tokens: d.prompt_ids }], 'all');
      assert.ok(maxAbsDiff(d.logits, prefill, 512) < 1e-4);
      // Decoding one token at a time must give the very same bits as the prefill.
      const cache = tf.newCache(d.prompt_ids.length);
      const stepwise = new Float32Array(prefill.length);
      d.prompt_ids.forEach((t, i) => stepwise.set(tf.forward([{ cache, tokens: [t] }], 'last'), i * 512));
      assert.deepEqual(stepwise, prefill);
    });
});

describe('stories260K: CLI reproduces run.c', () => {
  for (const c of cases)
    it(`mutascan generate --json ${JSON.stringify(c.prompt)} T=${c.temperature} seed=${c.seed}`, () => {
      const r = runCli(['generate', STORIES_BIN, '--tokenizer', STORIES_TOK, '--prompt', c.prompt, '--max-length', String(c.steps), '--temperature', String(c.temperature), '--top-p', String(c.topp), '--seed', String(c.seed), '--json', '--backend', 'ts']);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(out, { prompt_ids: c.prompt_ids, ids: c.ids, text: c.text });
    });
});

describe('stories260K converted to a Hugging Face folder', () => {
  const dir = tempDir('converted');
  let hf: Model;
  let tf: Transformer;
  before(() => {
    const r = runCli(['convert', STORIES_BIN, '--tokenizer', STORIES_TOK, '--out', dir.path]);
    assert.equal(r.status, 0, r.stderr);
    hf = loadModel(dir.path);
    tf = new Transformer(hf.config, hf.weights, new TsBackend());
  });
  after(() => dir.remove());

  it('gives identical prompt ids and generated ids on every run.c case', () => {
    for (const c of cases) {
      const g = generate(hf, tf, c.prompt, { temperature: c.temperature, topP: c.topp, topK: 0, seed: c.seed, maxLength: c.steps });
      assert.deepEqual(g.promptIds, c.prompt_ids, c.prompt);
      assert.deepEqual(g.ids, c.ids, `${c.prompt} T=${c.temperature}`);
    }
  });

  it('gives the same ids through the CLI on a folder', () => {
    const c = cases[1];
    const r = runCli(['generate', dir.path, '--prompt', c.prompt, '--max-length', String(c.steps), '--temperature', String(c.temperature), '--top-p', String(c.topp), '--seed', String(c.seed), '--json', '--backend', 'ts']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).ids, c.ids);
  });

  it('the PyTorch reference on the converted folder agrees with run.c (checks the q/k row permutation independently)', () => {
    const fixtures = LOGIT_FILES.slice(0, 2).map((n) => readJson<LogitsCase>(`${EXPECTED}/logits-${n}.json`));
    const ref = torchReference(fixtures.map((d) => ({ model: dir.path, ids: d.prompt_ids })));
    fixtures.forEach((d, k) => assert.ok(maxAbsDiff(d.logits, Float32Array.from(ref[k].flat()), 512) < 1e-4));
  });
});

describe('mutascan logits', () => {
  it("prints run.c's teacher-forced logits for --text and for --ids, and log-probabilities that sum to 1", () => {
    const want = readJson<{ prompt: string; prompt_ids: number[]; logits: number[][] }>(join(EXPECTED, 'logits-once.json'));
    const byText = runCli(['logits', STORIES_BIN, '--tokenizer', STORIES_TOK, '--text', want.prompt]);
    assert.equal(byText.status, 0, byText.stderr);
    const a = JSON.parse(byText.stdout) as { ids: number[]; logits: number[][] };
    assert.deepEqual(a.ids, want.prompt_ids);
    assert.equal(a.logits.length, want.logits.length);
    let worst = 0;
    a.logits.forEach((row, p) => row.forEach((x, t) => (worst = Math.max(worst, Math.abs(x - want.logits[p][t])))));
    assert.ok(worst < 2e-5, `max |Δ logit| vs run.c ${worst}`);
    const byIds = runCli(['logits', STORIES_BIN, '--tokenizer', STORIES_TOK, '--ids', want.prompt_ids.join(','), '--logprobs', '--top', '5']);
    assert.equal(byIds.status, 0, byIds.stderr);
    const b = JSON.parse(byIds.stdout) as { logprobs: [number, number][][] };
    b.logprobs.forEach((top, p) => {
      assert.equal(top[0][0], want.logits[p].indexOf(Math.max(...want.logits[p])), `position ${p}: run.c's argmax first`);
      assert.ok(top.every(([, v], k) => v <= 0 && (k === 0 || v <= top[k - 1][1])));
    });
    expectCleanError(runCli(['logits', STORIES_BIN, '--tokenizer', STORIES_TOK, '--ids', '1,9999']), /--ids: item 1 \("9999"\) is not a token id of this model \(0…511\)/);
    expectCleanError(runCli(['logits', STORIES_BIN, '--tokenizer', STORIES_TOK]), /give the tokens as --ids 1,2,3 or as --text/);
  });
});
