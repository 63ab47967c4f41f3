/**
 * How far a screen's evaluation is from the machine's limit: the FLOPs of the matrix products it really did
 * (counted by MeteredBackend, per shape and row count), divided by what those products would take at the best
 * rate this machine reaches on the same shapes and row counts, measured now, in the same run — oneDNN's product
 * (bf16: its bf16 matmul, where this CPU level has one; fp32: its sgemm) and the row-exact kernel the backend
 * uses (native/src/f32exact.cc, bf16exact.cc), whichever is faster. Also where the rest of the time goes.
 */
import type { NativeAddon } from '../src/backend/native-backend.js';
import type { MeteredBackend, ProductTally } from '../src/backend/metered.js';
import type { Matrix } from '../src/model/weights.js';
import { rate } from './rate.js';

/** Rows a rate is measured at: a bucket's mean row count, capped where the kernels' rate has levelled off. */
const MAX_MEASURED_ROWS = 512;

interface Measured {
  tally: ProductTally;
  rows: number;
  onednn: number;
  exact: number;
}

/**
 * oneDNN's and the row-exact kernel's rates (FLOP/s) on a tally's shape at its mean row count, multiplying the
 * model's own weights: a matrix of that shape, or the first rows of a wider one (a mutant's patch rows). Made-up
 * weights of the classifier's size would cost half a gigabyte more at the machine's memory limit.
 */
function measure(addon: NativeAddon, t: ProductTally, weights: Matrix[], seconds: number): Measured {
  const rows = Math.max(1, Math.min(MAX_MEASURED_ROWS, Math.round(t.rows / t.calls)));
  const x = new Float32Array(rows * t.in);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 104729) % 1000) / 1000 - 0.5;
  const out = new Float32Array(rows * t.out);
  const flops = 2 * rows * t.out * t.in;
  const source = weights.find((w) => w.cols === t.in && w.rows >= t.out && w.dtype === t.dtype);
  if (!source) throw new Error(`no matrix of the model has ${t.in} columns and ${t.out} or more rows (${t.dtype})`);
  const w = source.data.subarray(0, t.out * t.in);
  if (t.dtype === 'bf16') {
    const wb = w as Uint16Array;
    // oneDNN has no bf16 matmul below AVX-512: 0, so the row-exact kernel's rate is the best
    const onednn = addon.info().onednnBf16 ? rate(() => addon.bf16gemm(out, x, rows, wb, t.out, t.in), flops, seconds) : 0;
    const exact = rate(() => addon.bf16exact(out, t.out, x, rows, wb, t.out, t.in), flops, seconds);
    return { tally: t, rows, onednn, exact };
  }
  const wf = w as Float32Array;
  const onednn = rate(() => addon.dnnlSgemm(out, x, rows, wf, t.out, t.in), flops, seconds);
  const exact = rate(() => addon.f32exact(out, t.out, x, rows, wf, t.out, t.in), flops, seconds);
  return { tally: t, rows, onednn, exact };
}

const G = (flops: number): string => (flops / 1e9).toFixed(1);

/**
 * Prints the share of the machine's limit the metered evaluation reached over `wallSeconds`, and returns it.
 * Products under 2 % of the FLOPs are measured briefly (they barely move the sum); those over 1 % are listed.
 */
export function printLimit(label: string, m: MeteredBackend, wallSeconds: number, addon: NativeAddon, weights: Matrix[]): number {
  const tallies = [...m.products.values()].sort((a, b) => b.flops - a.flops);
  const total = tallies.reduce((a, t) => a + t.flops, 0);
  let atBest = 0;
  let atOnednn = 0;
  const lines: string[] = [];
  for (const t of tallies) {
    const r = measure(addon, t, weights, t.flops > 0.02 * total ? 0.4 : 0.05);
    atBest += t.flops / Math.max(r.onednn, r.exact);
    atOnednn += r.onednn > 0 ? t.flops / r.onednn : NaN;
    if (t.flops > 0.01 * total)
      lines.push(
        `    [${t.out} × ${t.in}] ${t.dtype} rows ≤ ${String(t.bucket).padEnd(5)} ${String(t.calls).padStart(6)} calls  ${G(t.flops).padStart(8)} GFLOP  ${t.seconds.toFixed(1).padStart(7)} s = ${G(t.flops / t.seconds).padStart(6)} GFLOP/s | measured at ${r.rows} rows: oneDNN ${G(r.onednn)}, row-exact ${G(r.exact)}`,
      );
  }
  const { products, ops } = m.seconds();
  const share = atBest / wallSeconds;
  console.log(`${label}: the machine's limit`);
  console.log(`  products: ${G(total)} GFLOP in ${products.toFixed(1)} s (${G(total / products)} GFLOP/s) of ${wallSeconds.toFixed(1)} s; the largest:`);
  for (const l of lines) console.log(l);
  const attention = m.ops.get('attention');
  const opLine = [...m.ops.entries()].sort((a, b) => b[1].seconds - a[1].seconds).map(([k, o]) => `${k} ${o.seconds.toFixed(1)} s`);
  console.log(`  besides products: ${opLine.join(', ')} (attention ${G(attention?.flops ?? 0)} GFLOP); outside the backend ${(wallSeconds - products - ops).toFixed(1)} s`);
  console.log(
    `  at the best rate measured now on the same shapes and row counts (oneDNN or the row-exact kernel) the products take ${atBest.toFixed(1)} s: ` +
      `${(100 * share).toFixed(0)} % of the machine's limit (${Number.isNaN(atOnednn) ? 'oneDNN has no bf16 matmul at this CPU level' : `at oneDNN's rate alone ${atOnednn.toFixed(1)} s: ${((100 * atOnednn) / wallSeconds).toFixed(0)} %`})`,
  );
  return share;
}
