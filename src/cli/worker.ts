import type { Command } from 'commander';
import { runWorker } from '../index.js';
import { int, kvMemory, real } from './options.js';

/** Seconds a stopping worker waits for its queue before it leaves anyway. */
const EXIT_SECONDS = 10;

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run batches of the screens published on a Redis server (started with `mutascan run … --queue`)')
    .requiredOption('--queue <redis-url>', 'the Redis server the coordinator uses (redis://[user:password@]HOST:PORT, rediss://… for TLS)')
    .option('--redis-ca <file>', 'with a rediss:// --queue: PEM file of the CA that signed the server\'s certificate')
    .option('--concurrency <n>', 'batches at a time in this process', int('--concurrency', 1))
    .option('--model <path>', "this machine's copy of the screen's model (default: the path in the screen file)")
    .option('--tokenizer <path>', "this machine's copy of the tokenizer, for llama2.c models")
    .option('--threads <n>', 'threads for the native backend', int('--threads', 1))
    .option('--kv-memory <GiB>', 'keys and values of passes and decoding NSMs (default: 60 % of the memory the weights leave)', kvMemory)
    .option('--lock-seconds <s>', 'how long a batch stays with this worker without a sign of life before another worker takes it', real('--lock-seconds', 0.5))
    .option('--exit-when-idle <s>', 'stop after this many seconds without a screen to work on (default: keep waiting)', real('--exit-when-idle', 0))
    .action(async (o: { queue: string; redisCa?: string; concurrency?: number; model?: string; tokenizer?: string; threads?: number; lockSeconds?: number; exitWhenIdle?: number }) => {
      let stop = false;
      const onSignal = (): void => {
        if (stop) process.exit(130);
        stop = true;
        process.stderr.write('\nmutascan worker: stopping after the batches in flight…\n');
        // a queue that no longer answers (Redis killed, the network gone) must not hold the worker: what it was
        // evaluating goes back to the queue when its lock expires, so leaving is safe
        setTimeout(() => {
          process.stderr.write(`mutascan worker: the queue did not answer within ${EXIT_SECONDS} s of the signal; leaving without it (the batches in flight go back to the queue)\n`);
          process.exit(130);
        }, EXIT_SECONDS * 1000).unref();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await runWorker({
          queue: o.queue,
          redisCa: o.redisCa,
          concurrency: o.concurrency,
          model: o.model,
          tokenizer: o.tokenizer,
          threads: o.threads,
          lockMs: o.lockSeconds !== undefined ? o.lockSeconds * 1000 : undefined,
          idleExitMs: o.exitWhenIdle !== undefined ? o.exitWhenIdle * 1000 : undefined,
          log: (line) => process.stderr.write(`mutascan worker: ${line}\n`),
          shouldStop: () => stop,
        });
        process.stderr.write(`mutascan worker: ran ${r.batches} batches${r.refused ? `, refused ${r.refused} screens` : ''}\n`);
        if (r.refused && r.batches === 0) process.exitCode = 2;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
