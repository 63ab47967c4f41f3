/**
 * npm run soak -- [--minutes 30] [--targets LIST] [--workers 3] [--seed S]
 *
 * A distributed screen on a loopback Redis (Debian's redis-server, no persistence) run through trouble for at
 * least --minutes: workers killed with SIGKILL at random and started again, workers stopped with SIGTERM (each
 * must exit within 10 s), Redis killed and started empty, the coordinator killed and started again, and the
 * coordinator's disk (a tmpfs, where mounting is allowed) filling up, after which the space is grown and the
 * coordinator started again with the same command. At the end: every mutant must have been evaluated and
 * stored exactly once, and the store must equal one written by a quiet single-machine run of the same screen.
 * Prints the counts of each kind of trouble and the comparison; exit status 1 on any difference.
 *
 * Not part of `npm test`: it takes the minutes asked, or longer if the screen does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { RedisServer } from '../test/redis-server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'mutascan.js');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    // four layers' matrices at element resolution (362,496 mutants), two assays: about 40 min on 2 cores
    targets: { type: 'string', default: '0.*,1.*,2.*,3.*' },
    workers: { type: 'string', default: '3' },
    seed: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const nWorkers = Number(values.workers);
const seed0 = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
let seed = seed0;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 60_000).toFixed(1).padStart(5)} min`;
const say = (line: string) => console.log(`${clock()}  ${line}`);

const tmp = mkdtempSync(join(tmpdir(), 'mutascan-soak-'));
const disk = join(tmp, 'disk');
mkdirSync(disk);
const spec = join(tmp, 'screen.yaml');
writeFileSync(
  spec,
  `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: [${values.targets!.split(',').map((t) => JSON.stringify(t.trim())).join(', ')}]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 48\n  - name: lily\n    type: generate\n    prompt: "Lily went"\n    max_new_tokens: 32\n    temperature: 0.8\n    top_p: 0.9\n    seed: 5\n`,
);
const store = join(disk, 'soak.sqlite');
const reference = join(tmp, 'quiet.sqlite');

/**
 * The disk sizes the coordinator's store gets in turn, each after the last filled: the first fills while the
 * store is made (its write-ahead log holds every mutant row until the first checkpoint), the second may fill
 * later in the screen, the third is room for the rest.
 */
const SIZES = [48 << 20, 128 << 20, 8 << 30];
let mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZES[0]}`, 'tmpfs', disk]).status === 0;
let size = 0;

interface Proc {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}
function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-20_000)));
  return { child, log: () => log, exited: new Promise((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null)))) };
}

const counts = { workerKills: 0, workerTerms: 0, slowestTermMs: 0, redisRestarts: 0, coordinatorKills: 0, diskFull: 0, coordinatorStarts: 0 };
const redis = await RedisServer.start();
const coordinatorArgs = ['run', spec, '--store', store, '--queue', redis.url, '--batch', '32'];
const workerArgs = ['worker', '--queue', redis.url, '--lock-seconds', '5', '--exit-when-idle', '30'];
let coordinator = start(coordinatorArgs);
counts.coordinatorStarts++;
const workers = Array.from({ length: nWorkers }, () => start(workerArgs));
// the quiet run (no trouble, one process) beside the soak: its results do not depend on the machine's load
const quiet = start(['run', spec, '--store', reference, '--jobs', '1']);
let failed = false;

try {
  say(`seed ${seed0}; ${nWorkers} workers; Redis on ${redis.url}; the store on ${mounted ? `a ${SIZES[0] >> 20} MiB tmpfs` : 'the temporary folder (mounting not permitted: no full disk)'}`);
  let done = false;
  let nextRedis = t0 + 4 * 60_000;
  let nextCoordinatorKill = t0 + 7 * 60_000;
  while (!done) {
    await sleep(8_000 + rand() * 22_000);
    const r = rand();
    const k = Math.floor(rand() * workers.length);
    if (r < 0.6) {
      workers[k].child.kill('SIGKILL');
      await workers[k].exited;
      counts.workerKills++;
      await sleep(rand() * 3000);
      workers[k] = start(workerArgs);
    } else {
      const at = Date.now();
      workers[k].child.kill('SIGTERM');
      const code = await Promise.race([workers[k].exited, sleep(10_000).then(() => 'hung' as const)]);
      const took = Date.now() - at;
      if (code === 'hung') {
        failed = true;
        say(`a worker did not exit within 10 s of SIGTERM:\n${workers[k].log()}`);
        workers[k].child.kill('SIGKILL');
      }
      counts.workerTerms++;
      counts.slowestTermMs = Math.max(counts.slowestTermMs, took);
      workers[k] = start(workerArgs);
    }
    if (Date.now() > nextRedis) {
      await redis.restart();
      counts.redisRestarts++;
      say('Redis killed and started empty');
      nextRedis = Date.now() + (3 + rand() * 4) * 60_000;
    }
    if (Date.now() > nextCoordinatorKill && coordinator.child.exitCode === null) {
      coordinator.child.kill('SIGKILL');
      await coordinator.exited;
      counts.coordinatorKills++;
      say('coordinator killed (SIGKILL)');
      coordinator = start(coordinatorArgs);
      counts.coordinatorStarts++;
      nextCoordinatorKill = Date.now() + (6 + rand() * 6) * 60_000;
    }
    // the coordinator's end: the screen finished, or it stopped on a full disk and is started again on more room
    if (coordinator.child.exitCode !== null) {
      const code = await coordinator.exited;
      const log = coordinator.log();
      if (code === 0 && /screen complete/.test(log)) done = true;
      else if (/the disk holding the store is full .*every result committed so far is kept; run the same command to resume/s.test(log) && mounted && size + 1 < SIZES.length) {
        counts.diskFull++;
        size++;
        say(`the disk filled (${/the disk holding the store is full \(([\d.]+ MiB) free\)/.exec(log)?.[1]} free); grown to ${SIZES[size] >> 20} MiB, coordinator started again`);
        mounted = spawnSync('mount', ['-o', `remount,size=${SIZES[size]}`, disk]).status === 0;
        coordinator = start(coordinatorArgs);
        counts.coordinatorStarts++;
      } else {
        failed = true;
        say(`the coordinator ended (${code}) otherwise:\n${log.slice(-3000)}`);
        break;
      }
    }
  }
  const soakMinutes = (Date.now() - t0) / 60_000;
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  say(`screen complete after ${soakMinutes.toFixed(1)} min${soakMinutes < minutes ? ` (shorter than the ${minutes} asked: give --targets more)` : ''}`);

  if (quiet.child.exitCode === null) say('waiting for the quiet run');
  if ((await quiet.exited) !== 0) throw new Error(`the quiet run failed:\n${quiet.log()}`);

  const db = new Database(store, { readonly: true });
  const c = db.prepare("SELECT (SELECT count(*) FROM mutants) AS total, (SELECT count(*) FROM mutants WHERE done = 0) AS pending, count(*) AS results, count(DISTINCT mutant_id || '/' || assay_id) AS distinct_ FROM results").get() as { total: number; pending: number; results: number; distinct_: number };
  db.close();
  const rowsOf = (path: string) => {
    const d = new Database(path, { readonly: true });
    const it = d
      .prepare(`SELECT m.key, r.assay_id, r.silent, r.first_divergence, r.similarity, r.destructive, r.n_tokens, p.ids_json FROM results r JOIN mutants m ON m.id = r.mutant_id LEFT JOIN phenotypes p ON p.id = r.phenotype_id ORDER BY m.id, r.assay_id`)
      .raw()
      .iterate() as IterableIterator<unknown[]>;
    return { it, close: () => d.close() };
  };
  const a = rowsOf(store);
  const b = rowsOf(reference);
  let compared = 0;
  let differ = 0;
  for (;;) {
    const x = a.it.next();
    const y = b.it.next();
    if (x.done || y.done) {
      if (!x.done || !y.done) differ++;
      break;
    }
    compared++;
    if (JSON.stringify(x.value) !== JSON.stringify(y.value)) {
      if (differ++ < 5) say(`differs: ${JSON.stringify(x.value).slice(0, 200)} vs ${JSON.stringify(y.value).slice(0, 200)}`);
    }
  }
  a.close();
  b.close();
  const once = c.pending === 0 && c.results === c.distinct_ && c.results === c.total * 2;
  console.log(
    [
      '',
      `soak: ${c.total.toLocaleString('en')} mutants × 2 assays over ${soakMinutes.toFixed(1)} min, ${nWorkers} workers (seed ${seed0})`,
      `  worker SIGKILLs ${counts.workerKills}, worker SIGTERMs ${counts.workerTerms} (slowest exit ${(counts.slowestTermMs / 1000).toFixed(1)} s), Redis restarts (empty) ${counts.redisRestarts}, coordinator SIGKILLs ${counts.coordinatorKills}, full disks ${counts.diskFull}, coordinator starts ${counts.coordinatorStarts}`,
      `  stored: ${c.results.toLocaleString('en')} results, ${c.distinct_.toLocaleString('en')} distinct, ${c.pending} mutants pending: ${once ? 'every mutant exactly once' : 'NOT every mutant exactly once'}`,
      `  against the quiet run: ${compared.toLocaleString('en')} results compared, ${differ} differ`,
    ].join('\n'),
  );
  if (!once || differ || failed) process.exitCode = 1;
} finally {
  for (const w of workers) w.child.kill('SIGKILL');
  coordinator.child.kill('SIGKILL');
  quiet.child.kill('SIGKILL');
  await redis.stop();
  if (mounted) spawnSync('umount', [disk]);
  rmSync(tmp, { recursive: true, force: true });
}
