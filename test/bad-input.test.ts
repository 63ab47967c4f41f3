/** Bad input ends in a message a person understands: what, where, what to do; never a bare stack trace. */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSynthModel } from '../src/make/synth.js';
import { expectCleanError, LLAMA2_TOK, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const gen = (model: string, ...extra: string[]) => runCli(['generate', model, '--prompt', 'Once upon a time', '--max-new-tokens', '4', '--temperature', '0', '--backend', 'ts', ...extra]);

describe('bad input', () => {
  const dir = tempDir('bad');
  const hf = join(dir.path, 'hf');
  const fresh = (name: string, spec: Partial<Parameters<typeof writeSynthModel>[1]> = {}): string => {
    const p = join(dir.path, name);
    writeSynthModel(p, { architecture: 'llama', dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 512, maxSeqLen: 32, tied: true, dtype: 'F32', shards: 1, seed: 3, tokenizer: STORIES_TOK, ...spec });
    return p;
  };
  before(() => fresh('hf'));
  after(() => dir.remove());

  it('the good folder works (so each failure below is the edit, not the fixture)', () => {
    const r = gen(hf, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).ids.length, 4);
  });

  it('truncated llama2.c checkpoint', () => {
    const f = join(dir.path, 'trunc.bin');
    writeFileSync(f, readFileSync(STORIES_BIN).subarray(0, 500000));
    expectCleanError(gen(f, '--tokenizer', STORIES_TOK), /checkpoint is truncated: .*needs 1056540 bytes but the file has 500000.*trunc\.bin/);
  });

  it('llama2.c header sizes that disagree with the file', () => {
    const f = join(dir.path, 'header.bin');
    const b = Buffer.from(readFileSync(STORIES_BIN));
    b.writeInt32LE(32, 8); // n_layers 5 → 32
    writeFileSync(f, b);
    expectCleanError(gen(f, '--tokenizer', STORIES_TOK), /truncated: the header \(dim 64, hidden 172, 32 layers, vocab 512\)/);
    const g = join(dir.path, 'header2.bin');
    const c = Buffer.from(readFileSync(STORIES_BIN));
    c.writeInt32LE(4, 8); // 5 → 4 layers: the file is now larger than the header says
    writeFileSync(g, c);
    expectCleanError(gen(g, '--tokenizer', STORIES_TOK), /bytes more than its header .*header sizes disagree with the file/);
  });

  it('safetensors header that lies about offsets', () => {
    const p = fresh('offsets');
    const f = join(p, 'model.safetensors');
    const b = readFileSync(f);
    const n = Number(b.readBigUInt64LE(0));
    const header = JSON.parse(b.subarray(8, 8 + n).toString());
    header['model.norm.weight'].data_offsets[1] += 8;
    writeHeader(f, header, b.subarray(8 + n));
    expectCleanError(gen(p), /data_offsets span 72 bytes but shape \[16\] of F32 needs 64 \(in .*model\.safetensors, tensor model\.norm\.weight\) — the header lies about offsets or dtype/);
  });

  it('safetensors header that lies about the dtype', () => {
    const p = fresh('dtype');
    const f = join(p, 'model.safetensors');
    const b = readFileSync(f);
    const n = Number(b.readBigUInt64LE(0));
    const header = JSON.parse(b.subarray(8, 8 + n).toString());
    header['model.norm.weight'].dtype = 'BF16';
    writeHeader(f, header, b.subarray(8 + n));
    expectCleanError(gen(p), /shape \[16\] of BF16 needs 32 \(in .*tensor model\.norm\.weight\)/);
    header['model.norm.weight'].dtype = 'I64';
    writeHeader(f, header, b.subarray(8 + n));
    expectCleanError(gen(p), /dtype I64 is not supported.*model\.norm\.weight.*F32, F16 and BF16/s);
  });

  it('truncated safetensors file', () => {
    const p = fresh('sttrunc');
    const f = join(p, 'model.safetensors');
    const b = readFileSync(f);
    writeFileSync(f, b.subarray(0, b.length - 100));
    expectCleanError(gen(p), /tensor ends at byte \d+ of the data section, but the data section has \d+ bytes.*truncated/s);
  });

  it('a shard missing', () => {
    const p = fresh('shards', { shards: 3 });
    const shards = [...new Set(Object.values(JSON.parse(readFileSync(join(p, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>))];
    assert.ok(shards.length >= 2);
    rmSync(join(p, shards[1]));
    expectCleanError(gen(p), new RegExp(`shard ${shards[1].replaceAll('.', '\\.')} \\(holding .+\\) is missing.*model\\.safetensors\\.index\\.json.*copy every shard`, 's'));
  });

  it('config.json without a needed field', () => {
    const p = fresh('nofield');
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    delete cfg.hidden_size;
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    expectCleanError(gen(p), /config has no "hidden_size".*config\.json.*add "hidden_size"/s);
  });

  it('unknown architecture is refused by name', () => {
    const p = fresh('arch');
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    cfg.model_type = 'gpt2';
    cfg.architectures = ['GPT2LMHeadModel'];
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    expectCleanError(gen(p), /architecture "gpt2" \(GPT2LMHeadModel\) is not supported.*llama, mistral, qwen2/s);
  });

  it('tensor shape that disagrees with config.json', () => {
    const p = fresh('shape');
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    cfg.intermediate_size = 30;
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    expectCleanError(gen(p), /tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[24,16\] but config\.json implies \[30,16\]/);
  });

  it('tokenizer of the wrong vocabulary size', () => {
    expectCleanError(gen(STORIES_BIN, '--tokenizer', join(LLAMA2_TOK, 'tokenizer.bin')), /tokenizer has more than 512 tokens.*tokenizer\.bin.*use the tokenizer trained with this model/s);
    const p = fresh('bigvocab');
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    cfg.vocab_size = 300; // tokenizer.json has 512 tokens
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    const st = join(p, 'model.safetensors');
    renameSync(st, st + '.x');
    writeSynthModel(join(dir.path, 'tmp300'), { architecture: 'llama', dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 300, maxSeqLen: 32, tied: true, dtype: 'F32', shards: 1, seed: 3 });
    copyFileSync(join(dir.path, 'tmp300', 'model.safetensors'), st);
    expectCleanError(gen(p), /tokenizer has 512 tokens but the model's vocab_size is 300/);
  });

  it('prompt longer than the context', () => {
    const long = 'Once upon a time there was a dog. '.repeat(80);
    expectCleanError(runCli(['generate', STORIES_BIN, '--prompt', long, '--backend', 'ts']), /the prompt is \d+ tokens, longer than the model's context of 512.*shorten the prompt/);
  });

  it('unknown option values', () => {
    expectCleanError(gen(STORIES_BIN, '--temperature', 'hot'), /--temperature must be a number ≥ 0, got "hot"/);
    expectCleanError(gen(STORIES_BIN, '--top-p', '2'), /--top-p must be a number ≥ 0 and ≤ 1, got "2"/);
    expectCleanError(gen(STORIES_BIN, '--seed', '-1'), /--seed must be a whole number ≥ 0, got "-1"/);
    expectCleanError(runCli(['generate', STORIES_BIN, '--prompt', 'x', '--backend', 'gpu']), /unknown backend "gpu".*use auto, ts or native/);
    expectCleanError(runCli(['generate', STORIES_BIN, '--prompt', 'x'], { env: { MUTASCAN_BACKEND: 'cuda' } }), /unknown backend "cuda".*MUTASCAN_BACKEND/);
  });

  it('missing model, missing tokenizer, model without chat template', () => {
    expectCleanError(gen(join(dir.path, 'nope.bin')), /model not found.*nope\.bin/);
    const lone = join(dir.path, 'lone', 'model.bin');
    fresh('lone');
    copyFileSync(STORIES_BIN, lone);
    expectCleanError(gen(lone), /no tokenizer for model\.bin.*pass --tokenizer FILE/s);
    expectCleanError(gen(STORIES_BIN, '--chat'), /this model has no chat template/);
  });

  it('config.json that is not JSON', () => {
    const p = fresh('notjson');
    writeFileSync(join(p, 'config.json'), '{ "model_type": "llama", ');
    expectCleanError(gen(p), /not valid JSON.*config\.json/);
  });
});

function writeHeader(file: string, header: object, data: Buffer): void {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(file, Buffer.concat([len, h, data]));
}
