import type { Command } from 'commander';
import { openResults, StoreDamaged, surveyStore, type Results, type StoreStatus } from '../index.js';
import { describeSalvage } from './repair.js';
import { describeEstimate } from './predict.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('progress and counts of a screen store')
    .argument('<store>', 'SQLite store')
    .option('--json', 'print the counts as JSON')
    .action((path: string, o) => {
      let store: Results | undefined;
      let s: StoreStatus;
      try {
        store = openResults(path);
        s = store.status();
      } catch (e) {
        store?.close();
        if (!(e instanceof StoreDamaged)) throw e;
        const lines = [`${path}: the store is damaged (${e.detail})`];
        const v = surveyStore(path);
        if (v.problems.length && v.problems[0] !== 'ok' && !e.detail.startsWith("SQLite's quick check")) lines.push(`SQLite's quick check: ${v.problems.slice(0, 3).join('; ')}${v.problems.length > 3 ? '; …' : ''}`);
        lines.push(...describeSalvage(v), `keep them with: mutascan repair ${path} --out fixed.sqlite`);
        process.stdout.write(lines.join('\n') + '\n');
        process.exitCode = 1;
        return;
      }
      try {
        if (o.json) {
          const { total, done, assays, parked, workers } = s;
          process.stdout.write(JSON.stringify({ total, done, assays, parked: parked.map(({ mutants: _, ...b }) => b), workers }) + '\n');
          return;
        }
        const pct = s.total ? ((100 * s.done) / s.total).toFixed(1) : '0';
        const out = [`${path}: ${s.done} of ${s.total} mutants done (${pct} %)`];
        for (const a of s.assays) {
          out.push(`assay ${a.assay} (${a.type}): ${a.nsm} NSMs of ${a.done} (${a.done ? ((100 * a.nsm) / a.done).toFixed(1) : 0} %), ${a.phenotypes} distinct phenotypes, ${a.destructive} destructive, ${a.ties} with a near-tie (float-fragile outputs)`);
          if (a.accuracy) out.push(`  accuracy: baseline ${(100 * a.accuracy.baseline).toFixed(1)} %, mutants ${(100 * a.accuracy.mean).toFixed(1)} % on average, lowest ${(100 * a.accuracy.min).toFixed(1)} %`);
          if (a.kl) out.push(`  KL(baseline ‖ mutant): ${a.kl.mean.toExponential(2)} nats per position on average, largest ${a.kl.max.toExponential(2)}`);
          out.push('  matrix      done      NSMs  phenotypes');
          for (const m of a.byMatrix) out.push(`  ${m.matrix.padEnd(8)}${String(m.done).padStart(8)}${String(m.nsm).padStart(10)}${String(m.phenotypes).padStart(12)}`);
        }
        for (const x of s.predictions)
          out.push(`predictions (mutascan predict), assay ${x.assay}: ${x.predicted.toLocaleString('en-US')} mutants predicted, ${x.nsms.toLocaleString('en-US')} of them predicted NSMs (predicted margin < 0)`);
        for (const e of s.estimates) out.push(`budget of ${e.budget.toLocaleString('en-US')}: ${describeEstimate(e)} (${e.at})`);
        for (const r of s.runs)
          out.push(r.alive ? `being filled by the run of ${r.description}` : `a run that is gone left mutants claimed (${r.description}): the next run takes them over`);
        for (const w of s.workers)
          out.push(`worker ${w.name}: ${w.mutants} mutants in ${w.batches} batches, ${(w.mutants / Math.max(1e-9, w.seconds)).toFixed(1)} mutants/s while evaluating, last batch ${new Date(w.lastMs).toISOString()}`);
        for (const b of s.parked) out.push(`parked batch ${b.batch} (${b.mutants}) after ${b.attempts} failed attempts: ${b.error}`);
        process.stdout.write(out.join('\n') + '\n');
      } finally {
        store.close();
      }
    });
}
