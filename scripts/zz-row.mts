import { loadAddon } from '../src/backend/native-backend.js';
const a = loadAddon();
const T = Number(process.env.T ?? 1);
a.setThreads(T);
const shapes = [[1536, 576], [49152, 576], [2048, 2048], [8192, 2048], [2048, 8192], [4096, 4096], [11008, 4096], [4096, 11008]];
console.log('read bw', a.bandwidth('read', 2 ** 31, T, 1).toFixed(1), 'GB/s threads', T);
for (const [m, n] of shapes) {
  // several copies so the total exceeds caches
  const copies = Math.max(1, Math.ceil(4e8 / (m * n * 4)));
  const ws = Array.from({ length: copies }, () => Float32Array.from({ length: m * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
  const wh = Array.from({ length: copies }, () => new Uint16Array(m * n).fill(0x3c00));
  const x = Float32Array.from({ length: n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const out = new Float32Array(m);
  for (const [name, W, bytes] of [['f32', ws, 4], ['bf16', wh, 2], ['f16', wh, 2]] as const) {
    let k = 0; const t0 = performance.now(); let calls = 0;
    while (performance.now() - t0 < 1000) {
      const w = W[k++ % W.length];
      if (name === 'f32') a.f32exact(out, m, x, 1, w as Float32Array, m, n);
      else if (name === 'bf16') a.bf16exact(out, m, x, 1, w as Uint16Array, m, n);
      else a.f32exact(out, m, x, 1, w as Uint16Array, m, n);
      calls++;
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`${m}x${n} ${name} ${((calls * m * n * bytes) / s / 1e9).toFixed(1)} GB/s  `);
  }
  console.log();
}
