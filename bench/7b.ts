/**
 * npm run bench:7b — the paper's model size on this machine, with a random Llama-2-7B-shaped checkpoint
 * (32 layers, hidden 4096, bf16, 13.5 GB; written once into bench/.cache/llama-2-7b by the same code as
 * `mutascan synth --like llama-2-7b --out DIR`, about 3 minutes). Prints, measured in this run:
 *  - load time and resident memory after loading and after running (vs the weights' size);
 *  - prefill and decode tokens/s;
 *  - seconds per mutant on the plain and the fast path for block-64 mutants of 1.down and of 30.q with a 150-token
 *    greedy assay (the paper's length), whether the two paths agree on a mutant both ran, the share of the
 *    machine's limit the fast path reaches (its products' FLOPs at the best rate oneDNN or the row-exact kernel
 *    reach on the same shapes and row counts, measured in the same run: bench/limit.ts), where the rest of the
 *    time goes, and the peak resident memory while screening;
 *  - `mutascan estimate` for the paper's full one-prompt screen (every matrix, block 64, max and min:
 *    3.16 M mutants) on this machine and on 100 workers.
 *  - the peer: the paper's method as a user would write it in PyTorch (bench/peer_torch.py, bf16, one sampled
 *    generation with a KV cache per mutant) against the fast path on a 2-layer Llama-2-7B-shaped folder, the same
 *    mutants and preset, s/mutant of both and the ratio, the share of the limit, and the ratio's ceiling on this
 *    host (the fast path's FLOPs at the FMA peak).
 * BENCH_7B_ESTIMATE=0 skips the last part (a setup and three passes of 22 mutants: 38 minutes on a 2-core
 * machine); BENCH_7B_PARTS=run,screen,peer,estimate picks parts (the screen part takes about 23 minutes). Printed, not asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytes, duration, machineDays } from '../src/cli/estimate.js';
import { likeSpec } from '../src/make/like.js';
import { loadModel } from '../src/model/model.js';
import { allMatrices } from '../src/model/weights.js';
import { estimateScreen } from '../src/screen/estimate.js';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { defaultKvBudget, FastEvaluator } from '../src/screen/fast.js';
import { decodingNotes, prepareScreen } from '../src/screen/runner.js';
import { Transformer } from '../src/model/forward.js';
import { selectBackend } from '../src/backend/select.js';
import { MeteredBackend } from '../src/backend/metered.js';
import { loadAddon } from '../src/backend/native-backend.js';
import { printLimit } from './limit.js';
import { cachedSynth } from './synth-cache.js';
import type { Outcome } from '../src/assays/assay.js';
import type { Mutant } from '../src/screen/plan.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TOKENIZER = join(ROOT, '..', 'shared', 'tokenizers', 'llama2', 'tokenizer.bin');
const MODEL = cachedSynth('llama-2-7b', likeSpec('llama-2-7b', { tokenizer: TOKENIZER }));
const PROMPT = 'The life cycle of Drosophila:';

/** Whether the fast path's outcome of a mutant is the plain path's: the call, the output's ids, the tie flag. */
function agreement(m: Mutant, plain: Outcome, fast: Outcome): string {
  const same = plain.silent === fast.silent && plain.tie === fast.tie && JSON.stringify(plain.phenotype?.ids ?? null) === JSON.stringify(fast.phenotype?.ids ?? null);
  return `fast and plain path on ${m.key}: ${same ? 'the same' : 'DIFFERENT'} (${fast.silent ? 'silent' : `NSM, ${fast.phenotype?.ids.length ?? 0} tokens`}${fast.tie ? ', flagged tie' : ''})`;
}

const status = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const GiB = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;

// Each part runs in its own process, so that resident memory is that part's alone.
const part = process.argv[2];
if (!part) {
  const parts = process.env.BENCH_7B_PARTS?.split(',') ?? ['run', 'screen', 'peer', ...(process.env.BENCH_7B_ESTIMATE === '0' ? [] : ['estimate'])];
  for (const x of parts) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), x], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

let t = performance.now();
if (part === 'run') {
  // Load, then run: resident memory against the weights' size.
  const rss0 = status('VmRSS');
  t = performance.now();
  const model = loadModel(MODEL);
  const loadSeconds = (performance.now() - t) / 1000;
  const rssLoaded = status('VmRSS') - rss0;
  const weightBytes = [...allMatrices(model.weights).values()].reduce((a, m) => a + m.data.byteLength, 0);
  console.log(`model: Llama-2-7B shape, ${model.config.nLayers} layers, ${GiB(weightBytes)} of bf16 matrices, memory-mapped: ${model.source.mapped}`);
  console.log(`load: ${loadSeconds.toFixed(2)} s; resident memory after loading +${GiB(rssLoaded)} (${(rssLoaded / weightBytes).toFixed(3)} × the weights)`);

  const backend = await selectBackend();
  const tf = new Transformer(model.config, model.weights, backend);
  const prompt = Array.from({ length: 128 }, (_, i) => (i === 0 ? 1 : 100 + ((i * 7919) % 30000)));
  const cache = tf.newCache(256);
  t = performance.now();
  let logits = tf.forward([{ cache, tokens: prompt }], 'last');
  const firstPrefill = (performance.now() - t) / 1000; // pages come in from the page cache or disk here
  const cache2 = tf.newCache(256);
  t = performance.now();
  logits = tf.forward([{ cache: cache2, tokens: prompt }], 'last');
  const prefill = prompt.length / ((performance.now() - t) / 1000);
  const steps = 16;
  t = performance.now();
  for (let i = 0; i < steps; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    logits = tf.forward([{ cache: cache2, tokens: [best] }], 'last');
  }
  const decode = steps / ((performance.now() - t) / 1000);
  const rssRun = status('VmRSS') - rss0;
  console.log(`first pass over the weights (page-in): ${firstPrefill.toFixed(1)} s; resident memory after running +${GiB(rssRun)} (${(rssRun / weightBytes).toFixed(3)} × the weights)`);
  console.log(`prefill: ${prefill.toFixed(1)} tokens/s (128-token prompt); decode: ${decode.toFixed(2)} tokens/s (${backend.name} backend)`);
}

// Block-64 mutants of 1.down, 150-token greedy assay, plain and fast path; then the estimate.
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench7b-'));
try {
  if (part === 'screen') {
    // 1.down (its pass runs 30 of 32 layers) and a target in the last layers (30.q: the pass runs 2 layers and
    // the classifier; decoding its NSMs is the same work): fast vs plain, and the share of the machine's limit.
    const spec = join(tmp, 'down.yaml');
    writeFileSync(spec, `model: ${MODEL}\ntargets: ["1.down", "30.q"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - { name: story, type: generate, prompt: "${PROMPT}", max_length: 150, temperature: 0 }\n`);
    t = performance.now();
    const p = await prepareScreen(spec);
    console.log(`screen setup (load; baseline of ${p.assays[0].baselineIds.length} tokens): ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
    const metered = new MeteredBackend(p.tf.backend);
    const fast = new FastEvaluator(new Transformer(p.model.config, p.model.weights, metered), p.assays, p.stats, plain, { kvBudget: defaultKvBudget(p.tf, 1) });
    for (const line of decodingNotes(fast)) console.log(`decoding: ${line}`);
    const weights = [...allMatrices(p.model.weights).values()];
    const n = fast.passSize();
    const passOf = (ti: number): Mutant[] => Array.from({ length: n }, (_, i) => p.plan.mutant(p.plan.range(ti).first + 1 + i));
    // The plain path's cost does not depend on the target (a whole generation with the mutated matrix): timed once,
    // on the first mutant of 1.down's pass, whose outcome the fast path's must equal.
    const probe = passOf(0)[0];
    t = performance.now();
    const plainOut = plain.evaluate([probe])[0][0];
    const plainSeconds = (performance.now() - t) / 1000;
    p.plan.targets.forEach((target, ti) => {
      const mutants = passOf(ti);
      const rechecks = fast.rechecks;
      const [passRows, decodedRows] = [fast.passRows, fast.decodedRows()];
      metered.reset();
      t = performance.now();
      const out = fast.evaluate(mutants);
      const wall = (performance.now() - t) / 1000;
      const fastSeconds = wall / n;
      console.log(`${target.short} block-64, 150-token greedy assay: plain ${plainSeconds.toFixed(1)} s/mutant${ti ? ' (timed on 1.down)' : ''}; fast ${fastSeconds.toFixed(2)} s/mutant (one pass of ${n}, ${out.filter((o) => !o[0].silent).length} NSMs, ${fast.rechecks - rechecks} tie re-checks; rows per mutant: ${((fast.passRows - passRows) / n).toFixed(0)} in the pass, ${((fast.decodedRows() - decodedRows) / n).toFixed(0)} decoded) = ${(plainSeconds / fastSeconds).toFixed(1)}×`);
      if (ti === 0) console.log(`  ${agreement(probe, plainOut, out[0][0])}`);
      printLimit(`  ${target.short}`, metered, wall, loadAddon(), weights);
    });
    const weightBytes = [...allMatrices(p.model.weights).values()].reduce((a, m) => a + m.data.byteLength, 0);
    console.log(`peak resident memory while screening: ${GiB(status('VmHWM'))} (machine: 24 GiB; 1.2 × the weights + the KV budget: ${GiB(1.2 * weightBytes + fast.kvBudget)})`);
  }
  if (part === 'peer') {
    // The paper's method as a user would write it (bench/peer_torch.py: PyTorch, bf16, one sampled generation with
    // a KV cache per mutant) against mutascan's fast path, on the same 2-layer Llama-2-7B-shaped folder, the same
    // mutants (block-64 of 1.down, max and min), the paper's drosophila preset (150 tokens, T 0.7, top-k 50).
    const two = cachedSynth('llama-2-7b-2layers', likeSpec('llama-2-7b', { tokenizer: TOKENIZER, layers: 2 }));
    const spec = join(tmp, 'peer.yaml');
    writeFileSync(spec, `model: ${two}\ntargets: ["1.down"]\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - { name: drosophila, type: generate, preset: drosophila }\n`);
    const p = await prepareScreen(spec);
    const plain = new PlainEvaluator(p.tf, p.assays, p.stats);
    const metered = new MeteredBackend(p.tf.backend);
    const fast = new FastEvaluator(new Transformer(p.model.config, p.model.weights, metered), p.assays, p.stats, plain, { kvBudget: defaultKvBudget(p.tf, 1) });
    const { first } = p.plan.range(0);
    const n = fast.passSize();
    const mutants = Array.from({ length: n }, (_, i) => p.plan.mutant(first + i));
    metered.reset();
    t = performance.now();
    const out = fast.evaluate(mutants);
    const wall = (performance.now() - t) / 1000;
    const fastSeconds = wall / n;
    const peerMutants = mutants.slice(0, Number(process.env.BENCH_7B_PEER_MUTANTS ?? 3));
    const job = { model: two, prompt_ids: p.assays[0].type === 'generate' ? p.assays[0].promptIds : [], max_length: 150, target: 'model.layers.1.mlp.down_proj.weight', block: 64, threads: 2, blocks: peerMutants.map((m) => [m.unit!.row, m.unit!.col, m.kindName]) };
    const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'peer_torch.py')], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`the PyTorch peer failed: ${r.stderr}`);
    const peer = JSON.parse(r.stdout) as { seconds: number[]; tokens: number[]; load_seconds: number; torch: string };
    const peerSeconds = peer.seconds.reduce((a, x) => a + x, 0) / peer.seconds.length;
    console.log(`peer (2-layer Llama-2-7B shape, block-64 1.down, drosophila preset: 150 tokens, T 0.7, top-k 50):`);
    console.log(`  PyTorch ${peer.torch} bf16, one generation with a KV cache per mutant: ${peerSeconds.toFixed(2)} s/mutant (${peer.seconds.length} mutants, ${peer.tokens.join('/')} tokens; load ${peer.load_seconds.toFixed(1)} s)`);
    console.log(`  mutascan fast path: ${fastSeconds.toFixed(3)} s/mutant (one pass of ${n}, ${out.filter((o) => !o[0].silent).length} NSMs) = ${(peerSeconds / fastSeconds).toFixed(1)}× the PyTorch loop`);
    console.log(`  ${agreement(mutants[0], plain.evaluate([mutants[0]])[0][0], out[0][0])}`);
    printLimit('  mutascan fast path', metered, wall, loadAddon(), [...allMatrices(p.model.weights).values()]);
    // The ceiling on this host: the fast path's FLOPs (products and attention, as counted) at the FMA peak.
    const addon = loadAddon();
    const peak = Math.max(addon.peak('f32', addon.getThreads(), 1), addon.peak('bf16', addon.getThreads(), 1)) * 1e9;
    const flops = [...metered.products.values()].reduce((a, x) => a + x.flops, 0) + (metered.ops.get('attention')?.flops ?? 0);
    const ceiling = flops / n / peak;
    console.log(`  ceiling: ${(flops / n / 1e9).toFixed(0)} GFLOP per mutant at this host's FMA peak (${(peak / 1e9).toFixed(0)} GFLOP/s, ${addon.info().isa === 'avx512f' || addon.info().isa === 'avx2' ? `${addon.info().isa}: bf16 as float32 FMAs, no bf16 dot products or AMX here` : `bf16 kernel ${addon.info().bf16exact}`}) take ${ceiling.toFixed(3)} s = ${(peerSeconds / ceiling).toFixed(1)}× the PyTorch loop at most`);
  }
  if (part === 'estimate') {
    const full = join(tmp, 'paper.yaml');
    writeFileSync(full, `model: ${MODEL}\ntargets: all\nunit: { block: 64 }\nkinds: [max, min]\nassays:\n  - { name: drosophila, type: generate, preset: drosophila }\n`);
    const e = await estimateScreen({ specFile: full, workers: 100, sampleTargets: 3, secondsPerTarget: 1 });
    console.log(`estimate, the paper's one-prompt screen (${e.mutants.toLocaleString('en-US')} mutants, preset drosophila: 150 tokens sampled):`);
    for (const s of e.samples) console.log(`  ${s.target.padEnd(8)} ${s.depth} layers up: ${s.secondsPerMutant.toFixed(2)} s/mutant (${s.mutants} timed)`);
    console.log(`  one machine like this: ${duration(e.seconds)} (${machineDays(e)}); 100 machines: ${duration(e.workersSeconds)}; store about ${bytes(e.storeBytes)}`);
    console.log(`  (estimate's own setup: ${duration(e.setupSeconds)}; peak resident memory ${GiB(status('VmHWM'))})`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
