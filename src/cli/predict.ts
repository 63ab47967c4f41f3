import type { Command } from 'commander';
import { predictScreen, type MissedEstimate } from '../index.js';
import { int } from './options.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const n = (x: number): string => Math.round(x).toLocaleString('en-US');

/** A budgeted run's estimate, as run and status print it. */
export function describeEstimate(e: MissedEstimate): string {
  const found = e.foundTop + e.sampleNsms;
  const total = found + e.missed;
  return `assay ${e.assay}: ${n(e.foundTop)} NSMs in the top, ${n(e.sampleNsms)} in the sample of ${n(e.sample)}; about ${n(e.missed)} NSMs missed among the ${n(e.unscreened)} unscreened (95 % interval ${n(e.low)}–${n(e.high)}), so the budget found about ${total ? pct(found / total) : '-'} of them`;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict every mutant\'s outcome to first order (gradients of each decision\'s margin: generate steps, choice answers), without screening; stored for run --order predicted and --budget')
    .argument('<screen>', 'screen file (YAML)')
    .requiredOption('--store <file>', 'SQLite store (created with the plan if new; an existing store of the screen keeps its results)')
    .option('--backend <name>', 'auto | ts | native')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .action(async (screen: string, o) => {
      const s = await predictScreen({ screen, store: o.store, backend: o.backend, threads: o.threads, onNote: (line) => process.stderr.write(`mutascan: ${line}\n`) });
      const out: string[] = [];
      for (const a of s.assays) {
        if (a.skipped) {
          out.push(`assay ${a.assay}: not predicted: ${a.skipped}`);
          continue;
        }
        out.push(`assay ${a.assay}: ${a.mutants!.toLocaleString('en-US')} mutants predicted from ${a.steps} ${a.decisions ?? 'steps'} in ${a.seconds!.toFixed(2)} s; ${a.predictedNsms!.toLocaleString('en-US')} predicted NSMs (predicted margin < 0)`);
        const q = a.quality;
        if (q)
          out.push(
            `  against the ${q.mutants.toLocaleString('en-US')} screened mutants (${q.nsms.toLocaleString('en-US')} NSMs): AUROC ${q.auroc.toFixed(4)}, recall of NSMs in the top ${pct(q.top)}: ${pct(q.recall)}; of the predicted NSMs ${q.predictedNsms ? pct(q.predictedRight / q.predictedNsms) : '-'} are NSMs`,
          );
      }
      out.push(`${s.created ? 'created' : 'updated'} ${o.store} (${s.total.toLocaleString('en-US')} mutants planned) in ${s.seconds.toFixed(1)} s, peak memory ${(process.resourceUsage().maxRSS / 2 ** 20).toFixed(2)} GiB`);
      process.stdout.write(out.join('\n') + '\n');
    });
}
