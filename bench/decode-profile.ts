/**
 * npm run profile:decode -- FILE — where a decoding step's time goes: a 64-token prompt, then BENCH_TOKENS
 * (default 8) single-token steps through MeteredBackend, which times every call to the backend. Prints each
 * product shape's milliseconds per token and the rate it read its weights at, every other operation's
 * milliseconds per token, and the total. MUTASCAN_THREADS sets the threads (default: every core). Used for
 * bench:peer's gaps (docs/benchmarks.md); printed, not asserted.
 */
import { selectBackend } from '../src/backend/select.js';
import { MeteredBackend } from '../src/backend/metered.js';
import { Transformer } from '../src/model/forward.js';
import { loadModel } from '../src/model/model.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: npm run profile:decode -- MODEL (a .gguf file, a Hugging Face folder or a llama2.c checkpoint)');
  process.exit(2);
}
const steps = Number(process.env.BENCH_TOKENS ?? 8);
const backend = new MeteredBackend(await selectBackend('native', process.env.MUTASCAN_THREADS ? Number(process.env.MUTASCAN_THREADS) : undefined));
const model = loadModel(file);
const tf = new Transformer(model.config, model.weights, backend);
const ids = Array.from({ length: 64 }, (_, i) => 3 + ((i * 7919) % Math.min(model.config.vocabSize - 3, 30000)));
const cache = tf.newCache(64 + steps);
tf.forward([{ cache, tokens: ids }], 'last');
backend.reset();
const t0 = performance.now();
for (let s = 0; s < steps; s++) tf.forward([{ cache, tokens: [ids[s]] }], 'last');
const total = (performance.now() - t0) / 1000;
const ms = (seconds: number) => `${((1000 * seconds) / steps).toFixed(2)} ms/token`;
let productSeconds = 0;
let bytes = 0;
console.log(`${file}: ${steps} decoding steps, ${backend.name} backend`);
for (const p of [...backend.products.values()].sort((a, b) => b.seconds - a.seconds)) {
  const b = p.out * p.in * (p.dtype === 'f32' ? 4 : 2) * p.calls;
  productSeconds += p.seconds;
  bytes += b;
  console.log(`  [${p.out} × ${p.in}] ${p.dtype}, ${p.calls / steps} per token: ${ms(p.seconds)}, weights read at ${(b / p.seconds / 1e9).toFixed(1)} GB/s`);
}
for (const [name, o] of [...backend.ops.entries()].sort((a, b) => b[1].seconds - a[1].seconds)) console.log(`  ${name}: ${ms(o.seconds)}`);
console.log(`  total ${ms(total)}; products ${ms(productSeconds)} at ${(bytes / productSeconds / 1e9).toFixed(1)} GB/s; outside the backend ${ms(total - productSeconds - [...backend.ops.values()].reduce((a, o) => a + o.seconds, 0))}`);
