/**
 * npm run bench:serve — what watching costs a screen: the same screen run with its live view (`run --serve`,
 * the server on a thread of the run's own process) watched by no one, then by 200 event-stream clients, in
 * alternation, mutants/s of each and their ratio measured in the same run. The clients run in this process on
 * the same 2 cores (a browser elsewhere would cost the screen less). The screen: the sampled element screen of
 * 1.k (4,096 mutants, nearly all NSMs, so every poll carries new units and new phenotypes). Printed, not asserted;
 * the bound stated in docs/live.md is checked against what this prints.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'mutascan.js');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const CLIENTS = Number(process.env.BENCH_SERVE_CLIENTS ?? 200);
const ROUNDS = Number(process.env.BENCH_SERVE_ROUNDS ?? 3);
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-serve-'));
const spec = join(tmp, 'screen.yaml');
writeFileSync(
  spec,
  `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ["1.k"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 42\n`,
);

const EVENT = Buffer.from('\nevent:');

interface Client {
  bytes: number;
  events: number;
  close(): void;
}

function connect(url: string): Promise<Client> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const c: Client = { bytes: 0, events: 0, close: () => {} };
    const req = request({ host: u.hostname, port: u.port, path: '/s/0/events' }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`event stream: HTTP ${res.statusCode}`));
      // counted, not parsed: a viewer's parsing happens in its browser, not on the screen's machine
      res.on('data', (d: Buffer) => {
        c.bytes += d.length;
        // an event's first field, at the start of a chunk (the server writes one event per chunk) or of a line
        if (d.subarray(0, EVENT.length - 1).equals(EVENT.subarray(1))) c.events++;
        for (let i = d.indexOf(EVENT); i >= 0; i = d.indexOf(EVENT, i + 1)) c.events++;
      });
      res.on('error', () => {});
      resolve(c);
    });
    req.on('error', reject);
    req.end();
    c.close = () => req.destroy();
  });
}

/** One screen from scratch with its live view; `clients` streams held from the server's start to the end. */
async function screen(i: number, clients: number): Promise<{ rate: number; events: number; mib: number }> {
  const store = join(tmp, `s${i}.sqlite`);
  const child = spawn(process.execPath, [CLI, 'run', spec, '--store', store, '--jobs', '1', '--serve', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const held: Client[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      log += d;
      const m = /live view at (http:\/\/\S+\/)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`run ended before its live view started:\n${log}`)));
  });
  for (let k = 0; k < clients; k++) held.push(await connect(url));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  for (const c of held) c.close();
  if (code !== 0) throw new Error(`run failed:\n${log}`);
  const m = /screen complete: \d+ mutants \((\d+) now, ([\d.]+) mutants\/s/.exec(log);
  if (!m) throw new Error(`no rate in the run's output:\n${log}`);
  return { rate: Number(m[2]), events: held.reduce((s, c) => s + c.events, 0), mib: held.reduce((s, c) => s + c.bytes, 0) / 2 ** 20 };
}

try {
  const alone: number[] = [];
  const watched: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await screen(2 * r, 0);
    alone.push(a.rate);
    console.log(`round ${r + 1}: live view, no viewer: ${a.rate.toFixed(1)} mutants/s`);
    const b = await screen(2 * r + 1, CLIENTS);
    watched.push(b.rate);
    console.log(`round ${r + 1}: live view, ${CLIENTS} event streams: ${b.rate.toFixed(1)} mutants/s (they received ${b.events.toLocaleString('en')} events, ${b.mib.toFixed(1)} MiB in all)`);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ratio = mean(watched) / mean(alone);
  console.log(`${CLIENTS} viewers / none: ${ratio.toFixed(3)}× the screen's rate (slowdown ${((1 - ratio) * 100).toFixed(1)} %; 4,096-mutant sampled screen of 1.k, --jobs 1, 2 cores shared with the clients)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
