/**
 * The paper's setting, where nearly every mutant is an NSM: sampled element screens (temperature 0.7, top-p 0.9,
 * 150 tokens on stories260K; top-k 50 on a SmolLM-135M-shaped model), a prompt and seed no run.c fixture uses,
 * targets in early and late layers. The fast path (teacher-forced pass, then every NSM decoding with the others)
 * and the plain path (one generation per mutant) must give every mutant the same whole output — ids and text —
 * except where a decision fell within the tie epsilon, which must then be flagged (`tie`).
 * Runs of consecutive mutants from spread places of each target, as a screen evaluates them.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Outcome } from '../src/assays/assay.js';
import { writeSynthModel } from '../src/make/synth.js';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { FastEvaluator } from '../src/screen/fast.js';
import type { Mutant } from '../src/screen/plan.js';
import { prepareScreen } from '../src/screen/runner.js';
import { LLAMA2_TOK, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('sampled');
after(() => dir.remove());

interface Tally {
  mutants: number;
  nsm: number;
  flagged: number;
  differentButFlagged: number;
}

/** Evaluates `runs` runs of `per` consecutive mutants of each target on both paths and compares whole outputs. */
async function compare(spec: string, runs: number, per: number, backend?: string): Promise<Tally> {
  const p = await prepareScreen(spec, backend);
  const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
  const fast = new FastEvaluator(p.tf, p.assays, p.stats, plain);
  const tally: Tally = { mutants: 0, nsm: 0, flagged: 0, differentButFlagged: 0 };
  const show = (o: Outcome): string => JSON.stringify({ silent: o.silent, ids: o.phenotype?.ids, text: o.phenotype?.text, firstDivergence: o.firstDivergence });
  p.plan.targets.forEach((t, ti) => {
    const { first, count } = p.plan.range(ti);
    for (let r = 0; r < runs; r++) {
      const start = first + Math.floor(((count - per) * r) / Math.max(1, runs - 1));
      const ms: Mutant[] = Array.from({ length: per }, (_, i) => p.plan.mutant(start + i));
      const f = fast.evaluate(ms);
      const q = plain.evaluate(ms);
      ms.forEach((m, i) =>
        p.assays.forEach((_, a) => {
          const x = f[i][a];
          const y = q[i][a];
          tally.mutants++;
          if (!y.silent) tally.nsm++;
          if (x.tie || y.tie) tally.flagged++;
          if (show(x) === show(y)) return;
          assert.ok(x.tie || y.tie, `${m.key}: fast and plain outputs differ and neither flags a near-tie\n fast  ${show(x)}\n plain ${show(y)}`);
          tally.differentButFlagged++;
        }),
      );
    }
  });
  return tally;
}

function report(name: string, t: Tally): void {
  console.log(`# ${name}: ${t.mutants} mutants, ${t.nsm} NSMs (${((100 * t.nsm) / t.mutants).toFixed(1)} %), ${t.flagged} flagged near-ties, ${t.differentButFlagged} of them with other outputs in the two paths`);
}

describe('sampled element screens: fast path = plain path on every whole output', () => {
  it('stories260K, native backend: 0.q, 1.k, 3.o, 4.down, T=0.7 top-p 0.9, max_length 150', async () => {
    const spec = join(dir.path, 'stories.yaml');
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["0.q", "1.k", "3.o", "4.down"]\nunit: element\nkinds: [max, min]\nassays:\n` +
        `  - name: park\n    type: generate\n    prompt: "Lily and Tom went to the park"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 4242\n`,
    );
    const t = await compare(spec, 3, 40);
    report('stories260K native', t);
    assert.ok(t.nsm > t.mutants / 2, 'most mutants are NSMs under sampling, so the decoding is what is compared');
  });

  it('stories260K, TypeScript twin (row-exact): identical outputs and identical flags', async () => {
    const spec = join(dir.path, 'stories-ts.yaml');
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["0.v", "4.up"]\nunit: element\nkinds: [max, min]\nassays:\n` +
        `  - name: park\n    type: generate\n    prompt: "Lily and Tom went to the park"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 4242\n`,
    );
    const t = await compare(spec, 2, 8, 'ts');
    report('stories260K TypeScript', t);
    assert.equal(t.differentButFlagged, 0);
    assert.ok(t.nsm > t.mutants / 2);
  });

  it('SmolLM-135M shape, bf16 native: blocks of 0.q and 29.up, T=0.7 top-k 50, 24 new tokens', async () => {
    const model = join(dir.path, 'smollm');
    writeSynthModel(model, {
      architecture: 'llama', dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, maxSeqLen: 2048,
      tied: true, dtype: 'BF16', shards: 1, seed: 135, tokenizer: join(LLAMA2_TOK, 'tokenizer.bin'),
    });
    const spec = join(dir.path, 'smollm.yaml');
    // random weights are evenly spread, so a unit at the matrix's max barely matters: a large value does
    writeFileSync(
      spec,
      `model: ${model}\ntargets: ["0.q", "29.up"]\nunit: { block: 64 }\nkinds: ["value:40", "value:-40"]\nassays:\n` +
        `  - name: story\n    type: generate\n    prompt: "One day, a little fox"\n    max_new_tokens: 24\n    temperature: 0.7\n    top_k: 50\n    seed: 31\n`,
    );
    const t = await compare(spec, 2, 4);
    report('SmolLM-135M shape', t);
    assert.ok(t.nsm > 0);
  });
});
