/**
 * npm run bench:decode — prefill and decode tokens/s on stories260K and on a random model of SmolLM-135M's
 * shape, for every backend that is available, side by side. Printed, not asserted.
 */
import { join } from 'node:path';
import type { Backend } from '../src/backend/backend.js';
import { TsBackend } from '../src/backend/ts-backend.js';
import { Transformer } from '../src/model/forward.js';
import { loadHfFolder } from '../src/model/load-hf.js';
import { loadModel } from '../src/model/model.js';

type Model = Pick<ReturnType<typeof loadModel>, 'config' | 'weights'>;
import { cachedSynth, SMOLLM_135M_SHAPE } from './synth-cache.js';

const SHARED = join(import.meta.dirname ?? '.', '..', '..', 'shared');

async function backends(): Promise<Backend[]> {
  const out: Backend[] = [new TsBackend()];
  try {
    const { loadNativeBackend } = await import('../src/backend/native-backend.js');
    const n = loadNativeBackend();
    if (n) out.push(n);
  } catch (e) {
    console.log(`(native backend unavailable: ${(e as Error).message})`);
  }
  return out;
}

function measure(model: Model, backend: Backend, prefillLen: number, decodeSteps: number, minSeconds: number): { prefill: number; decode: number } {
  const tf = new Transformer(model.config, model.weights, backend);
  const prompt = Array.from({ length: prefillLen }, (_, i) => 3 + ((i * 37) % (model.config.vocabSize - 3)));
  let t0 = performance.now();
  let n = 0;
  do {
    tf.forward([{ cache: tf.newCache(prefillLen + decodeSteps), tokens: prompt }], 'last');
    n++;
  } while (performance.now() - t0 < minSeconds * 1000);
  const prefill = (n * prefillLen) / ((performance.now() - t0) / 1000);
  const cache = tf.newCache(prefillLen + decodeSteps);
  tf.forward([{ cache, tokens: prompt }], 'last');
  t0 = performance.now();
  let steps = 0;
  for (; steps < decodeSteps; steps++) {
    tf.forward([{ cache, tokens: [prompt[steps % prefillLen]] }], 'last');
    if (performance.now() - t0 > minSeconds * 1000 && steps >= 2) break;
  }
  const decode = (steps + (steps < decodeSteps ? 1 : 0)) / ((performance.now() - t0) / 1000);
  return { prefill, decode };
}

const models: { name: string; load: () => Model; prefill: number; decode: number }[] = [
  { name: 'stories260K', load: () => loadModel(join(SHARED, 'models', 'stories260K', 'stories260K.bin')), prefill: 128, decode: 256 },
  { name: 'SmolLM-135M shape (random, bf16)', load: () => loadHfFolder(cachedSynth('smollm-135m-shape', SMOLLM_135M_SHAPE)), prefill: 64, decode: 16 },
];

const bs = await backends();
console.log(`backend${' '.repeat(4)}model${' '.repeat(30)}prefill tok/s   decode tok/s`);
for (const m of models) {
  const model = m.load();
  const results = bs.map((b) => ({ b, r: measure(model, b, m.prefill, m.decode, 3) }));
  for (const { b, r } of results)
    console.log(`${b.name.padEnd(11)}${m.name.padEnd(35)}${r.prefill.toFixed(1).padStart(13)}${r.decode.toFixed(1).padStart(15)}`);
  if (results.length > 1) {
    const [ts, nat] = results;
    console.log(`${'ratio'.padEnd(11)}${(m.name + ' native/ts').padEnd(35)}${(nat.r.prefill / ts.r.prefill).toFixed(1).padStart(12)}×${(nat.r.decode / ts.r.decode).toFixed(1).padStart(14)}×`);
  }
}
