/**
 * npm run profile:ops — where one screening process's time goes: every backend call of the fast path timed,
 * over the first mutants of a few targets (default: 3,000 each of stories260K's 0.gate, 2.up, 4.gate, one
 * thread). Prints each kind of call's share of the whole, the rest of the forward pass (JavaScript) and the
 * fast path's own bookkeeping outside it. Usage: tsx bench/screen-ops.ts SCREEN.yaml PER_TARGET TARGET…
 */
import { PlainEvaluator } from '../src/screen/evaluate.js';
import { FastEvaluator } from '../src/screen/fast.js';
import { prepareScreen } from '../src/screen/runner.js';

const [spec, perArg, ...targets] = process.argv.slice(2);
const p = await prepareScreen(spec);
const be = p.tf.backend as unknown as Record<string, (...a: unknown[]) => unknown>;
const time: Record<string, number> = {};
const timed = (name: string, fn: (...a: unknown[]) => unknown) => (...a: unknown[]) => {
  const t0 = performance.now();
  try {
    return fn(...a);
  } finally {
    time[name] = (time[name] ?? 0) + performance.now() - t0;
  }
};
for (const k of ['matmul', 'matmulInto', 'rmsnorm', 'rope', 'attention', 'swiglu', 'add']) be[k] = timed(k, be[k].bind(be));
const tf = p.tf as unknown as { forward: (...a: unknown[]) => unknown };
tf.forward = timed('forward', tf.forward.bind(tf));
const fast = new FastEvaluator(p.tf, p.assays, p.stats, new PlainEvaluator(p.tf, p.assays, p.stats));
for (const k in time) time[k] = 0;
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
const calls = ['matmul', 'matmulInto', 'attention', 'rmsnorm', 'rope', 'swiglu', 'add'];
const inCalls = calls.reduce((a, k) => a + (time[k] ?? 0), 0);
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`;
for (const k of calls) console.log(`  ${k.padEnd(12)} ${pct(time[k] ?? 0)}`);
console.log(`  ${'forward, JS'.padEnd(12)} ${pct(time.forward - inCalls)}`);
console.log(`  ${'fast path'.padEnd(12)} ${pct(total - time.forward)}  (greedy check, inputs, decoding bookkeeping)`);
