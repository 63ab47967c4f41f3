import type { Command } from 'commander';
import { canonicalName, withResults } from '../index.js';

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—');
const r2 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

export function registerScores(program: Command): void {
  program
    .command('scores')
    .description("a screen as a measurement: per assay, how its replicates' calls and scores agree, and one mutant's scores")
    .argument('<store>', 'SQLite store')
    .option('--mutant <name>', 'print this mutant\'s scores (a name as stores and exports print it)')
    .option('--score <name>', 'the score the replicates are correlated on (default: similarity for generate, loglik for likelihood)')
    .option('--json', 'print the summaries as JSON')
    .action(async (path: string, o: { mutant?: string; score?: string; json?: boolean }) => {
      await withResults(path, (r) => {
        if (o.mutant !== undefined) {
          const name = canonicalName(o.mutant, '--mutant');
          const rows = r.scores().filter((x) => x.mutant === name);
          if (o.json) process.stdout.write(JSON.stringify(rows) + '\n');
          else if (!rows.length) process.stdout.write(`${name}: no results in ${path}\n`);
          else
            for (const x of rows)
              process.stdout.write(
                `${x.mutant} · ${x.assay}: ${x.score_type} ${x.score === null ? '—' : x.score.toPrecision(4)}` +
                  (x.ci_lower === null ? '' : ` (95 % interval ${x.ci_lower.toPrecision(4)} to ${x.ci_upper!.toPrecision(4)})`) +
                  `, NSM in ${x.nsm} of ${x.n}` +
                  (x.replicates.length > 1 ? `; per seed: ${x.replicates.map((v) => `${v.seed}: ${v.score === null ? '—' : v.score.toPrecision(3)}`).join(', ')}` : '') +
                  '\n',
              );
          return;
        }
        const all = r.replicates({ score: o.score });
        const pairs = r.pairs();
        if (o.json) {
          process.stdout.write(JSON.stringify(pairs.length ? { replicates: all, pairs } : all) + '\n');
          return;
        }
        const out: string[] = [];
        for (const s of all) {
          const R = s.seeds.length;
          if (R < 2) {
            out.push(`${s.assay} (${s.type}): one seed; list seeds: [...] or replicates: N in the screen file to measure how calls vary`);
            continue;
          }
          out.push(`${s.assay} (${s.type}), ${R} replicates (seeds ${s.seeds.join(', ')}), ${s.mutants.toLocaleString('en-US')} mutants with every replicate`);
          out.push(`  NSM under k of ${R} seeds: ${s.nsmCounts.map((n, k) => `${k}: ${n}`).join(', ')}`);
          out.push(`  called the same under every seed: ${pct(s.unanimous)}; median width of the NSM fraction's 95 % Wilson interval: ${r2(s.medianIntervalWidth)}`);
          out.push(`  one-seed calls that flip under another seed: ${pct(s.flip)} (an NSM turns silent ${pct(s.nsmTurnsSilent)}, a silent mutant turns NSM ${pct(s.silentTurnsNsm)})`);
          out.push(`  replicate agreement of ${s.score}: Pearson r ${r2(s.pearson.mean)} (${r2(s.pearson.min)}–${r2(s.pearson.max)}), Spearman r ${r2(s.spearman.mean)} (${r2(s.spearman.min)}–${r2(s.spearman.max)}) over ${(R * (R - 1)) / 2} seed pairs`);
          for (const t of s.targets) out.push(`    ${t.target.padEnd(10)} ${String(t.mutants).padStart(8)} mutants, NSM fraction ${r2(t.nsmFraction)}, Pearson r ${r2(t.pearson)}, Spearman r ${r2(t.spearman)}`);
        }
        for (const p of pairs) {
          out.push(`${p.assay}: ${p.pairs.toLocaleString('en-US')} pairs; ${p.syntheticNsms} synthetic NSMs (an NSM where both singles are silent: ${p.syntheticCalls} of ${p.bothSilentCalls} such calls), ${p.suppressors} suppressors (silent where a single is an NSM: ${p.suppressorCalls} of ${p.calls - p.bothSilentCalls} such calls)`);
          if (p.additive) out.push(`  log-likelihood of a pair against the sum of its singles': Pearson r ${r2(p.additive.r)}, epistasis ${p.additive.meanEpistasis.toPrecision(3)} ± ${p.additive.sdEpistasis.toPrecision(3)} nats (mean ± SD over ${p.additive.n} calls)`);
        }
        process.stdout.write(out.join('\n') + '\n');
      });
    });
}
