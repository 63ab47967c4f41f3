import { loadModel } from './src/model/model.ts';
import { selectBackend } from './src/backend/select.ts';
import { Transformer } from './src/model/forward.ts';
import { torchReference } from './test/helpers.ts';
import { readFileSync } from 'node:fs';
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
console.log('rss0', rss());
let t0 = performance.now();
const m = loadModel('/tmp/l2');
console.log('load s', (performance.now() - t0) / 1000, 'mapped', m.source.mapped, 'rss', rss());
const be = await selectBackend('native');
const tf = new Transformer(m.config, m.weights, be);
const ids = m.tokenizer.encode('Once upon a time', { bos: true });
t0 = performance.now();
const lg = tf.forward([{ cache: tf.newCache(64), tokens: ids }], 'all');
console.log('fwd s', (performance.now() - t0) / 1000, 'rss', rss(), ids);
t0 = performance.now();
const ref = torchReference([{ model: '/tmp/l2', ids }])[0];
console.log('torch s', (performance.now() - t0) / 1000);
const V = m.config.vocabSize;
for (let p = 0; p < ids.length; p++) {
  let mx = 0, sc = 0, am = 0, bm = 0;
  for (let i = 0; i < V; i++) { mx = Math.max(mx, Math.abs(lg[p * V + i] - ref[p][i])); sc = Math.max(sc, Math.abs(ref[p][i])); if (ref[p][i] > ref[p][am]) am = i; if (lg[p*V+i] > lg[p*V+bm]) bm = i; }
  console.log(p, 'maxdiff', mx, 'scale', sc, am, bm);
}
