import type { Command } from 'commander';
import { basename } from 'node:path';
import { estimateScreen, machinesWithin, type Estimate } from '../index.js';
import { int } from './options.js';

/** 3 d 04 h, 5 h 12 min, 4 min 10 s, 12.3 s */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86400)} d ${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')} h`;
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** "905.9 machine-days; a week on 130 machines like this" */
export function machineDays(e: Estimate): string {
  const week = machinesWithin(e, 7 * 86400);
  return `${(e.seconds / 86400).toFixed(e.seconds < 86400 ? 3 : 1)} machine-days; ${Number.isFinite(week) ? `a week on ${week} machine${week > 1 ? 's' : ''} like this` : 'not within a week on any number of machines (setup or storing alone take longer)'}`;
}

function describe(e: Estimate, screen: string): string {
  const ms = (s: number): string => `${(s * 1000).toPrecision(3)} ms`;
  const lines = [
    `${basename(screen)}: ${e.mutants.toLocaleString('en-US')} mutants over ${e.targets} targets`,
    `setup (load, baselines, null mutant, store): ${duration(e.setupSeconds)}`,
    `timed ${e.samples.length} targets:`,
    ...e.samples.map((s) => `  ${s.target.padEnd(10)} ${String(s.depth).padStart(3)} layers up  ${String(s.mutants).padStart(5)} mutants  ${ms(s.secondsPerMutant).padStart(10)} per mutant`),
    `per mutant: ${ms(e.fit.intercept)} + ${ms(e.fit.slope)} × layers up; storing ${ms(e.storeSecondsPerMutant)}`,
    `one machine like this:      ${duration(e.seconds)} (${machineDays(e)})${e.jobs > 1 ? `; ${e.jobs} screening processes` : ''}`,
    ...(e.workers > 1 ? [`${e.workers} machines like this: ${' '.repeat(Math.max(0, 7 - String(e.workers).length))}${duration(e.workersSeconds)}  (each loads the model; the coordinator stores)`] : []),
    `store: about ${bytes(e.storeBytes)}`,
  ];
  return lines.join('\n') + '\n';
}

export function registerEstimate(program: Command): void {
  program
    .command('estimate')
    .description("time a sample of a screen's mutants on this machine and predict the whole screen's duration and store size")
    .argument('<screen>', 'screen file (YAML)')
    .option('--workers <n>', 'also predict for this many machines like this one', int('--workers', 1), 1)
    .option('--jobs <n>', 'screening processes per machine, as run --jobs: a number, or auto (one per core when the model is small)', (v: string) => (v === 'auto' ? 'auto' : int('--jobs', 1)(v)), 'auto')
    .option('--plain', 'estimate the plain path')
    .option('--backend <name>', 'auto | ts | native')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .option('--sample-targets <n>', 'targets to time, spread over the plan', int('--sample-targets', 1), 6)
    .option('--per-target <n>', 'mutants to time per target (default: two passes of the fast path)', int('--per-target', 1))
    .option('--json', 'print the estimate as JSON')
    .action(async (screen: string, o) => {
      const e = await estimateScreen({
        screen,
        backend: o.backend,
        threads: o.threads,
        plain: o.plain === true,
        workers: o.workers,
        jobs: o.jobs,
        sampleTargets: o.sampleTargets,
        perTarget: o.perTarget,
        onSample: (s) => {
          if (!o.json) process.stderr.write(`estimate: ${s.target}: ${s.mutants} mutants timed\n`);
        },
      });
      process.stdout.write(o.json ? JSON.stringify(e) + '\n' : describe(e, screen));
    });
}
