/**
 * npm run profile:ops — where one screening process's time goes: every backend call of the fast path timed
 * (src/backend/metered.ts), over the first mutants of a few targets (default: 3,000 each of stories260K's
 * 0.gate, 2.up, 4.gate, one thread). Prints each kind of call's share of the whole, the rest of the forward pass
 * (JavaScript) and the fast path's own bookkeeping outside it. Usage: tsx bench/screen-ops.ts SCREEN.yaml
 * PER_TARGET TARGET…
 */
import { MeteredBackend } from '../src/backend/metered.js';
import { Transformer } from '../src/model/forward.js';
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { FastEvaluator } from '../src/screen/fast.js';
import { prepareScreen } from '../src/screen/runner.js';

const [spec, perArg, ...targets] = process.argv.slice(2);
const p = await prepareScreen(spec);
const metered = new MeteredBackend(p.tf.backend);
const tf = new Transformer(p.model.config, p.model.weights, metered);
let forwardMs = 0;
const forward = tf.forward.bind(tf);
tf.forward = (...a: Parameters<Transformer['forward']>) => {
  const t0 = performance.now();
  try {
    return forward(...a);
  } finally {
    forwardMs += performance.now() - t0;
  }
};
const fast = new FastEvaluator(tf, p.assays, p.stats, new PlainEvaluator(p.tf, p.assays, p.stats));
metered.reset();
forwardMs = 0;
let total = 0;
for (const ts of targets) {
  const ti = p.plan.targets.findIndex((t) => t.short === ts);
  if (ti < 0) throw new Error(`no target ${ts} in ${spec}`);
  const { first, count } = p.plan.range(ti);
  const ms = Array.from({ length: Math.min(Number(perArg), count) }, (_, i) => p.plan.mutant(first + i));
  const t0 = performance.now();
  fast.evaluate(ms);
  const dt = performance.now() - t0;
  total += dt;
  console.log(`${ts}: ${ms.length} mutants in ${dt.toFixed(0)} ms (${((ms.length / dt) * 1000).toFixed(0)} mutants/s)`);
}
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`.padStart(7);
const rows: [string, number, number][] = [];
let products = 0;
let productCalls = 0;
for (const t of metered.products.values()) {
  products += t.seconds * 1000;
  productCalls += t.calls;
}
rows.push(['products', products, productCalls]);
for (const [k, o] of metered.ops) rows.push([k, o.seconds * 1000, o.calls]);
rows.sort((a, b) => b[1] - a[1]);
const inCalls = rows.reduce((a, r) => a + r[1], 0);
for (const [k, ms, calls] of rows) console.log(`  ${k.padEnd(12)} ${pct(ms)}  (${calls} calls)`);
console.log(`  ${'forward, JS'.padEnd(12)} ${pct(forwardMs - inCalls + (metered.ops.get('sampleRows')?.seconds ?? 0) * 1000)}`);
console.log(`  ${'fast path'.padEnd(12)} ${pct(total - forwardMs - (metered.ops.get('sampleRows')?.seconds ?? 0) * 1000)}  (sampling excluded: greedy check, inputs, decoding bookkeeping)`);
