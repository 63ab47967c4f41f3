/**
 * npm run bench:peer-screen — screens at the sizes people screen, against llama.cpp's least cost per mutant.
 *
 * For the SmolLM-135M, Llama-3.2-1B and Llama-2-7B shapes (the BF16 GGUF files of bench:peer): a screen of
 * block-64 mutants (max and min) of a few matrices with one sampled generate assay (temperature 0.7, 150 tokens,
 * seed 42), and for each matrix:
 *
 *  - the fast path's mutants/s over a few passes of mutants (BENCH_PASSES; default 4 at 135M and 1B, 3 at 7B: the
 *    NSMs of several passes decode together, as in the chunks a run hands out), with its share of the machine's
 *    limit (bench/limit.ts: its products at the best rate measured now on the same shapes and row counts);
 *  - the same on a screen of 1.down writing 100 (`value:100`), which makes every mutant an NSM, the fast path's
 *    costliest case (random weights leave most max/min mutants silent);
 *  - the plain path's mutants/s (one whole generation with the mutated matrix; BENCH_PLAIN mutants, default 2 at
 *    135M and 1 above), and whether its outcomes equal the fast path's;
 *  - llama.cpp's time for one generation of the same prompt ids and length (bench/peer-generate.ts, node-llama-cpp's
 *    CPU build, F32 KV cache): the least a loop that screens each mutant by generating its output with llama.cpp
 *    pays per mutant, with the weights' rewriting not counted; and its share of the limit (the prompt's FLOPs at
 *    the bf16 peak plus each decoded token's weights at the read bandwidth).
 *
 * The plain path and llama.cpp do the same work per mutant (one generation), so their shares are computed the
 * same way. Each size runs in a process of its own. BENCH_PEER_SIZES=135m,1b,7b picks sizes; MUTASCAN_THREADS
 * the threads of both engines (default: every core). Printed, not asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultThreads, loadAddon } from '../src/backend/native-backend.js';
import { MeteredBackend } from '../src/backend/metered.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';
import { allMatrices } from '../src/model/weights.js';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { defaultKvBudget, FastEvaluator } from '../src/screen/fast.js';
import { prepareScreen, type PreparedScreen } from '../src/screen/runner.js';
import type { Outcome } from '../src/assays/assay.js';
import { printLimit } from './limit.js';
import { gguf, SIZE_LIST, tokenCost } from './peer-models.js';

const PROMPT = 'The life cycle of Drosophila:';
const TOKENS = 150;
const TEMPERATURE = 0.7;
const SEED = 42;
const THREADS = Number(process.env.MUTASCAN_THREADS ?? defaultThreads());

interface Plan {
  targets: (layers: number) => string[];
  /** passes of the fast path per target: NSMs of several passes decode together, as in a run's chunks */
  passes: number;
  plain: number;
}
const PLANS: Record<string, Plan> = {
  '135m': { targets: (l) => ['1.down', `${l >> 1}.q`, `${l - 1}.o`], passes: 4, plain: 2 },
  '1b': { targets: (l) => ['1.down', `${l >> 1}.q`, `${l - 1}.o`], passes: 4, plain: 1 },
  '7b': { targets: () => ['1.down'], passes: 3, plain: 1 },
};

interface Row {
  size: string;
  target: string;
  fast: number;
  fastShare: number;
  fastMutants: number;
  nsm: number;
  plain: number;
  plainShare: number;
  agree: string;
  llama: number;
  llamaShare: number;
}

const same = (a: Outcome, b: Outcome): boolean => a.silent === b.silent && a.tie === b.tie && JSON.stringify(a.phenotype?.ids ?? null) === JSON.stringify(b.phenotype?.ids ?? null);

async function size(key: string): Promise<Row[]> {
  const s = SIZE_LIST.find((x) => x.key === key)!;
  const file = gguf(s, 'BF16');
  const plan = PLANS[key];
  const tmp = mkdtempSync(join(tmpdir(), 'mutascan-peer-screen-'));
  try {
    const spec = join(tmp, 'screen.yaml');
    const targets = plan.targets(loadModel(file).config.nLayers);
    const screenYaml = (targets: string[], kinds: string): string =>
      `model: ${file}\ntargets: ${JSON.stringify(targets)}\nunit: { block: 64 }\nkinds: ${kinds}\nassays:\n  - { name: story, type: generate, prompt: "${PROMPT}", max_length: ${TOKENS}, temperature: ${TEMPERATURE}, seed: ${SEED} }\n`;
    writeFileSync(spec, screenYaml(targets, '[max, min]'));
    const p = await prepareScreen(spec);
    const assay = p.assays[0];
    if (assay.type !== 'generate') throw new Error('the screen has one generate assay');
    const addon = loadAddon();
    const weights = [...allMatrices(p.model.weights).values()];
    const { bytes, params } = tokenCost(p.model.weights);
    const read = addon.bandwidth('read', 2 ** 31, THREADS, 2) * 1e9;
    const peak = addon.peak('bf16', THREADS, 1) * 1e9;
    /** the least one generation takes: the prompt's products at the peak, every decoded token's weights at the read bandwidth */
    const generationLimit = (2 * params * assay.promptIds.length) / peak + (TOKENS * bytes) / read;
    console.log(`${s.name} (BF16, ${p.model.config.nLayers} layers), block-64 max/min, ${TOKENS} tokens at T ${TEMPERATURE}, seed ${SEED}, ${THREADS} thread(s); prompt ${assay.promptIds.length} tokens; limit of one generation ${generationLimit.toFixed(2)} s (read ${(read / 1e9).toFixed(1)} GB/s, bf16 peak ${(peak / 1e9).toFixed(0)} GFLOP/s)`);

    const gen = spawnSync(process.execPath, ['--import', 'tsx', join(fileURLToPath(new URL('.', import.meta.url)), 'peer-generate.ts'), file, String(THREADS), String(TOKENS), String(TEMPERATURE), String(SEED), '2', assay.promptIds.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (gen.status !== 0) throw new Error(`llama.cpp: ${gen.stderr.slice(-2000)}`);
    const g = JSON.parse(gen.stdout.trim().split('\n').pop()!) as { seconds: number[]; tokens: number[] };
    const llama = g.seconds.reduce((a, x) => a + x, 0) / g.seconds.length;
    console.log(`  llama.cpp: one generation ${llama.toFixed(2)} s (${g.seconds.map((x) => x.toFixed(2)).join(', ')}; ${g.tokens.join('/')} tokens) = ${(1 / llama).toFixed(3)} mutants/s at most; ${((100 * generationLimit) / llama).toFixed(0)} % of the limit`);

    const rows: Row[] = [];
    /** A few passes of each target's first mutants on the fast path, the first of them on the plain path. */
    const measure = (q: PreparedScreen, label: string): void => {
      const plain = new PlainEvaluator(q.tf, q.assays, q.stats);
      const metered = new MeteredBackend(q.tf.backend);
      const fast = new FastEvaluator(new Transformer(q.model.config, q.model.weights, metered), q.assays, q.stats, plain, { kvBudget: defaultKvBudget(q.tf, 1) });
      q.plan.targets.forEach((target, ti) => {
        const { first, count } = q.plan.range(ti);
        const n = Math.min(fast.passSize() * Number(process.env.BENCH_PASSES ?? plan.passes), count);
        const mutants = Array.from({ length: n }, (_, i) => q.plan.mutant(first + i));
        metered.reset();
        let t = performance.now();
        const out = fast.evaluate(mutants);
        const wall = (performance.now() - t) / 1000;
        const name = `${target.short}${label}`;
        const fastShare = printLimit(`  ${name}, fast path (${n} mutants)`, metered, wall, addon, weights);
        const k = Math.min(Number(process.env.BENCH_PLAIN ?? plan.plain), n);
        t = performance.now();
        const plainOut = plain.evaluate(mutants.slice(0, k));
        const plainSeconds = (performance.now() - t) / 1000 / k;
        const agree = plainOut.filter((o, i) => same(o[0], out[i][0])).length;
        const row: Row = {
          size: s.name,
          target: name,
          fast: n / wall,
          fastShare,
          fastMutants: n,
          nsm: out.filter((o) => !o[0].silent).length,
          plain: 1 / plainSeconds,
          plainShare: generationLimit / plainSeconds,
          agree: `${agree}/${k}`,
          llama: 1 / llama,
          llamaShare: generationLimit / llama,
        };
        console.log(`  ${name}: fast ${row.fast.toFixed(3)} mutants/s (${n}, ${row.nsm} NSMs), plain ${row.plain.toFixed(4)} (${k} mutant(s), same outcome as the fast path: ${row.agree}), llama.cpp ${row.llama.toFixed(4)} at most: fast / llama.cpp ${(row.fast / row.llama).toFixed(1)}×`);
        rows.push(row);
      });
    };
    measure(p, '');
    // Random weights leave most max/min mutants silent, where the fast path stops at its teacher-forced pass; a
    // trained model under sampling makes nearly every mutant an NSM (97.8 % of stories260K's 1.k), whose output
    // the fast path decodes. Writing 100 makes every mutant an NSM: the fast path's other end.
    writeFileSync(spec, screenYaml(['1.down'], '["value:100"]'));
    measure(await prepareScreen(spec), ' v100');
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const only = process.argv[2];
if (only) {
  const rows = await size(only);
  process.stdout.write(`ROWS ${JSON.stringify(rows)}\n`);
  process.exit(0);
}
const rows: Row[] = [];
console.log(`bench:peer-screen, ${new Date().toISOString().slice(0, 10)}, CPU level ${loadAddon().info().isa}, ${THREADS} thread(s)`);
for (const key of (process.env.BENCH_PEER_SIZES ?? '135m,1b,7b').split(',')) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  const lines = r.stdout.split('\n');
  for (const l of lines) if (l && !l.startsWith('ROWS ')) console.log(l);
  if (r.status !== 0) process.exit(r.status ?? 1);
  rows.push(...(JSON.parse(lines.find((l) => l.startsWith('ROWS '))!.slice(5)) as Row[]));
}
console.log('');
console.log('mutants/s of the fast path, the plain path and llama.cpp (one generation per mutant, at most), and the share of the limit each reaches');
console.log(`${'model'.padEnd(19)} ${'target'.padEnd(11)} | ${'fast'.padStart(8)} ${'share'.padStart(6)} | ${'plain'.padStart(8)} ${'share'.padStart(6)} ${'same'.padStart(5)} | ${'llama.cpp'.padStart(9)} ${'share'.padStart(6)} | ${'fast/l'.padStart(7)} ${'plain/l'.padStart(7)}`);
const f = (x: number) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(4)).padStart(8);
const pc = (x: number) => `${(100 * x).toFixed(0)}%`.padStart(6);
for (const r of rows)
  console.log(`${r.size.padEnd(19)} ${r.target.padEnd(11)} | ${f(r.fast)} ${pc(r.fastShare)} | ${f(r.plain)} ${pc(r.plainShare)} ${r.agree.padStart(5)} | ${f(r.llama).padStart(9)} ${pc(r.llamaShare)} | ${(r.fast / r.llama).toFixed(1).padStart(6)}× ${(r.plain / r.llama).toFixed(2).padStart(6)}×`);
