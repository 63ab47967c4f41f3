/**
 * npm run bench:gemm — matrix-product throughput against the machine's peak, measured in the same run.
 *
 * For each shape [out × in] of stories260K, SmolLM-135M and Llama-2-7B, at 1, 16, 128 and 512 activation rows:
 * GFLOP/s of the TypeScript backend, of the libraries (OpenBLAS, oneDNN: MUTASCAN_KERNEL=library) and of the
 * row-exact kernels the backend uses by default (native/src/f32exact.cc, bf16exact.cc), each as a share of the
 * peak of the instruction its kind is bound by at this level (a tight loop in the addon: float32 FMA, or the bf16
 * dot product where the CPU has one; below AVX-512 BF16 a bf16 product is float32 FMAs, so its peak is theirs).
 *
 * Then every instruction-set level this CPU can run (MUTASCAN_ISA, native/src/isa.h), each in its own process:
 * its peaks and its row-exact kernels at the 7B shapes with 512 rows. BENCH_LEVELS=0 skips that part.
 * Threads: MUTASCAN_THREADS (default: every core). Printed, not asserted.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defaultThreads, ISA_LEVELS, loadAddon, type NativeAddon } from '../src/backend/native-backend.js';
import { TsBackend } from '../src/backend/ts-backend.js';
import { matrix } from '../src/model/weights.js';
import { rate } from './rate.js';

const SHAPES: { model: string; name: string; m: number; n: number }[] = [
  { model: 'stories260K', name: 'q/o', m: 64, n: 64 },
  { model: 'stories260K', name: 'gate/up', m: 172, n: 64 },
  { model: 'stories260K', name: 'down', m: 64, n: 172 },
  { model: 'SmolLM-135M', name: 'q/o', m: 576, n: 576 },
  { model: 'SmolLM-135M', name: 'gate/up', m: 1536, n: 576 },
  { model: 'SmolLM-135M', name: 'down', m: 576, n: 1536 },
  { model: 'SmolLM-135M', name: 'lm_head', m: 49152, n: 576 },
  { model: 'Llama-2-7B', name: 'q/k/v/o', m: 4096, n: 4096 },
  { model: 'Llama-2-7B', name: 'gate/up', m: 11008, n: 4096 },
  { model: 'Llama-2-7B', name: 'down', m: 4096, n: 11008 },
];
const ROWS = [1, 16, 128, 512];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.3);

/** GFLOP/s of `fn` doing `flops` per call. */
const gflops = (fn: () => void, flops: number, seconds = SECONDS): number => rate(fn, flops, seconds) / 1e9;
const pct = (g: number, p: number): string => `${((100 * g) / p).toFixed(0)}%`.padStart(5);

function weights(m: number, n: number): { wf: Float32Array; wb: Uint16Array } {
  const wf = Float32Array.from({ length: m * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  return { wf, wb: new Uint16Array(wf.buffer.slice(0)).filter((_, i) => i % 2 === 1) };
}

function activations(rows: number, n: number): Float32Array {
  return Float32Array.from({ length: rows * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
}

/** One line for the level summary: this process's level, peaks and row-exact kernels at the 7B shapes, 512 rows. */
function levelLine(a: NativeAddon, threads: number): string {
  const info = a.info();
  const pf = a.peak('f32', threads, 1);
  const pb = a.peak('bf16', threads, 1);
  const cells: string[] = [];
  for (const s of SHAPES.filter((x) => x.model === 'Llama-2-7B')) {
    const { wf, wb } = weights(s.m, s.n);
    // the portable kernels are scalar: a few rows say their rate
    const rows = info.isa === 'portable' ? 4 : 512;
    const x = activations(rows, s.n);
    const out = new Float32Array(rows * s.m);
    const flops = 2 * rows * s.m * s.n;
    const ef = gflops(() => a.f32exact(out, s.m, x, rows, wf, s.m, s.n), flops, 1);
    const eb = gflops(() => a.bf16exact(out, s.m, x, rows, wb, s.m, s.n), flops, 1);
    cells.push(`${s.name}${rows === 512 ? '' : ` (${rows} rows)`} f32 ${ef.toFixed(0)} (${pct(ef, pf).trim()}) bf16 ${eb.toFixed(0)} (${pct(eb, pb).trim()})`);
  }
  return `${info.isa.padEnd(10)} peak f32 ${pf.toFixed(0).padStart(4)} GFLOP/s (${info.peakF32}), bf16 ${pb.toFixed(0).padStart(4)} (${info.peakBf16}) | ${cells.join(' | ')}`;
}

let addon: NativeAddon | undefined;
try {
  addon = loadAddon();
} catch (e) {
  console.log(`native backend unavailable (${(e as Error).message}): only the TypeScript backend is measured`);
}
const threads = defaultThreads();
addon?.setThreads(threads);

if (process.env.BENCH_LEVEL_LINE === '1') {
  if (addon) console.log(levelLine(addon, threads));
  process.exit(0);
}

const info = addon?.info();
const peakF32 = addon ? addon.peak('f32', threads, 1) : NaN;
const peakBf16 = addon ? addon.peak('bf16', threads, 1) : NaN;
if (addon && info) {
  console.log(`threads ${threads}; level ${info.isa} (host ${info.hostIsa}; MUTASCAN_ISA=${process.env.MUTASCAN_ISA ?? '(unset)'}); oneDNN at ${info.onednnIsa}`);
  console.log(`peak measured now: fp32 ${peakF32.toFixed(0)} GFLOP/s (${info.peakF32}), bf16 ${peakBf16.toFixed(0)} GFLOP/s (${info.peakBf16})`);
  console.log(`${info.openblas}; oneDNN ${info.onednn}; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`);
  console.log(`row-exact kernels: fp32 ${info.f32exact}, bf16 ${info.bf16exact} (${info.bf16Numerics})${info.onednnBf16 ? '' : '; oneDNN has no bf16 matmul at this level: its column is empty'}`);
}
console.log('TypeScript is timed on at most 4 rows (its loops do not block over rows, so its rate does not depend on them).\n');

const ts = new TsBackend();
console.log('model        matrix     [out × in]      rows |   ts f32   ts bf16 | openblas f32   onednn f32   onednn bf16 | exact f32    exact bf16');
for (const s of SHAPES) {
  const { wf, wb } = weights(s.m, s.n);
  for (const rows of ROWS) {
    const x = activations(rows, s.n);
    const out = new Float32Array(rows * s.m);
    const flops = 2 * rows * s.m * s.n;
    const tsRows = Math.min(rows, 4);
    const tsF = gflops(() => ts.matmul(out, x, tsRows, matrix('w', s.m, s.n, wf)), 2 * tsRows * s.m * s.n, 0.1);
    const tsB = gflops(() => ts.matmul(out, x, tsRows, matrix('w', s.m, s.n, wb)), 2 * tsRows * s.m * s.n, 0.1);
    let cells = '            -            -             -';
    let ex = '';
    if (addon && info) {
      const a = addon;
      const ob = gflops(() => a.sgemm(out, x, rows, wf, s.m, s.n), flops);
      const df = gflops(() => a.dnnlSgemm(out, x, rows, wf, s.m, s.n), flops);
      const db = info.onednnBf16 ? `${gflops(() => a.bf16gemm(out, x, rows, wb, s.m, s.n), flops).toFixed(0).padStart(6)}` : '     -';
      const dbPct = info.onednnBf16 ? pct(Number(db), peakBf16) : '     ';
      cells = `${ob.toFixed(0).padStart(6)} ${pct(ob, peakF32)}  ${df.toFixed(0).padStart(6)} ${pct(df, peakF32)}  ${db} ${dbPct}`;
      const ef = gflops(() => a.f32exact(out, s.m, x, rows, wf, s.m, s.n), flops);
      const eb = gflops(() => a.bf16exact(out, s.m, x, rows, wb, s.m, s.n), flops);
      ex = `${ef.toFixed(0).padStart(6)} ${pct(ef, peakF32)}  ${eb.toFixed(0).padStart(6)} ${pct(eb, peakBf16)}`;
    }
    console.log(`${s.model.padEnd(12)} ${s.name.padEnd(10)} ${`${s.m} × ${s.n}`.padEnd(14)} ${String(rows).padStart(5)} | ${tsF.toFixed(2).padStart(8)} ${tsB.toFixed(2).padStart(9)} | ${cells} | ${ex}`);
  }
}

if (addon && info && process.env.BENCH_LEVELS !== '0') {
  console.log('\nevery level this CPU runs (MUTASCAN_ISA), row-exact kernels at the 7B shapes with 512 rows, GFLOP/s (share of that level\'s peak):');
  const here = fileURLToPath(import.meta.url);
  for (const level of ISA_LEVELS.slice(0, ISA_LEVELS.indexOf(info.hostIsa) + 1)) {
    const r = spawnSync(process.execPath, [...process.execArgv, here], { env: { ...process.env, MUTASCAN_ISA: level, BENCH_LEVEL_LINE: '1' }, encoding: 'utf8' });
    const line = r.stdout.trim() || `${level}: failed (${(r.stderr || '').trim().split('\n').pop()})`;
    console.log(`  ${line}`);
  }
}
