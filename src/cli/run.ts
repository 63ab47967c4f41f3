import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { MutascanError, runScreen, serveInThread, type ServeThread } from '../index.js';
import { int, kvMemory } from './options.js';
import { announce, DEFAULT_PORT, port } from './serve.js';
import { describeEstimate } from './predict.js';

/** ETA as 1h05m, 3m20s or 45s (cli-progress's own rounds 119 s to "1m60s"). */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const t = Math.max(0, Math.round(seconds));
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** The run's last results go out to open pages before the live view stops with the run. */
async function closeLive(live: Promise<ServeThread | undefined> | undefined): Promise<void> {
  await (await live)?.close();
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a screen (resumes when the store already holds part of it)')
    .argument('<screen>', 'screen file (YAML)')
    .requiredOption('--store <file>', 'SQLite store for the results (created, or resumed)')
    .option('--plain', 'force the plain path (one full generation per mutant)')
    .option('--backend <name>', 'auto | ts | native')
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .option('--jobs <n>', 'screening processes on this machine: a number, or auto (one per core when the model is small)', (v: string) => (v === 'auto' ? 'auto' : int('--jobs', 1)(v)), 'auto')
    .option('--limit <n>', 'stop after this many mutants (the rest can be resumed)', int('--limit', 1))
    .option('--queue <redis-url>', 'spread the screen over workers through Redis (redis://[user:password@]HOST:PORT, rediss://… for TLS); this process coordinates and stores')
    .option('--redis-ca <file>', 'with a rediss:// --queue: PEM file of the CA that signed the server\'s certificate')
    .option('--batch <n>', 'with --queue: mutants per job', int('--batch', 1))
    .option('--serve [port]', `watch the screen in a browser: the live view on 127.0.0.1 (port ${DEFAULT_PORT}, or the one given; 0 for any free one) while it runs`, port('--serve'))
    .option('--order <order>', 'plan (the screen file\'s order) or predicted (most likely NSMs first; predicts first if the store has no predictions)', (v: string) => {
      if (v !== 'plan' && v !== 'predicted') throw new MutascanError(`--order ${v}: not an order`, '--order', 'use plan or predicted');
      return v;
    })
    .option('--budget <n>', 'screen only the N mutants most likely to be NSMs by their predicted margins, plus a random sample of the rest, from which the NSMs missed are estimated', int('--budget', 1))
    .option('--sample <n>', 'with --budget: how many of the rest to screen for that estimate (default: a tenth of the budget, at least 200)', int('--sample', 0))
    .option('--kv-memory <GiB>', 'keys and values of passes and decoding NSMs per screening process (default: 60 % of the memory the weights leave, shared by the processes)', kvMemory)
    .action(async (screen: string, o) => {
      const stop = new AbortController();
      const onSigint = (): void => {
        if (stop.signal.aborted) process.exit(130);
        stop.abort();
        process.stderr.write('\nmutascan: stopping after the batch in flight (Ctrl-C again to quit at once)…\n');
      };
      process.on('SIGINT', onSigint);
      const bar = new SingleBar(
        { format: `screen {bar} {value}/{total} mutants | {rate} mutants/s | ETA {eta_formatted}${o.queue ? ' | {workers} workers' : ''}`, etaBuffer: 50, formatTime: (t: number) => formatEta(t), hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 15000 },
        Presets.shades_classic,
      );
      let started = 0;
      let startDone = 0;
      let live: Promise<ServeThread | undefined> | undefined;
      const serveStore = (): void => {
        const p = o.serve === true ? DEFAULT_PORT : (o.serve as number);
        live = serveInThread({ stores: [o.store], port: p }, (line) => process.stderr.write(`\nmutascan: ${line}\n`)).then(
          (server) => (announce(server, (line) => process.stderr.write(line)), server),
          (e: Error) => (process.stderr.write(`mutascan: no live view: ${e.message}; the screen goes on\n`), undefined),
        );
      };
      try {
        let workers = 0;
        // the library refuses these too, in its own words; here they are named as flags
        if (o.queue && o.jobs !== 'auto') throw new MutascanError('--jobs does not go with --queue', '--jobs', 'start more workers instead (mutascan worker --concurrency N)');
        if (o.redisCa && !o.queue) throw new MutascanError('--redis-ca goes with --queue', '--redis-ca', 'drop it, or add --queue rediss://HOST:PORT');
        if (o.queue && o.limit !== undefined) throw new MutascanError('--limit does not go with --queue', '--limit', 'drop one of them');
        if (o.sample !== undefined && o.budget === undefined) throw new MutascanError('--sample goes with --budget', '--sample', 'add --budget N, or drop --sample');
        const s = await runScreen({
          screen,
          store: o.store,
          backend: o.backend,
          threads: o.threads,
          plain: o.plain === true,
          limit: o.limit,
          jobs: o.queue && o.jobs === 'auto' ? undefined : o.jobs,
          order: o.order,
          budget: o.budget,
          sample: o.sample,
          queue: o.queue,
          redisCa: o.redisCa,
          batch: o.batch,
          onWorkers: (n) => (workers = n),
          signal: stop.signal,
          onStart: ({ total, done, resumed, notes }) => {
            for (const n of notes) process.stderr.write(`mutascan: note: ${n}\n`);
            if (resumed) process.stderr.write(`mutascan: resuming ${o.store}: ${done} of ${total} mutants already done\n`);
            started = performance.now();
            startDone = done;
            bar.start(total, done, { rate: '-', workers: 0 });
            if (o.serve !== undefined) serveStore();
          },
          onNote: (line) => process.stderr.write(`\nmutascan: ${line}\n`),
          onProgress: (done) => bar.update(done, { rate: ((done - startDone) / Math.max(1e-3, (performance.now() - started) / 1000)).toFixed(1), workers }),
        });
        bar.stop();
        const server = live;
        live = undefined;
        await closeLive(server);
        const rate = s.ranNow / Math.max(1e-3, s.seconds);
        if (s.stopped && stop.signal.aborted) process.exitCode = 130; // interrupted, as a shell expects after Ctrl-C
        const parked = s.parked ?? 0;
        if (parked && !stop.signal.aborted) {
          process.exitCode = 1;
          process.stderr.write(`mutascan: ${s.done} of ${s.total} mutants stored; ${parked} batches failed repeatedly and are parked (their errors: mutascan status ${o.store}); run the same command to try them again\n`);
          return;
        }
        if (s.others && !stop.signal.aborted && s.done < s.total) {
          const held = s.others.map((x) => `${x.mutants} with the run of ${x.run}`).join('; ');
          process.stderr.write(`mutascan: this run's share is done (${s.ranNow} mutants evaluated here, ${s.done} of ${s.total} stored); the rest are being evaluated by the runs sharing the store (${held}); the store is complete when they finish, and if one dies, running the same command takes its mutants over\n`);
          return;
        }
        if (s.budget && !s.stopped) {
          process.stderr.write(`mutascan: budget done: the top ${s.budget.top.toLocaleString('en-US')} mutants by predicted margin and a random sample of ${s.budget.sample.toLocaleString('en-US')} others screened (${s.ranNow} now, ${rate.toFixed(1)} mutants/s, ${s.seconds.toFixed(1)} s) in ${o.store}\n`);
          for (const e of s.budget.estimates ?? []) process.stderr.write(`mutascan: ${describeEstimate(e)}\n`);
          return;
        }
        if (s.pairs) process.stderr.write(`mutascan: pairs: ${s.pairs.done} of ${s.pairs.total} stored (${s.pairs.ranNow} now); mutascan scores ${o.store} sets them against their singles\n`);
        process.stderr.write(
          s.stopped
            ? `mutascan: stopped with ${s.done} of ${s.total} mutants${s.pairs ? ` and ${s.pairs.done} of ${s.pairs.total} pairs` : ''} stored; run the same command to resume\n`
            : `mutascan: screen complete: ${s.total} mutants (${s.ranNow} now, ${rate.toFixed(1)} mutants/s, ${s.seconds.toFixed(1)} s${s.jobs && s.jobs > 1 ? `, ${s.jobs} processes` : ''}${s.rechecks ? `, ${s.rechecks} near-ties re-checked` : ''}) in ${o.store}\n`,
        );
      } finally {
        bar.stop();
        await closeLive(live).catch(() => {});
        process.off('SIGINT', onSigint);
      }
    });
}
