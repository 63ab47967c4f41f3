/**
 * npm run bench:serve-load — `mutascan serve` (its own process, with a token, the default limits but no rate
 * limit, since every client here shares one address) on the store a real screen is writing, in three phases:
 *
 *   watched  BENCH_LOAD_VIEWERS event streams that read everything, one that reads 16 KiB/s and one that
 *            reads nothing (a Python socket with a small receive buffer), for 20 s;
 *   flood    autocannon on loopback: status.json and the page with the token, then requests without it;
 *   attacks  ways round the token (paths, encodings, header tricks, forged cookies, other origins and hosts),
 *            each of which must get nothing.
 *
 * Printed: latency percentiles and requests/s of each flood, the server's memory over time (its RSS from
 * /proc), whether every keeping-up stream got every update once and in order, when the stalled stream was closed,
 * and the screen's mutants/s in each phase against the same screen run alone just before. The screen: a sampled
 * element screen of 1.k, 1.v and 2.k with texts up to 320 tokens (12,288 mutants, nearly all NSMs with texts of their own, so
 * the updates are heavy). Printed, not asserted: this machine is shared, so figures are compared within one run.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storedCount } from '../test/helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'mutascan.js');
const STORIES = join(ROOT, '..', 'shared', 'models', 'stories260K');
const VIEWERS = Number(process.env.BENCH_LOAD_VIEWERS ?? 100);
const FLOOD_S = Number(process.env.BENCH_LOAD_FLOOD_S ?? 8);
const CONNECTIONS = 16;
const TOKEN = 'bench-load-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-load-'));
const spec = join(tmp, 'screen.yaml');
writeFileSync(
  spec,
  `model: ${join(STORIES, 'stories260K.bin')}\ntokenizer: ${join(STORIES, 'tok512.bin')}\ntargets: ["1.k", "1.v", "2.k"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 320\n    temperature: 0.7\n    top_p: 0.9\n    seed: 42\n`,
);
const tokenFile = join(tmp, 'token');
writeFileSync(tokenFile, TOKEN + '\n');
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[], ready: RegExp | null): Promise<{ child: ChildProcess; match?: RegExpMatchArray; log: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  return new Promise((resolve, reject) => {
    const look = (d: Buffer) => {
      log += d;
      const m = ready ? log.match(ready) : null;
      if (m) resolve({ child, match: m, log: () => log, exited });
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    if (!ready) resolve({ child, log: () => log, exited });
    else void exited.then((code) => reject(new Error(`mutascan ${args[0]} ended (${code}) before it was ready:\n${log}`)));
  });
}

const STALLED_READER = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(("GET /s/0/events?since=0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nAuthorization: Bearer " + sys.argv[3] + "\\r\\n\\r\\n").encode())
time.sleep(3600)
`;

const rateOf = (log: string) => Number(/screen complete: \d+ mutants \(\d+ now, ([\d.]+) mutants\/s/.exec(log)?.[1] ?? NaN);

/** An event stream that reads everything and keeps the ids of its updates. */
function viewer(base: URL, readBytesPerSecond = Infinity) {
  const v = { ids: [] as number[], bytes: 0, closedAt: 0, connected: false, stop: () => {} };
  let text = '';
  const req = request({ host: base.hostname, port: base.port, path: '/s/0/events?since=0', headers: AUTH, agent: false }, (res) => {
    v.connected = res.statusCode === 200;
    res.socket.on('close', () => (v.closedAt ||= Date.now()));
    if (Number.isFinite(readBytesPerSecond)) {
      // a slow reader: takes what arrived, then sleeps as long as reading it at this rate would take
      res.on('data', (d: Buffer) => {
        v.bytes += d.length;
        res.pause();
        setTimeout(() => res.resume(), (1000 * d.length) / readBytesPerSecond);
      });
      return;
    }
    res.on('data', (d: Buffer) => {
      v.bytes += d.length;
      text += d.toString();
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const ev = text.slice(0, end);
        text = text.slice(end + 2);
        if (ev.includes('event:update')) v.ids.push(Number(/^id:(\d+)$/m.exec(ev)![1]));
      }
    });
  });
  req.on('error', () => (v.closedAt ||= Date.now()));
  req.end();
  v.stop = () => req.destroy();
  return v;
}

function raw(base: URL, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: base.hostname, port: base.port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
}

async function flood(name: string, url: string, headers: Record<string, string>) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: FLOOD_S, headers });
  const codes = Object.entries(r.statusCodeStats ?? {})
    .map(([c, n]) => `${c}: ${(n.count ?? 0).toLocaleString('en')}`)
    .join(', ');
  console.log(
    `  ${name.padEnd(34)} ${Math.round(r.requests.average).toLocaleString('en').padStart(6)} req/s  p50 ${String(r.latency.p50).padStart(4)} ms  p99 ${String(r.latency.p99).padStart(4)} ms  max ${String(r.latency.max).padStart(5)} ms  (${r.requests.total.toLocaleString('en')} requests; ${codes}; ${r.errors} errors)`,
  );
}

/** Requests that try to get round the token; each must get no store data. */
function attacks(port: string): { path: string; headers: Record<string, string> }[] {
  const paths = ['/', '/s/0/', '/s/0/events', '/s/0/status.json', '/login-link', '/s/0/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/s/0/%2e%2e/status.json', '//s/0/', '/s/0/status.json%00', '/S/0/', '/s/0/status.json?token=' + TOKEN, '/login/' + 'a'.repeat(48), '/login/../s/0/'];
  const headerSets: Record<string, string>[] = [
    {},
    { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` },
    { authorization: `Bearer` },
    { authorization: `Token ${TOKEN}` },
    { cookie: 'mutascan_session=' + 'a'.repeat(64) },
    { cookie: `mutascan_session=${TOKEN}` },
    { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' },
    { origin: `http://127.0.0.1:${port}`, referer: `http://127.0.0.1:${port}/s/0/` },
    { host: 'localhost', origin: 'http://evil.example' },
    { 'x-original-url': '/s/0/status.json', 'x-rewrite-url': '/s/0/status.json' },
  ];
  return paths.flatMap((path) => headerSets.map((headers) => ({ path, headers })));
}

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return NaN;
  }
}

try {
  console.log(`the screen alone (12,288 mutants, sampled, --jobs 1) …`);
  const alone = await start(['run', spec, '--store', join(tmp, 'alone.sqlite'), '--jobs', '1'], null);
  if ((await alone.exited) !== 0) throw new Error(alone.log());
  const aloneRate = rateOf(alone.log());
  console.log(`  ${aloneRate.toFixed(1)} mutants/s`);

  const store = join(tmp, 'watched.sqlite');
  const run = await start(['run', spec, '--store', store, '--jobs', '1'], null);
  while (!existsSync(store) || storedCount(store) < 1) await sleep(100);
  const server = await start(['serve', store, '--port', '0', '--token-file', tokenFile, '--rate-limit', '0'], /live view at (http:\/\/[^\s]+\/)/);
  const base = new URL(server.match![1]);
  const pid = server.child.pid!;
  const samples: { at: number; rss: number; done: number; phase: string }[] = [];
  let phase = 'watched';
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push({ at: Date.now() - t0, rss: rssMiB(pid), done: storedCount(store), phase }), 500);

  const keepers = Array.from({ length: VIEWERS }, () => viewer(base));
  const slow = viewer(base, 16 << 10);
  // the stalled reader: a socket with a 4 KiB receive buffer that reads nothing (Node's client would read into
  // its own buffers), so what it cannot take piles up in the kernel (a few MiB) and then in the server
  const stalledProc = spawn('python3', ['-c', STALLED_READER, base.hostname, base.port, TOKEN], { stdio: 'ignore' });
  children.push(stalledProc);
  console.log(`the same screen watched through \`mutascan serve\` (pid ${pid}): ${VIEWERS} event streams reading all, one reading 16 KiB/s, one reading nothing`);
  await sleep(20_000);

  phase = 'flood';
  console.log(`a flood from ${CONNECTIONS} connections, ${FLOOD_S} s each, while the streams stay open:`);
  await flood('GET /s/0/status.json (token)', `${base.origin}/s/0/status.json`, AUTH);
  await flood('GET /s/0/ the page (token)', `${base.origin}/s/0/`, AUTH);
  await flood('GET /s/0/status.json without token', `${base.origin}/s/0/status.json`, {});
  await flood('GET /s/0/events without token', `${base.origin}/s/0/events`, {});

  phase = 'attacks';
  let leaked = 0;
  const tries = attacks(base.port);
  const seen = new Map<number, number>();
  for (const a of tries) {
    const r = await raw(base, a.path, a.headers);
    seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
    if (r.status === 200 || /report-data|"done":|root:/.test(r.body)) {
      leaked++;
      console.log(`  LEAK: ${a.path} ${JSON.stringify(a.headers)} → ${r.status}`);
    }
  }
  console.log(
    `attacks: ${tries.length} requests round the token (${[...seen].map(([s, n]) => `${s}: ${n}`).join(', ')}); ${leaked} got anything of the store`,
  );

  phase = 'after';
  const code = await run.exited;
  if (code !== 0) throw new Error(run.log());
  await sleep(2500); // two polls: the last results reach the streams
  clearInterval(sampler);
  const status = JSON.parse((await raw(base, '/s/0/status.json', AUTH)).body) as { seq: number; done: number; total: number; viewers: number; dropped: number };
  const complete = keepers.filter((k) => k.ids.length === status.seq && k.ids.every((id, i) => id === i + 1)).length;
  console.log(
    `streams: ${complete} of ${VIEWERS} that read everything got all ${status.seq} updates once and in order (${(keepers[0].bytes / 2 ** 20).toFixed(1)} MiB each); ` +
      `the 16 KiB/s reader ${slow.closedAt ? `was closed after ${((slow.closedAt - t0) / 1000).toFixed(0)} s` : 'is still open'} (${(slow.bytes / 2 ** 20).toFixed(1)} MiB read); ` +
      `the server closed ${status.dropped} streams for falling behind (the stalled reader's among them: ${status.viewers === VIEWERS + (slow.closedAt ? 0 : 1) ? 'yes' : 'no'}; ${status.viewers} streams open at the end)`,
  );
  const rss = samples.map((s) => s.rss).filter(Number.isFinite);
  const line = samples.filter((_, i) => i % 10 === 0).map((s) => `${(s.at / 1000).toFixed(0)}s ${s.rss.toFixed(0)}`);
  console.log(`server memory (RSS, MiB): start ${rss[0]?.toFixed(0)}, peak ${Math.max(...rss).toFixed(0)}, end ${rss.at(-1)?.toFixed(0)}; every 5 s: ${line.join(' · ')}`);
  const phaseRate = (p: string) => {
    const s = samples.filter((x) => x.phase === p);
    return s.length > 1 ? ((s.at(-1)!.done - s[0].done) * 1000) / (s.at(-1)!.at - s[0].at) : NaN;
  };
  const watchedRate = rateOf(run.log());
  console.log(
    `screen speed: alone ${aloneRate.toFixed(1)} mutants/s; watched, whole run ${watchedRate.toFixed(1)} (${(watchedRate / aloneRate).toFixed(2)}×); ` +
      `while ${VIEWERS + 2} streams were open ${phaseRate('watched').toFixed(1)} (${(phaseRate('watched') / aloneRate).toFixed(2)}×); during the flood ${phaseRate('flood').toFixed(1)} (${(phaseRate('flood') / aloneRate).toFixed(2)}×; the flood's client and the server share the screen's 2 cores)`,
  );
  for (const k of [...keepers, slow]) k.stop();
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
