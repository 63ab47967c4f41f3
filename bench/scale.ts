/**
 * npm run bench:scale — one screen spread through a real redis-server over 1, then 2 worker processes on this
 * machine (the coordinator writing the store beside them): mutants/s of each and their ratio, measured in
 * the same run. The screen: element mutants (max, min) of 2.gate and 2.up of stories260K, 44,032 mutants.
 * Printed, not asserted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../test/redis-server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'mutascan.js');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-scale-'));
const spec = join(tmp, 'screen.yaml');
writeFileSync(spec, `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ["2.gate", "2.up"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 48\n`);

const run = (args: string[], env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  return new Promise<{ code: number | null; log: string }>((r) => child.on('exit', (code) => r({ code, log })));
};

const redis = await RedisServer.start();
try {
  const rates: number[] = [];
  for (const n of [1, 2]) {
    const store = join(tmp, `w${n}.sqlite`);
    // Workers start first and wait for the screen; the time counted is the coordinator's, plan to last result.
    const workers = Array.from({ length: n }, () => run(['worker', '--queue', redis.url, '--exit-when-idle', '3', '--threads', '1'], { MUTASCAN_THREADS: '1' }));
    const t0 = performance.now();
    const c = await run(['run', spec, '--store', store, '--queue', redis.url, '--batch', '256']);
    const secs = (performance.now() - t0) / 1000;
    await Promise.all(workers);
    if (c.code !== 0) throw new Error(`coordinator failed: ${c.log}`);
    const m = /screen complete: (\d+) mutants/.exec(c.log);
    const total = Number(m?.[1] ?? 0);
    rates.push(total / secs);
    console.log(`${n} worker process${n > 1 ? 'es' : ''}: ${total.toLocaleString('en')} mutants in ${secs.toFixed(1)} s = ${(total / secs).toFixed(0)} mutants/s`);
  }
  console.log(`2 workers / 1 worker: ${(rates[1] / rates[0]).toFixed(2)}× (2 cores; the coordinator and Redis share them)`);
} finally {
  await redis.stop();
  rmSync(tmp, { recursive: true, force: true });
}
