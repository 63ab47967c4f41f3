/**
 * Screens as measurements: replicates (an assay under several seeds), mutant names, score tables. The replicated
 * screen's results are checked against the plain path and against separate one-seed screens; the score table
 * against the store's rows (and, in test/python.test.ts, against pandas and SciPy).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseScreenSpec } from '../src/spec/spec.js';
import { canonicalName, mutantName, parseMutantName } from '../src/spec/mutant-name.js';
import { MutascanError, openModel } from '../src/index.js';
import { expectCleanError, runCli, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('mutascan-replicates-');
after(() => dir.remove());

const screen = (assays: string, extra = '') => `model: ${STORIES_BIN}
tokenizer: ${STORIES_TOK}
targets: ["1.k"]
unit: { block: 8 }
kinds: [max, min]
${extra}assays:
${assays}`;

const REPLICATED = `  - name: story
    type: generate
    prompt: "Once upon a time"
    max_new_tokens: 24
    temperature: 0.8
    top_p: 0.9
    seeds: [3, 5, 11, 12]
  - name: story-tf
    type: likelihood
    baseline_of: [story]
`;

function threw(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MutascanError, `not a MutascanError: ${e}`);
    assert.match(e.message, pattern);
    return;
  }
  assert.fail(`expected an error matching ${pattern}`);
}

describe('replicates in the screen file', () => {
  it('seeds and replicates expand into one assay per seed; a likelihood assay of their baselines follows them', () => {
    const s = parseScreenSpec(screen(REPLICATED), join(dir.path, 'a.yaml'));
    assert.deepEqual(s.assays.map((a) => a.name), ['story@3', 'story@5', 'story@11', 'story@12', 'story-tf@3', 'story-tf@5', 'story-tf@11', 'story-tf@12']);
    assert.deepEqual(s.assays.map((a) => (a.type === 'likelihood' ? a.baselineOf : a.type === 'generate' ? a.seed : null)), [3, 5, 11, 12, ['story@3'], ['story@5'], ['story@11'], ['story@12']]);
    assert.deepEqual(s.assays[1].replicate, { of: 'story', seed: 5 });
    const r = parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", temperature: 1, seed: 7, replicates: 3 }\n'), join(dir.path, 'b.yaml'));
    assert.deepEqual(r.assays.map((a) => [a.name, (a as { seed: number }).seed]), [['g@7', 7], ['g@8', 8], ['g@9', 9]]);
    // one seed is no replicate: the name stays
    const one = parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [4] }\n'), join(dir.path, 'c.yaml'));
    assert.deepEqual(one.assays.map((a) => [a.name, (a as { seed: number }).seed, a.replicate]), [['g', 4, undefined]]);
  });

  it('refuses seeds with replicates or seed, a seed twice, and likelihood assays over replicates of other seeds', () => {
    const f = join(dir.path, 'bad.yaml');
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [1, 2], replicates: 2 }\n'), f), /both seeds and replicates.*bad\.yaml:7/);
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [1, 2], seed: 3 }\n'), f), /both seed and seeds/);
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [1, 1] }\n'), f), /a seed is listed twice/);
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [] }\n'), f), /seeds must not be empty/);
    threw(
      () => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi", seeds: [1, 2] }\n  - { name: h, type: generate, prompt: "Ho", seeds: [1, 3] }\n  - { name: l, type: likelihood, baseline_of: [g, h] }\n'), f),
      /replicated assays with different seeds/,
    );
  });

  it('a dose series of kinds stands for its steps; a kind listed twice is refused', () => {
    const s = parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi" }\n').replace('kinds: [max, min]', 'kinds: [zero, { scale: { from: 0, to: 1, steps: 5 } }, { value: { from: -2, to: 2, steps: 3 } }]'), join(dir.path, 'd.yaml'));
    assert.deepEqual(s.kindNames, ['zero', 'scale:0', 'scale:0.25', 'scale:0.5', 'scale:0.75', 'scale:1', 'value:-2', 'value:0', 'value:2']);
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi" }\n').replace('kinds: [max, min]', 'kinds: [scale:0.5, { scale: { from: 0, to: 1, steps: 3 } }]'), join(dir.path, 'e.yaml')), /"scale:0.5" is listed twice/);
    threw(() => parseScreenSpec(screen('  - { name: g, type: generate, prompt: "Hi" }\n').replace('kinds: [max, min]', 'kinds: [{ scale: { from: 0, to: 1, steps: 1 } }]'), join(dir.path, 'f.yaml')), /steps must be a whole number ≥ 2/);
  });
});

describe('mutant names', () => {
  it('parse the store key form, the one-element shorthand and multi-mutants joined by +', () => {
    assert.deepEqual(parseMutantName('3.down:0,64+64x64:max'), [{ target: '3.down', row: 0, col: 64, rows: 64, cols: 64, kind: { type: 'max' } }]);
    assert.equal(canonicalName('1.down:25,78:zero'), '1.down:25,78+1x1:zero');
    // a + inside a number (1e+21) or before a size does not start another mutant
    const multi = parseMutantName('4.up:0,0+8x8:value:1e+21+0.q:3,5:scale:-0.5+embed:1,2+1x4:negate');
    assert.deepEqual(multi.map((s) => s.target), ['4.up', '0.q', 'embed']);
    assert.deepEqual(multi[0].kind, { type: 'value', value: 1e21 });
    // one set of mutations has one name, whatever order it is written in
    assert.equal(mutantName(multi), '0.q:3,5+1x1:scale:-0.5+4.up:0,0+8x8:value:1e+21+embed:1,2+1x4:negate');
    assert.equal(canonicalName('4.up:0,0+8x8:max+0.q:3,5:zero'), canonicalName('0.q:3,5+1x1:zero+4.up:0,0+8x8:max'));
  });

  it('refuse what is not a name, saying which part is wrong', () => {
    threw(() => parseMutantName('3.down:0,64+64x64:maxx'), /unknown kind "maxx"/);
    threw(() => parseMutantName('3.down:0;64:max'), /is not a mutant name.*target:row,col/);
    threw(() => parseMutantName('0.q:1,1:zero+bogus'), /unknown kind "zero\+bogus"/);
    threw(() => parseMutantName('3.down:0,0+0x4:max'), /at least 1 × 1/);
    threw(() => parseMutantName('  '), /an empty mutant name/);
  });

  it('a multi-mutant is applied as its singles together and put back bit for bit', async () => {
    const model = await openModel(STORIES_BIN, { tokenizer: STORIES_TOK, backend: 'ts' });
    const before = model.logits(model.tokenize('Once upon a time'));
    const pair = '1.k:0,0+8x8:max+1.k:4,4+8x8:min';
    const together = model.withMutants([pair], () => model.logits(model.tokenize('Once upon a time')));
    // min and max are the unmutated matrix's for the second single too, as a screen computes them
    const oneByOne = model.withMutants(['1.k:0,0+8x8:max', '1.k:4,4+8x8:min'], () => model.logits(model.tokenize('Once upon a time')));
    assert.deepEqual(together, oneByOne);
    assert.notDeepEqual(together, before);
    assert.deepEqual(model.logits(model.tokenize('Once upon a time')), before);
    threw(() => model.mutate('1.k:0,0:max+9.q:0,0:zero'), /layer 9 does not exist/);
    // a refused name leaves nothing applied
    assert.deepEqual(model.logits(model.tokenize('Once upon a time')), before);
  });
});

/** Results of one assay by mutant key: every stored column but the assay's id. */
function byKey(store: string, assay: string): Map<string, string> {
  const db = new Database(store, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT m.key, r.silent, r.first_divergence, r.similarity, r.n_tokens, r.tie, p.ids_json, p.text, r.kl_mean, r.kl_max, r.loglik_change, r.argmax_changes
         FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN assays a ON a.id = r.assay_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id WHERE a.name = ?`,
      )
      .all(assay) as Record<string, unknown>[];
    return new Map(rows.map(({ key, ...r }) => [key as string, JSON.stringify(r)]));
  } finally {
    db.close();
  }
}

describe('a replicated screen', () => {
  const spec = join(dir.path, 'replicated.yaml');
  writeFileSync(spec, screen(REPLICATED));
  const fast = join(dir.path, 'replicated.sqlite');
  const plain = join(dir.path, 'replicated-plain.sqlite');

  it('equals the plain path, and each replicate equals a screen of its seed alone', () => {
    assert.equal(runCli(['run', spec, '--store', fast]).status, 0);
    const r = runCli(['run', spec, '--store', plain, '--plain']);
    assert.equal(r.status, 0, r.stderr);
    for (const seed of [3, 5, 11, 12])
      for (const a of ['story', 'story-tf']) {
        const f = byKey(fast, `${a}@${seed}`);
        const p = byKey(plain, `${a}@${seed}`);
        assert.equal(f.size, 65);
        for (const [k, v] of f) {
          if (a === 'story') assert.equal(v, p.get(k), `${a}@${seed} ${k}: fast ${v}, plain ${p.get(k)}`);
          else {
            // the likelihood shares the generate assay's pass on the fast path (fast.ts, point 6); its values may
            // differ from the plain path's in the last bits where products are not row-exact (ties.ts)
            const [x, y] = [JSON.parse(v), JSON.parse(p.get(k)!)];
            assert.equal(x.silent, y.silent, `${a}@${seed} ${k}`);
            assert.equal(x.argmax_changes, y.argmax_changes, `${a}@${seed} ${k}`);
            for (const c of ['kl_mean', 'kl_max', 'loglik_change']) assert.ok(Math.abs(x[c] - y[c]) < 1e-5, `${a}@${seed} ${k} ${c}: fast ${x[c]}, plain ${y[c]}`);
          }
        }
      }
    for (const seed of [5, 12]) {
      const alone = join(dir.path, `seed${seed}.yaml`);
      writeFileSync(alone, screen(REPLICATED.replace('seeds: [3, 5, 11, 12]', `seed: ${seed}`)));
      const store = join(dir.path, `seed${seed}.sqlite`);
      assert.equal(runCli(['run', alone, '--store', store]).status, 0);
      for (const a of ['story', 'story-tf']) assert.deepEqual(byKey(fast, `${a}@${seed}`), byKey(store, a), `${a}@${seed}`);
    }
    // the seeds disagree somewhere: otherwise the screen measures nothing a single seed would not
    const calls = [3, 5, 11, 12].map((s) => [...byKey(fast, `story@${s}`).values()].map((v) => JSON.parse(v).silent).join(''));
    assert.ok(new Set(calls).size > 1);
  });

  it('the score table has one row per mutant and assay, its columns the replicates\' values', () => {
    const out = join(dir.path, 'scores.csv');
    const r = runCli(['export', fast, '--format', 'scores', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote 130 rows/);
    const [head, ...lines] = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(head, 'mutant,assay,score_type,score,sd,se,ci_lower,ci_upper,n,nsm,nsm_fraction,nsm_ci_lower,nsm_ci_upper,expected,epistasis,pair_class,seed_3,seed_5,seed_11,seed_12');
    const stories = byKey(fast, 'story@11');
    const tf = byKey(fast, 'story-tf@3');
    for (const line of lines) {
      const cells = line.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''));
      const [mutant, assay, type, , , , , , n, nsm] = cells;
      assert.equal(n, '4');
      if (assay === 'story') {
        assert.equal(type, 'nsm');
        assert.equal(cells[18], JSON.parse(stories.get(mutant)!).silent ? '0' : '1', mutant);
        assert.equal(Number(nsm), [16, 17, 18, 19].filter((c) => cells[c] === '1').length);
      } else {
        assert.equal(type, 'loglik');
        assert.equal(Number(cells[16]), JSON.parse(tf.get(mutant)!).loglik_change, mutant);
      }
    }
    expectCleanError(runCli(['export', fast, '--format', 'scores', '--out', out, '--assay', 'story', '--score', 'kl_max']), /assay "story" \(generate\) has no score "kl_max".*its scores: nsm, similarity, divergence/);
    expectCleanError(runCli(['export', fast, '--format', 'scores', '--out', out, '--assay', 'nope']), /no assay "nope".*its assays: story, story-tf/);
    expectCleanError(runCli(['export', fast, '--format', 'scores', '--out', out, '--score', 'klmax']), /no assay exported has the score "klmax".*their scores: nsm, similarity, divergence, loglik, kl_mean, kl_max/);
  });

  it('`mutascan scores` prints the replicates\' agreement and one mutant\'s scores', () => {
    const r = runCli(['scores', fast]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /story \(generate\), 4 replicates \(seeds 3, 5, 11, 12\), 64 mutants with every replicate/);
    assert.match(r.stdout, /one-seed calls that flip under another seed: \d+\.\d %/);
    assert.match(r.stdout, /replicate agreement of loglik: Pearson r -?\d\.\d{3}/);
    const json = JSON.parse(runCli(['scores', fast, '--json']).stdout) as { assay: string; nsmCounts: number[]; flip: number }[];
    // the flip share from the counts of NSM calls: a mutant NSM under k of 4 seeds differs in 2k(4 − k) of 12 ordered pairs
    const story = json.find((s) => s.assay === 'story')!;
    const flips = story.nsmCounts.reduce((s, n, k) => s + n * 2 * k * (4 - k), 0) / (64 * 12);
    assert.ok(Math.abs(story.flip - flips) < 1e-12);
    const one = runCli(['scores', fast, '--mutant', '1.k:0,8+8x8:min']);
    assert.match(one.stdout, /^1\.k:0,8\+8x8:min · story: nsm [\d.]+ \(95 % interval [\d.]+ to [\d.]+\), NSM in \d of 4; per seed: 3: /);
    expectCleanError(runCli(['scores', fast, '--mutant', '1.k:0,8']), /is not a mutant name/);
    expectCleanError(runCli(['scores', fast, '--score', 'bogus']), /no assay of the store has the score "bogus".*nsm, similarity, divergence, loglik, kl_mean, kl_max/);
    // a score one assay lacks applies to those that have it
    assert.match(runCli(['scores', fast, '--score', 'kl_max']).stdout, /replicate agreement of similarity:[^\n]*\n[^]*replicate agreement of kl_max:/);
  });

  it('the report shows the replicates: NSM fraction and flip maps, concordance per target and seed pair', () => {
    const out = join(dir.path, 'report');
    const r = runCli(['report', fast, '--out', out, '--no-embed']);
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(html, /<h2>Replicates and pairs<\/h2>/);
    for (const f of ['replicates-nsm-story', 'replicates-flip-story', 'replicates-scatter-story', 'replicates-scatter-story-tf']) assert.ok(html.includes(`figures/${f}.svg`) || html.includes(f), f);
    const table = readFileSync(join(out, 'tables', 'replicates.csv'), 'utf8').trim().split('\n');
    // 2 assays × 1 target × 3 consecutive seed pairs
    assert.equal(table.length, 1 + 6);
    assert.match(table[1], /^story,1\.k,3,5,similarity,64,/);
  });
});
