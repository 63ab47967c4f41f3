/**
 * The paper's models at their real width: 2-layer Llama-2-7B- and Zephyr-7B-beta-shaped models (hidden 4096,
 * vocabulary 32,000, about 1.3 GB of bf16 each), written here by `mutascan synth`. Loaded memory-mapped,
 * checked against the independent PyTorch reference (test/reference/llama_reference.py), generated from, and
 * screened (block 64) with a stop and a resume, fast path against plain path.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readSync, openSync, closeSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../src/backend/select.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { readSafetensorsHeader } from '../src/model/safetensors.js';
import { matrixStats, mutate, restore } from '../src/screen/mutate.js';
import { LLAMA2_TOK, PYTHON, readJsonl, runCli, storeRows, tempDir, torchReference } from './helpers.js';

const DROSOPHILA = readJsonl<{ text: string; ids: number[] }>(join(LLAMA2_TOK, 'expected-encode.jsonl'))[0];
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

/** What the issue and the published config.json say each model is. */
const SHAPES = {
  'llama-2-7b': { model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32000, rope_theta: 10000, max_position_embeddings: 4096, tie_word_embeddings: false },
  'zephyr-7b-beta': { model_type: 'mistral', hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 32000, rope_theta: 10000, max_position_embeddings: 32768, sliding_window: 4096, tie_word_embeddings: false },
} as const;

for (const like of ['llama-2-7b', 'zephyr-7b-beta'] as const) {
  describe(`${like} shape, 2 layers`, () => {
    const dir = tempDir(like);
    const model = join(dir.path, 'model');
    before(() => {
      const r = runCli(['synth', '--like', like, '--layers', '2', '--out', model, '--seed', '7']);
      assert.equal(r.status, 0, r.stderr);
    });
    after(() => dir.remove());

    it('is written with the published architecture, bf16 shards and an index, and the Llama 2 vocabulary', () => {
      const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
      for (const [k, v] of Object.entries(SHAPES[like])) assert.equal(config[k], v, k);
      assert.equal(config.num_hidden_layers, 2);
      const index = JSON.parse(readFileSync(join(model, 'model.safetensors.index.json'), 'utf8'));
      const shards = [...new Set(Object.values(index.weight_map as Record<string, string>))];
      assert.equal(shards.length, 2);
      assert.deepEqual(readdirSync(model).filter((f) => f.endsWith('.safetensors')).sort(), shards.sort());
      let bytes = 0;
      for (const s of shards)
        for (const t of readSafetensorsHeader(join(model, s)).values()) {
          assert.equal(index.weight_map[t.name], s, `${t.name} is where the index says`);
          assert.equal(t.dtype, 'BF16', t.name);
          bytes += t.byteLength;
        }
      assert.equal(index.metadata.total_size, bytes);
      // 2 layers of 4096-wide attention and MLP plus embedding and lm_head: about 1.3–1.5 GB.
      assert.ok(bytes > 1.2e9 && bytes < 1.6e9, `${bytes} bytes`);
      const m = loadModel(model);
      assert.deepEqual(m.tokenizer.encode(DROSOPHILA.text, { bos: true }), DROSOPHILA.ids, "run.c's encoding of the paper's prompt");
    });

    it('loads memory-mapped: bf16 stays in the mapping, and a mutation restores the same bits', () => {
      const before = rssMiB();
      const m = loadModel(model);
      const grew = rssMiB() - before;
      assert.equal(m.source.mapped, true);
      const maps = readFileSync('/proc/self/maps', 'utf8');
      for (const f of m.source.files.filter((f) => f.endsWith('.safetensors'))) assert.ok(maps.includes(f), `${f} is mapped`);
      assert.ok(grew < 100, `loading grew the resident set by ${grew.toFixed(0)} MiB (the weights are ~1,300 MiB)`);
      const down = m.weights.layers[1].down;
      assert.equal(down.dtype, 'bf16');
      const info = m.source.files.filter((f) => f.endsWith('.safetensors')).map((f) => readSafetensorsHeader(f).get(down.name)).find((t) => t)!;
      const fileBytes = (): Buffer => {
        const b = Buffer.alloc(info.byteLength);
        const fd = openSync(info.file, 'r');
        readSync(fd, b, 0, b.length, info.start);
        closeSync(fd);
        return b;
      };
      const original = fileBytes();
      const u = { row: 64, col: 128, rows: 64, cols: 64 };
      const saved = mutate(down, u, { type: 'max' }, matrixStats(down));
      const live = (): Buffer => Buffer.from(down.data.buffer, down.data.byteOffset, down.data.byteLength);
      assert.notDeepEqual(live(), original, 'the mutation is seen through the mapping');
      assert.deepEqual(fileBytes(), original, 'the file on disk is never written');
      restore(saved);
      assert.ok(live().equals(original), 'restore gives back the same bits');
    });

    let reference: number[][];
    it('matches the PyTorch reference at every position of the prompt', async () => {
      const m = loadModel(model);
      const tf = new Transformer(m.config, m.weights, await selectBackend('native'));
      const ids = DROSOPHILA.ids;
      const logits = tf.forward([{ cache: tf.newCache(16), tokens: ids }], 'all');
      reference = torchReference([{ model, ids }])[0];
      const V = m.config.vocabSize;
      let worst = 0;
      let sum = 0;
      for (let p = 0; p < ids.length; p++) {
        let top = 0;
        for (let i = 0; i < V; i++) {
          const d = Math.abs(logits[p * V + i] - reference[p][i]);
          worst = Math.max(worst, d);
          sum += d;
          if (reference[p][i] > reference[p][top]) top = i;
        }
        const second = Math.max(...reference[p].filter((_, i) => i !== top));
        // Where the reference's choice is clear (beyond the bf16 tie epsilon), ours is the same.
        if (reference[p][top] - second > 0.1) assert.equal(argmax(logits.subarray(p * V, (p + 1) * V)), top, `position ${p}`);
      }
      const mean = sum / (ids.length * V);
      console.log(`${like}: max |Δlogit| vs PyTorch ${worst.toExponential(2)}, mean ${mean.toExponential(2)} (logits span about ±4)`);
      // bf16-rounded activations: a last-bit difference upstream can flip one input's rounding, so the sums of
      // 4,096–14,336 terms differ by ~1e-2 at worst (the bf16 tie epsilon is 0.1); the mean stays far below.
      assert.ok(worst < 0.05, `max |Δlogit| = ${worst}`);
      assert.ok(mean < 5e-3, `mean |Δlogit| = ${mean}`);
    });

    it('generates from the command line, starting with the reference\'s choice', () => {
      const r = runCli(['generate', model, '--prompt', DROSOPHILA.text, '--max-new-tokens', '6', '--temperature', '0', '--json']);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(out.prompt_ids, DROSOPHILA.ids);
      assert.equal(out.ids.length, 6);
      const last = reference[reference.length - 1];
      const top = argmax(last);
      const second = Math.max(...last.filter((_, i) => i !== top));
      if (last[top] - second > 0.1) assert.equal(out.ids[0], top);
    });

    it('screens block-64 mutants of 1.down: stops, resumes, and equals the plain path', () => {
      const spec = join(dir.path, 'screen.yaml');
      const chat = like === 'zephyr-7b-beta';
      writeFileSync(
        spec,
        `model: ${model}\ntargets: ["1.down"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n` +
          `  - { name: raw, type: generate, prompt: "${DROSOPHILA.text}", max_new_tokens: 6, temperature: 0 }\n` +
          (chat ? `  - { name: chat, type: generate, prompt: "${DROSOPHILA.text}", chat: true, max_new_tokens: 6, temperature: 0.7, seed: 3 }\n` : ''),
      );
      const fast = join(dir.path, 'fast.sqlite');
      const plain = join(dir.path, 'plain.sqlite');
      const a = runCli(['run', spec, '--store', fast, '--limit', '5']);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(storeRows(fast).length, 5 * (chat ? 2 : 1));
      const b = runCli(['run', spec, '--store', fast, '--limit', '6']);
      assert.equal(b.status, 0, b.stderr);
      const c = runCli(['run', spec, '--store', plain, '--limit', '11', '--plain']);
      assert.equal(c.status, 0, c.stderr);
      assert.deepEqual(storeRows(fast), storeRows(plain));
      assert.equal(storeRows(fast).length, 11 * (chat ? 2 : 1));
    });

    if (like === 'zephyr-7b-beta')
      it('feeds the chat template exactly as transformers renders it (Python jinja2), or the raw prompt', () => {
        const m = loadModel(model);
        const template = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8')).chat_template as string;
        const py = `
import jinja2, json, sys
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
print(json.dumps(env.from_string(sys.argv[1]).render(messages=[{"role": "user", "content": sys.argv[2]}], add_generation_prompt=True, bos_token="<s>", eos_token="</s>")))`;
        const r = spawnSync(PYTHON, ['-c', py, template, DROSOPHILA.text], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const rendered = JSON.parse(r.stdout) as string;
        assert.equal(rendered, `<|user|>\n${DROSOPHILA.text}</s>\n<|assistant|>\n`);
        assert.equal(m.chatTemplate!.renderUser(DROSOPHILA.text), rendered);
        const chat = runCli(['generate', model, '--prompt', DROSOPHILA.text, '--chat', '--max-new-tokens', '1', '--temperature', '0', '--json']);
        assert.equal(chat.status, 0, chat.stderr);
        assert.deepEqual(JSON.parse(chat.stdout).prompt_ids, m.tokenizer.encode(rendered, { bos: false }));
      });
  });
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
