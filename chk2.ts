import { loadModel } from './src/model/model.ts';
import { selectBackend } from './src/backend/select.ts';
import { Transformer } from './src/model/forward.ts';
const m = loadModel('/tmp/l2');
const ids = m.tokenizer.encode('Once upon a time', { bos: true });
const out: Float32Array[] = [];
for (const b of ['native', 'ts']) {
  const tf = new Transformer(m.config, m.weights, await selectBackend(b));
  const t0 = performance.now();
  out.push(tf.forward([{ cache: tf.newCache(64), tokens: ids }], 'all'));
  console.log(b, (performance.now() - t0) / 1000);
}
const V = m.config.vocabSize;
for (let p = 0; p < ids.length; p++) { let mx = 0; for (let i = 0; i < V; i++) mx = Math.max(mx, Math.abs(out[0][p*V+i] - out[1][p*V+i])); console.log(p, mx); }
