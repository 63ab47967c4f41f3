/**
 * npm run bench:gemm — matrix-product throughput against the machine's FMA peak, measured in the same run.
 *
 * For each shape [out × in] of stories260K, SmolLM-135M and Llama-2-7B, at 1, 16, 128 and 512 activation rows,
 * in fp32 and bf16: GFLOP/s of the TypeScript backend and of the native backend's kernels, and each as a fraction
 * of the peak (a tight FMA loop in the addon: fp32 FMA, or bf16 dot-product instructions for bf16). The last
 * column is the row-exact bf16 kernel (native/src/bf16exact.cc) the backend uses for bf16 on AVX-512 CPUs (bf16 dot
 * products where the CPU has them, else bf16 widened to float32 FMAs; AMX tiles where it has those).
 * Threads: MUTASCAN_THREADS (default: every core). Printed, not asserted.
 */
import { defaultThreads, loadAddon, type NativeAddon } from '../src/backend/native-backend.js';
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

let addon: NativeAddon | undefined;
try {
  addon = loadAddon();
} catch (e) {
  console.log(`native backend unavailable (${(e as Error).message}): only the TypeScript backend is measured`);
}
const threads = defaultThreads();
addon?.setThreads(threads);
const peakF32 = addon?.peak('f32', threads, 1) ?? NaN;
const peakBf16 = addon?.peak('bf16', threads, 1) ?? NaN;
console.log(`threads ${threads}; FMA peak measured now: fp32 ${peakF32.toFixed(0)} GFLOP/s, bf16 ${peakBf16.toFixed(0)} GFLOP/s`);
if (addon) console.log(`${addon.info().openblas}; oneDNN ${addon.info().onednn}; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`);
console.log('TypeScript is timed on at most 4 rows (its loops do not block over rows, so its rate does not depend on them).\n');

const ts = new TsBackend();
const pct = (g: number, p: number): string => `${((100 * g) / p).toFixed(0)}%`.padStart(5);
const exact = addon?.bf16exactSupported() ?? false;
// without bf16 dot-product instructions both bf16 kernels run on float32 FMAs: their share is of the fp32 peak
const bf16Peak = Number.isFinite(peakBf16) && peakBf16 > 0 ? peakBf16 : peakF32;
if (bf16Peak !== peakBf16) console.log('no bf16 dot-product instructions here: the bf16 columns\' shares are of the fp32 FMA peak');
console.log(`model        matrix     [out × in]      rows |   ts f32   ts bf16 | openblas f32   onednn f32   onednn bf16 | bf16/f32 | exact bf16${exact ? ` (${addon!.info().bf16exact})` : ' (needs AVX-512)'}`);
for (const s of SHAPES) {
  const wf = Float32Array.from({ length: s.m * s.n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const wb = new Uint16Array(wf.buffer.slice(0)).filter((_, i) => i % 2 === 1);
  for (const rows of ROWS) {
    const x = Float32Array.from({ length: rows * s.n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const out = new Float32Array(rows * s.m);
    const flops = 2 * rows * s.m * s.n;
    const tsRows = Math.min(rows, 4);
    const tsF = gflops(() => ts.matmul(out, x, tsRows, matrix('w', s.m, s.n, wf)), 2 * tsRows * s.m * s.n, 0.1);
    const tsB = gflops(() => ts.matmul(out, x, tsRows, matrix('w', s.m, s.n, wb)), 2 * tsRows * s.m * s.n, 0.1);
    let cells = '            -            -             -';
    let ratio = '';
    let ex = '';
    if (addon) {
      const a = addon;
      const ob = gflops(() => a.sgemm(out, x, rows, wf, s.m, s.n), flops);
      const df = gflops(() => a.dnnlSgemm(out, x, rows, wf, s.m, s.n), flops);
      const db = gflops(() => a.bf16gemm(out, x, rows, wb, s.m, s.n), flops);
      cells = `${ob.toFixed(0).padStart(6)} ${pct(ob, peakF32)}  ${df.toFixed(0).padStart(6)} ${pct(df, peakF32)}  ${db.toFixed(0).padStart(6)} ${pct(db, bf16Peak)}`;
      ratio = `${(db / Math.max(ob, df)).toFixed(2)}×`;
      if (exact) {
        const eb = gflops(() => a.bf16exact(out, s.m, x, rows, wb, s.m, s.n), flops);
        ex = `${eb.toFixed(0).padStart(6)} ${pct(eb, bf16Peak)}`;
      }
    }
    console.log(`${s.model.padEnd(12)} ${s.name.padEnd(10)} ${`${s.m} × ${s.n}`.padEnd(14)} ${String(rows).padStart(5)} | ${tsF.toFixed(2).padStart(8)} ${tsB.toFixed(2).padStart(9)} | ${cells} | ${ratio.padStart(7)}  | ${ex}`);
  }
}
