import type { Command } from 'commander';
import { machineInfo } from '../index.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('this machine as mutascan sees it: CPU, instruction-set level, the kernel each product uses, and the numerics results carry')
    .option('--backend <name>', 'auto, ts or native (default: MUTASCAN_BACKEND, else auto)')
    .option('--json', 'print it as JSON')
    .action(async (o: { backend?: 'auto' | 'ts' | 'native'; json?: boolean }) => {
      const report = await machineInfo({ backend: o.backend });
      if (o.json) {
        process.stdout.write(JSON.stringify(report) + '\n');
        return;
      }
      const width = Math.max(...Object.keys(report).map((k) => k.length));
      for (const [k, v] of Object.entries(report)) process.stdout.write(`${k.padEnd(width)}  ${String(v)}\n`);
    });
}
