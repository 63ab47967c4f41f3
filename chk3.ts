import { prepareScreen, evaluatorFor } from './src/screen/runner.ts';
const p = await prepareScreen('examples/stories260K-element.yaml');
const ev = evaluatorFor(p, false);
const ti = p.plan.targets.findIndex((t) => t.short === '2.down');
const { first, count } = p.plan.range(ti);
let o = first;
for (let rep = 0; rep < 12; rep++) {
  const a = Array.from({ length: 256 }, (_, i) => p.plan.mutant(o + i)); o += 256;
  const t = performance.now(); const r = ev.evaluate(a); console.log('chunk', rep, ((performance.now() - t) / 256).toFixed(3), 'ms/mutant; nsm', r.filter((x) => !x[0].silent).length);
}
