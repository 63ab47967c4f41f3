// Summarises a V8 CPU profile (.cpuprofile from node --cpu-prof): self time per function, largest first.
// npm run profile:screen writes one for 20,000 mutants of the main job and prints this summary.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().pop();
const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
p.samples.forEach((id, i) => {
  const cf = byId.get(id).callFrame;
  const k = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + p.timeDeltas[i]);
  total += p.timeDeltas[i];
});
[...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).forEach(([k, v]) => console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`));
