import { InvalidArgumentError, type Command } from 'commander';
import { thresholdScreen, type UnitThreshold } from '../index.js';
import { writeWhole } from '../util/output.js';
import { int, real } from './options.js';

/** --region ROW0-ROW1,COL0-COL1 */
function region(v: string): { rows: [number, number]; cols: [number, number] } {
  const m = /^(\d+)-(\d+),(\d+)-(\d+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`--region must be ROW0-ROW1,COL0-COL1 such as 96-104,696-704, got "${v}".`);
  const [a, b, c, d] = m.slice(1).map(Number);
  if (a > b || c > d) throw new InvalidArgumentError(`--region: each range runs from the smaller number to the larger, got "${v}".`);
  return { rows: [a, b], cols: [c, d] };
}

/** A CSV cell: names hold commas, so they are quoted. */
const cell = (v: unknown): string => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));

const fmt = (x: number) => String(Number(x.toPrecision(5)));

const COLUMNS: (keyof UnitThreshold)[] = ['unit', 'target', 'row', 'col', 'rows', 'cols', 'weight', 'status', 'silentAt', 'nsmAt', 'change', 'mutant', 'evaluations'];

export function registerThreshold(program: Command): void {
  program
    .command('threshold')
    .description("per unit of a screen's targets, the smallest change that alters the output, by bisection (each point evaluated exactly)")
    .argument('<screen>', 'screen file: its model, targets, unit and assays (its kinds are not used)')
    .option('--kind <kind>', 'scale (multiply the unit by a factor) or value (set it to a number)', 'scale')
    .option('--from <x>', 'the series\' start (scale: 1 leaves the unit as it is)', real('--from'), 1)
    .requiredOption('--to <x>', 'the series\' end, e.g. 0 (scale down to zero) or 100', real('--to'))
    .option('--tolerance <x>', 'stop when the bracket is narrower than this', real('--tolerance', 1e-9), 0.01)
    .option('--region <r>', 'only units starting within ROW0-ROW1,COL0-COL1 of each target', region)
    .option('--out <file>', 'write every unit as CSV')
    .option('--maps <dir>', 'write a map per target (SVG and PNG)')
    .option('--plain', 'evaluate on the plain path')
    .option('--backend <name>', 'auto | ts | native')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .option('--json', 'print every unit as JSON')
    .action(async (screen: string, o) => {
      if (o.kind !== 'scale' && o.kind !== 'value') program.error(`error: --kind must be scale or value, got "${o.kind}"`);
      const r = await thresholdScreen({
        screen, kind: o.kind, from: o.from, to: o.to, tolerance: o.tolerance, region: o.region, plain: o.plain === true, backend: o.backend, threads: o.threads, maps: o.maps,
        onRound: o.json ? undefined : (round, rounds, open) => process.stderr.write(`threshold: round ${round} (about ${rounds}), ${open} units still bracketed\n`),
      });
      if (o.out) writeWhole(o.out, [COLUMNS.join(','), ...r.units.map((u) => COLUMNS.map((c) => cell(u[c])).join(','))].join('\n') + '\n', 'threshold table', 'run it again');
      if (o.json) {
        process.stdout.write(JSON.stringify(r.units) + '\n');
        return;
      }
      const found = r.units.filter((u) => u.status === 'threshold').sort((a, b) => a.change! - b.change!);
      const silent = r.units.filter((u) => u.status === 'silent-throughout').length;
      const atStart = r.units.filter((u) => u.status === 'nsm-at-from').length;
      const out = [
        `${r.units.length} units, ${o.kind} from ${o.from} to ${o.to}: ${found.length} change the output within the series, ${silent} silent throughout, ${atStart} NSM at the start`,
        `${r.evaluations} evaluations in ${r.rounds} rounds, ${r.seconds.toFixed(1)} s`,
      ];
      if (found.length) {
        out.push('smallest changes that alter the output (bracket: last silent, first NSM):');
        for (const u of found.slice(0, 10))
          out.push(`  ${u.unit.padEnd(28)} ${o.kind} ${fmt(u.silentAt!)} → ${fmt(u.nsmAt!)}  (change ${u.change!.toPrecision(3)}${u.weight !== null && o.kind === 'scale' ? `, weight ${u.weight.toPrecision(4)} → ${(u.weight * u.nsmAt!).toPrecision(4)}` : ''})`);
        const med = found[Math.floor(found.length / 2)].change!;
        out.push(`median change of the units that flip: ${med.toPrecision(3)}`);
      }
      if (o.out) out.push(`wrote ${o.out}`);
      for (const m of r.maps) out.push(`wrote ${m}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}
