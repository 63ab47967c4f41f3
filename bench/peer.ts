/**
 * npm run bench:peer — mutascan against llama.cpp (node-llama-cpp's CPU build) on the same GGUF files, side by
 * side in one run, with the machine's limits measured in the same run:
 *
 *  - the limits: memory bandwidth (a STREAM-like triad and a read-only sweep over 2 GiB, 1 and 2 threads) and
 *    the products' peak (a tight loop of fp32 FMAs, or of bf16 dot products, in the addon);
 *  - per model size (stories260K; random models of SmolLM-135M's, Llama-3.2-1B's and Llama-2-7B's shapes) and
 *    type (F32, F16 at 135M and 1B, BF16; the 7B shape in BF16 only: in F32 it is 27 GB, more than this machine's memory) and thread
 *    count: prompt processing (64 tokens in one call) and decoding (one token per step) in tokens/s for each
 *    engine, each in a process of its own, with its peak memory, the ratio mutascan / llama.cpp, and the share
 *    of the machine's limit each reaches (decoding: the bytes of weights a token reads over the read bandwidth;
 *    prompt processing: the FLOPs of a token over the peak).
 *
 * BENCH_PEER_SIZES=260k,135m,1b,7b picks sizes (default all), BENCH_PEER_TYPES=F32,F16,BF16 types (default all),
 * BENCH_THREADS=1,2 thread counts (default both),
 * BENCH_SECONDS the time per measurement (default 3). Model files are made once into bench/.cache/ (the 7B
 * shape: about 14 GB and some minutes). Printed, not asserted.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../src/backend/native-backend.js';
import { loadModel } from '../src/model/model.js';
import { gguf, SIZE_LIST, tokenCost } from './peer-models.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const THREADS = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const SIZES = (process.env.BENCH_PEER_SIZES ?? '260k,135m,1b,7b').split(',');
const TYPES = (process.env.BENCH_PEER_TYPES ?? 'F32,F16,BF16').split(',');
const PREFILL = 64;

interface Run {
  prefill: number;
  decode: number;
  maxRssMiB: number;
}

function run(engine: 'mutascan' | 'llamacpp', file: string, threads: number, decodeSteps: number, vocab: number): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'peer-run.ts'), engine, file, String(threads), String(PREFILL), String(decodeSteps), String(SECONDS), String(vocab)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${engine} on ${file}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

const addon = loadAddon();
const limits = {
  read: Object.fromEntries(THREADS.map((t) => [t, addon.bandwidth('read', 2 ** 31, t, 2)])),
  triad: Object.fromEntries(THREADS.map((t) => [t, addon.bandwidth('triad', 2 ** 31, t, 2)])),
  f32: Object.fromEntries(THREADS.map((t) => [t, addon.peak('f32', t, 1)])),
  bf16: Object.fromEntries(THREADS.map((t) => [t, addon.peak('bf16', t, 1)])),
};
console.log(`bench:peer, ${new Date().toISOString().slice(0, 10)}, CPU level ${addon.info().isa}, node-llama-cpp's CPU build, ${SECONDS} s per measurement`);
for (const t of THREADS)
  console.log(`  limits, ${t} thread(s): read ${limits.read[t].toFixed(1)} GB/s, triad ${limits.triad[t].toFixed(1)} GB/s, fp32 FMA peak ${limits.f32[t].toFixed(0)} GFLOP/s, bf16 peak ${limits.bf16[t].toFixed(0)} GFLOP/s`);
console.log('');
console.log('tokens/s of mutascan (m) and llama.cpp (l), their ratio, and the share of the limit each reaches; peak memory of each process');
console.log(`${'model'.padEnd(19)} ${'type'.padEnd(4)} thr | ${'prompt m'.padStart(9)} ${'l'.padStart(9)} ${'m/l'.padStart(6)} ${'peak% m'.padStart(7)} ${'l'.padStart(5)} | ${'decode m'.padStart(9)} ${'l'.padStart(9)} ${'m/l'.padStart(6)} ${'bw% m'.padStart(6)} ${'l'.padStart(5)} | ${'MiB m'.padStart(6)} ${'l'.padStart(6)}`);

for (const s of SIZE_LIST.filter((x) => SIZES.includes(x.key))) {
  for (const dtype of s.dtypes.filter((d) => TYPES.includes(d))) {
    const file = gguf(s, dtype);
    const model = loadModel(file);
    const { bytes, params } = tokenCost(model.weights);
    const vocab = model.config.vocabSize;
    for (const t of THREADS) {
      const m = run('mutascan', file, t, s.decodeSteps, vocab);
      const l = run('llamacpp', file, t, s.decodeSteps, vocab);
      // decoding: a token's weights at the read bandwidth; prompt processing: a token's FLOPs at the products' peak
      const bw = (rate: number) => `${((100 * bytes * rate) / (limits.read[t] * 1e9)).toFixed(0)}%`;
      const peak = (rate: number) => `${((100 * 2 * params * rate) / ((dtype === 'BF16' ? limits.bf16[t] : limits.f32[t]) * 1e9)).toFixed(0)}%`;
      const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1)).padStart(9);
      console.log(
        `${s.name.padEnd(19)} ${dtype.padEnd(4)} ${String(t).padStart(3)} | ${f(m.prefill)} ${f(l.prefill)} ${(m.prefill / l.prefill).toFixed(2).padStart(5)}× ${peak(m.prefill).padStart(7)} ${peak(l.prefill).padStart(5)} | ` +
          `${f(m.decode)} ${f(l.decode)} ${(m.decode / l.decode).toFixed(2).padStart(5)}× ${bw(m.decode).padStart(6)} ${bw(l.decode).padStart(5)} | ${m.maxRssMiB.toFixed(0).padStart(6)} ${l.maxRssMiB.toFixed(0).padStart(6)}`,
      );
    }
    console.log(`${''.padEnd(19)} ${dtype.padEnd(4)}     (a token reads ${(bytes / 2 ** 20).toFixed(1)} MiB of weights and takes ${((2 * params) / 1e9).toFixed(3)} GFLOP of products)`);
  }
}
