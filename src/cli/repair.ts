import type { Command } from 'commander';
import { repairStore, type Salvage } from '../index.js';

/** What a salvage keeps and loses, in the words `status` and `repair` share. */
export function describeSalvage(s: Salvage): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const out = [`readable: the results of ${n(s.kept)} mutants (of ${n(s.totalMutants)} in the screen, the null mutant included)`];
  const lost = [
    s.requeued && `${n(s.requeued)} finished mutants lose a result or phenotype and are re-queued`,
    s.lostResults && `about ${n(s.lostResults)} results are unreadable`,
    s.lostPhenotypes && `${n(s.lostPhenotypes)} phenotype rows are unreadable`,
    s.lostMutantRows && `${n(s.lostMutantRows)} mutant rows are unreadable (the next run makes them again from the screen file)`,
  ].filter(Boolean);
  if (lost.length) out.push(`lost: ${lost.join('; ')}`);
  return out;
}

export function registerRepair(program: Command): void {
  program
    .command('repair')
    .description('salvage a damaged store into a new one: every readable result is kept, the rest is pending again')
    .argument('<store>', 'the damaged store (opened read-only, never changed)')
    .requiredOption('--out <file>', 'the new store to write')
    .action((path: string, o: { out: string }) => {
      const s = repairStore(path, o.out);
      const out = [`wrote ${o.out} (it passes SQLite's integrity check)`, ...describeSalvage(s)];
      out.push(`finish the screen with: mutascan run <screen file> --store ${o.out}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}
