/**
 * `mutascan serve` and `run --serve`: a real server on a free loopback port, a real screen writing the store,
 * and Chromium looking at the page. The page must fill in while the screen runs and end equal to the static
 * report's data; the server must hold 200 event streams, refuse bad requests and strangers, and keep serving.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { launchChromium, openWatched } from './browser.js';
import { serve as serveLibrary } from '../src/index.js';
import { StoreWatch } from '../src/serve/watch.js';
import { Store } from '../src/store/store.js';
import { CLI, expectCleanError, PYTHON, runCli, storedCount, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const tmp = tempDir('serve');
const spec = join(tmp.path, 'sampled.yaml');
// sampled, so nearly every mutant is an NSM with its own output: phenotypes keep arriving while the page looks
writeFileSync(
  spec,
  `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["1.k"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 150\n    temperature: 0.7\n    top_p: 0.9\n    seed: 7\n`,
);
const store = join(tmp.path, 'live.sqlite');
const children: ChildProcess[] = [];
let browser: Browser;

before(async () => {
  browser = await launchChromium();
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  tmp.remove();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `mutascan run ARGS` in the background: its exit code once it ends, and what it wrote to stderr. */
function runInBackground(args: string[]): { ran: Promise<number | null>; err: () => string } {
  const run = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(run);
  let err = '';
  run.stderr!.on('data', (c) => (err += c));
  return { ran: new Promise((r) => run.on('exit', (code) => r(code))), err: () => err };
}

/** Starts a CLI process and resolves with the first stdout/stderr line matching `ready` (and the process). */
function startCli(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const look = (chunk: Buffer) => {
      out += chunk.toString();
      const m = out.match(ready);
      if (m) resolve({ child, match: m, output: () => out });
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('exit', (code) => reject(new Error(`mutascan ${args[0]} exited (${code}) before it was ready:\n${out}`)));
  });
}

function serve(stores: string[], extra: string[] = []) {
  return startCli(['serve', ...stores, '--port', '0', ...extra], /live view at (http:\/\/[^\s]+\/)/).then((r) => ({ ...r, url: r.match[1] }));
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (the path is sent exactly as given, unlike fetch, which normalises `..`). */
function raw(url: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    // a new connection each time, so a refused request cannot leave a broken socket for the next one
    const req = request({ host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Non-grey pixels over all map canvases: units that have a result. */
const MAP_PIXELS = `(() => {
  let n = 0;
  for (const c of document.querySelectorAll('#maps canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (!(d[i] === d[i + 1] && d[i + 1] === d[i + 2])) n++;
  }
  return n;
})()`;

function reportPayload(html: string): { outcome: string[][][]; phenotypes: Record<string, { text: string; divergeAt: number; divergeEnd: number; baselineEnd: number; count: number; styles: string[] }>; total: number; done: number } {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page holds its data');
  return JSON.parse(m[1]);
}

/** The screen's finished store: the first test writes it while the page watches; a run of the later tests alone makes it here. */
function finishedStore(): string {
  const r = runCli(['run', spec, '--store', store]);
  assert.equal(r.status, 0, r.stderr);
  return store;
}

const toB64 = (a: number[]) => Buffer.from(new Int32Array(a).buffer).toString('base64');

describe('the live view during a real screen', () => {
  it('fills in while the screen runs and ends equal to the static report', async () => {
    const { ran, err } = runInBackground([spec, '--store', store, '--jobs', '1']);
    while (storedCount(store) < 50) await sleep(200);
    const server = await serve([store]);
    const w = await openWatched(browser, `${server.url}s/0/`);
    const look = async () => ({ done: Number(await w.page.evaluate(() => document.body.dataset.done)), pixels: (await w.page.evaluate(MAP_PIXELS)) as number });
    const first = await look();
    await sleep(4000);
    const second = await look();
    assert.ok(first.done < 4096, `the screen was still running at the first look (${first.done} done)`);
    assert.ok(second.done > first.done, `done count grew between two looks: ${first.done} → ${second.done}`);
    assert.ok(second.pixels > first.pixels, `map pixels grew between two looks: ${first.pixels} → ${second.pixels}`);
    assert.match(await w.page.textContent('#progress') ?? '', /In progress: [\d,]+ of 4,096 mutants done .*mutants\/s/);
    assert.match(await w.page.textContent('#live-runs') ?? '', /local run, pid \d+/);

    assert.equal(await ran, 0, err());
    const deadline = Date.now() + 30_000;
    while (Number(await w.page.evaluate(() => document.body.dataset.done)) < 4096 && Date.now() < deadline) await sleep(250);
    assert.equal(await w.page.textContent('#progress'), 'Complete: 4,096 mutants.');

    const out = join(tmp.path, 'report');
    const r = runCli(['report', store, '--out', out, '--no-embed']);
    assert.equal(r.status, 0, r.stderr);
    const stat = reportPayload(readFileSync(join(out, 'index.html'), 'utf8'));
    const page = (await w.page.evaluate(() => {
      const p = (window as unknown as { mutascanPage: { data: { phenotypes: unknown; total: number; done: number }; outcome: Int32Array[][][] } }).mutascanPage;
      return { phenotypes: p.data.phenotypes, total: p.data.total, done: p.data.done, outcome: p.outcome.map((k) => k.map((t) => t.map((u) => Array.from(u)))) };
    })) as { phenotypes: typeof stat.phenotypes; total: number; done: number; outcome: number[][][][] };
    assert.equal(page.total, stat.total);
    assert.equal(page.done, stat.done);
    assert.deepEqual(page.outcome.map((k) => k.map((t) => t.map(toB64))), stat.outcome, 'every unit as the static report has it');
    assert.equal(Object.keys(page.phenotypes).length, Object.keys(stat.phenotypes).length);
    for (const [id, p] of Object.entries(stat.phenotypes)) {
      const q = page.phenotypes[id];
      assert.ok(q, `phenotype ${id} reached the page`);
      assert.deepEqual({ ...q, cluster: null }, { ...p, cluster: null }, `phenotype ${id}`);
    }
    assert.deepEqual(w.pageErrors, []);
    assert.deepEqual(w.consoleErrors, []);
    assert.deepEqual(w.network.filter((u) => !u.startsWith(server.url)), [], 'no request leaves the server');
    await w.page.close();
    server.child.kill('SIGTERM');
  });

  it('`run --serve` shows a screen from its start (on its own thread, and the last results before it stops)', async () => {
    const s2 = join(tmp.path, 'run-serve.sqlite');
    const started = await startCli(['run', spec, '--store', s2, '--jobs', '1', '--limit', '600', '--serve', '0'], /live view at (http:\/\/[^\s]+\/)/);
    const url = started.match[1];
    const w = await openWatched(browser, `${url}s/0/`);
    const ended = new Promise<number | null>((r) => started.child.on('exit', (c) => r(c)));
    assert.equal(await ended, 0, started.output());
    const db = new Database(s2, { readonly: true });
    const stored = db.prepare('SELECT count(*) FROM mutants WHERE done = 1 AND id > 0').pluck().get() as number;
    db.close();
    assert.ok(stored >= 599, `${stored} stored`);
    // the server's last poll went out before the run stopped it: the page holds every stored mutant
    assert.equal(Number(await w.page.evaluate(() => document.body.dataset.done)), stored);
    assert.deepEqual(w.pageErrors, []);
    await w.page.close();
  });
});

/** Connects with a 4 KiB receive buffer, asks for the event stream and reads nothing for a minute. */
const STALLED_READER = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /s/0/events?since=0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
time.sleep(60)
`;

describe('viewers that keep up and one that does not', () => {
  it('a stalled reader is closed when too far behind; the others get every update, in order', async (t) => {
    const s3 = join(tmp.path, 'stalled.sqlite');
    // longer texts than the other tests' screen: the kernel takes up to 4 MiB (tcp_wmem) for a reader before the server holds any
    const long = join(tmp.path, 'long-texts.yaml');
    writeFileSync(long, readFileSync(spec, 'utf8').replace('max_length: 150', 'max_length: 320').replace('["1.k"]', '["1.k", "1.v"]'));
    const { ran, err } = runInBackground([long, '--store', s3, '--jobs', '2']);
    while (storedCount(s3) < 1) await sleep(100);
    // 64 KiB behind, not the default 4 MiB, so this short screen's texts are enough to leave the stalled reader behind
    const server = await serveLibrary({ stores: [s3], port: 0, pollMs: 250, maxBehindBytes: 64 << 10 });
    try {
      const u = new URL(server.url);
      const keepers = Array.from({ length: 8 }, () => ({ ids: [] as number[], text: '', bytes: 0 }));
      for (const k of keepers)
        request({ host: u.hostname, port: u.port, path: '/s/0/events?since=0', agent: false }, (res) =>
          res.on('data', (d: Buffer) => {
            k.text += d.toString();
            k.bytes += d.length;
            for (let end = k.text.indexOf('\n\n'); end >= 0; end = k.text.indexOf('\n\n')) {
              const ev = k.text.slice(0, end);
              k.text = k.text.slice(end + 2);
              if (/^event:update$/m.test(ev)) k.ids.push(Number(/^id:(\d+)$/m.exec(ev)![1]));
            }
          }),
        ).end();
      // the stalled reader: a socket with a small receive buffer, so the kernel holds little for it and what it
      // does not read piles up in the server, as it would for a client on a slow or broken link
      children.push(spawn(PYTHON, ['-c', STALLED_READER, u.hostname, u.port], { stdio: 'ignore' }));
      assert.equal(await ran, 0, err());
      const stored = storedCount(s3) - 1; // the page counts the screen's mutants, not the unmutated model's row
      const deadline = Date.now() + 20_000;
      const status = async () => JSON.parse((await raw(server.url, '/s/0/status.json')).body) as { seq: number; done: number; dropped: number };
      while ((await status()).done < stored && Date.now() < deadline) await sleep(250);
      server.pollNow();
      await sleep(500);
      const st = await status();
      assert.equal(st.done, stored);
      assert.ok(st.seq >= 3, `several updates (${st.seq})`);
      t.diagnostic(`each reader was sent ${(keepers[0].bytes / 2 ** 20).toFixed(1)} MiB in ${st.seq} updates`);
      assert.equal(server.dropped(), 1, `the stalled reader was closed (each reader was sent ${(keepers[0].bytes / 2 ** 20).toFixed(1)} MiB)`);
      assert.equal(st.dropped, 1);
      assert.equal(server.viewers(), keepers.length, 'the readers that keep up are still there');
      for (const k of keepers) assert.deepEqual(k.ids, Array.from({ length: st.seq }, (_, i) => i + 1), 'every update, once, in order');
    } finally {
      await server.close();
    }
  });
});

describe('the server under load and abuse', () => {
  let url: string;
  let child: ChildProcess;
  before(async () => {
    finishedStore();
    const s = await serve([store, store], ['--max-viewers', '200']);
    url = s.url;
    child = s.child;
  });
  after(() => child.kill('SIGTERM'));

  it('holds 200 event streams at once, refuses the 201st, and lets them go', async () => {
    const streams: { events: number; close(): void }[] = [];
    for (let i = 0; i < 200; i++) {
      const u = new URL(url);
      const s = { events: 0, close: () => {} };
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, path: `/s/${i % 2}/events` }, (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (c: Buffer) => (s.events += (c.toString().match(/^event:/gm) ?? []).length));
          resolve();
        });
        req.on('error', reject);
        req.end();
        s.close = () => req.destroy();
      });
      streams.push(s);
    }
    await sleep(3000); // held: each gets the poll's progress events
    const status = JSON.parse((await raw(url, '/s/0/status.json')).body);
    const status1 = JSON.parse((await raw(url, '/s/1/status.json')).body);
    assert.equal(status.viewers + status1.viewers, 200);
    assert.ok(streams.every((s) => s.events >= 2), `every stream got events (fewest ${Math.min(...streams.map((s) => s.events))})`);
    const over = await raw(url, '/s/0/events');
    assert.equal(over.status, 503);
    assert.match(over.body, /too many live viewers/);
    for (const s of streams) s.close();
    await sleep(1500);
    assert.equal(JSON.parse((await raw(url, '/s/0/status.json')).body).viewers, 0);
    assert.equal((await raw(url, '/')).status, 200);
  });

  it('answers bad requests with 4xx and keeps serving', async () => {
    const cases: { path: string; method?: string; headers?: Record<string, string>; body?: string; status: number[] }[] = [
      { path: '/s/0/../../../../etc/passwd', status: [404] },
      { path: '/%2e%2e/%2e%2e/etc/passwd', status: [404] },
      { path: '/s/0/..%2f..%2fpackage.json', status: [404] },
      { path: '/assets/report/page.js', status: [404] },
      { path: '/s/7/', status: [404] },
      { path: '/s/abc/', status: [400] },
      { path: '/s/-1/', status: [400] },
      { path: '/s/99999999999999999999999/', status: [400] },
      { path: '/s/0/events?since=abc', status: [400] },
      { path: '/s/0/events?since=1.5', status: [400] },
      { path: '/s/0/events?since=-3', status: [400] },
      { path: `/s/0/events?since=${'9'.repeat(40_000)}`, status: [414, 431, 400] },
      { path: '/s/0/', headers: { 'X-Big': 'x'.repeat(40_000) }, status: [431, 400] },
      { path: '/s/0/', method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(100_000) }), status: [404, 413] },
      { path: `/login/${'z'.repeat(500)}`, status: [414, 404, 401] },
    ];
    for (const c of cases) {
      const r = await raw(url, c.path, c).catch((e: Error) => assert.fail(`${c.method ?? 'GET'} ${c.path.slice(0, 60)}: ${e.message}`));
      assert.ok(c.status.includes(r.status), `${c.method ?? 'GET'} ${c.path.slice(0, 60)}: ${r.status} ${r.body.slice(0, 120)}`);
      assert.ok(!r.body.includes('root:'), 'no file from outside');
      assert.equal((await raw(url, '/s/0/status.json')).status, 200, 'still serving');
    }
    const page = await raw(url, '/s/1/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const index = await raw(url, '/');
    assert.match(index.body, /href="\/s\/0\/"/);
    assert.match(index.body, /href="\/s\/1\/"/);
  });

  it('tells a page that holds more than the server (the server restarted) to reload', async () => {
    for (const headers of [{}, { 'Last-Event-ID': '999999' }]) {
      const u = new URL(url);
      const first = await new Promise<string>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, path: Object.keys(headers).length ? '/s/0/events' : '/s/0/events?since=999999', headers, agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
            if (/\n\n(event:\w+)/.test(text)) {
              req.destroy();
              resolve(/\n\n(event:\w+)/.exec(text)![1]);
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(first, 'event:reload');
    }
  });

  it('limits the request rate of one client', async () => {
    const s = await startCli(['serve', store, '--port', '0'], /live view at (http:\/\/[^\s]+\/)/);
    // the default limit (600 a minute) is far above what a person's pages ask; a flood meets it
    let limited = 0;
    const base = s.match[1];
    for (let i = 0; i < 650 && limited === 0; i++) if ((await raw(base, '/s/0/status.json')).status === 429) limited = i;
    assert.ok(limited >= 590, `the 429 came after ${limited} requests`);
    s.child.kill('SIGTERM');
  });
});

describe('access', () => {
  it('off loopback only with a token; bearer, one-time link and cookie', async () => {
    finishedStore();
    expectCleanError(runCli(['serve', store, '--host', '0.0.0.0', '--port', '0']), /needs a token .*--token-file/s);
    expectCleanError(runCli(['serve', store, '--token', 'short']), /too short/);
    const tokenFile = join(tmp.path, 'token');
    const token = 'c0ffee'.repeat(6);
    writeFileSync(tokenFile, token + '\n');
    const s = await startCli(['serve', store, '--host', '0.0.0.0', '--port', '0', '--token-file', tokenFile], /one-time login link[^\n]*?(http:\/\/[^\s]+\/login\/([0-9a-f]+))/);
    const port = /:(\d+)\//.exec(s.match[1])![1];
    const base = `http://127.0.0.1:${port}/`;
    assert.ok(!s.output().includes(token), 'the token is never printed');
    assert.equal((await raw(base, '/')).status, 401);
    assert.equal((await raw(base, '/s/0/')).status, 401);
    assert.equal((await raw(base, '/s/0/events')).status, 401);
    assert.equal((await raw(base, '/', { headers: { Authorization: `Bearer ${token}x` } })).status, 401);
    assert.equal((await raw(base, '/', { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    // with a token, any Host is answered (the token is what keeps strangers out)
    assert.equal((await raw(base, '/', { headers: { Authorization: `Bearer ${token}`, Host: 'mutascan.example' } })).status, 200);
    const link = `/login/${s.match[2]}`;
    const login = await raw(base, link);
    assert.equal(login.status, 303);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    assert.match(String(login.headers['set-cookie']), /HttpOnly/i);
    assert.match(String(login.headers['set-cookie']), /SameSite=Strict/i);
    assert.equal((await raw(base, '/s/0/', { headers: { Cookie: cookie } })).status, 200);
    assert.equal((await raw(base, link)).status, 401, 'the link works once');
    assert.equal((await raw(base, '/', { headers: { Cookie: 'mutascan_session=forged' } })).status, 401);
    // a new link needs the token itself; a browser then logs in through it and its page streams events
    assert.equal((await raw(base, '/login-link', { headers: { Cookie: cookie } })).status, 401);
    const fresh = (await raw(base, '/login-link', { headers: { Authorization: `Bearer ${token}` } })).body.trim();
    const code = /\/login\/([0-9a-f]+)$/.exec(fresh)![1];
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}login/${code}`);
    await page.goto(`${base}s/0/`);
    await page.waitForSelector('body[data-ready="1"]');
    await page.waitForFunction(() => (window as unknown as { mutascanLive?: { events: EventSource } }).mutascanLive?.events.readyState === 1);
    await ctx.close();
    s.child.kill('SIGTERM');
  });

  it('without a token, only loopback names are answered (a page that rebinds its own name to 127.0.0.1 gets nothing)', async () => {
    finishedStore();
    const s = await serve([store]);
    const port = new URL(s.url).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `[::2]:${port}`, 'localhost:80@evil.example'])
      for (const path of ['/', '/s/0/', '/s/0/events', '/s/0/status.json']) {
        const r = await raw(s.url, path, { headers: { Host: host } });
        assert.ok(r.status === 421 || r.status === 400, `Host "${host}" ${path}: ${r.status}`);
        assert.ok(!r.body.includes('report-data') && !r.body.includes('"done"'), 'nothing of the store');
      }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.2:${port}`]) assert.equal((await raw(s.url, '/s/0/status.json', { headers: { Host: host } })).status, 200, host);
    s.child.kill('SIGTERM');
  });
});

describe('model text on the live page', () => {
  it('phenotype texts with markup in them are shown as text, from the page and from events', async () => {
    const s3 = join(tmp.path, 'hostile.sqlite');
    copyFileSync(finishedStore(), s3);
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const db = new Database(s3);
    const [a, b] = db.prepare('SELECT mutant_id, phenotype_id FROM results WHERE phenotype_id IS NOT NULL ORDER BY mutant_id LIMIT 2').raw().all() as [number, number][];
    db.prepare('UPDATE phenotypes SET text = ? WHERE id = ?').run(hostile + ' (in the page)', a[1]);
    // the second mutant is taken back to pending, to arrive later as a run would write it
    const saved = db.prepare('SELECT * FROM results WHERE mutant_id = ?').raw().all(b[0]) as unknown[][];
    db.prepare('DELETE FROM results WHERE mutant_id = ?').run(b[0]);
    db.prepare('UPDATE mutants SET done = 0 WHERE id = ?').run(b[0]);
    db.close();
    const server = await serve([s3]);
    const w = await openWatched(browser, `${server.url}s/0/`);
    const before = Number(await w.page.evaluate(() => document.body.dataset.done));
    const writer = new Database(s3);
    writer.transaction(() => {
      const id = writer.prepare("INSERT INTO phenotypes (assay_id, hash, ids_json, text, diverge_at, diverge_end, baseline_end) VALUES (1, 'hostile', '[1]', ?, 0, 1, 1) RETURNING id").pluck().get(hostile + ' (from an event)') as number;
      const row = saved[0].slice();
      row[3] = id;
      writer.prepare(`INSERT INTO results VALUES (${row.map(() => '?').join(', ')})`).run(...row);
      writer.prepare('UPDATE mutants SET done = 1 WHERE id = ?').run(b[0]);
      // as Store.save logs each commit (the watch reads the log; a writer that does not log is caught by its recount)
      writer.prepare('INSERT INTO done_log (ordinals) VALUES (?)').run(Buffer.from(Int32Array.of(b[0]).buffer));
    })();
    writer.close();
    await w.page.waitForFunction((n) => Number(document.body.dataset.done) > n, before, { timeout: 15_000 });
    for (const [mutant, suffix] of [[a[0], '(in the page)'], [b[0], '(from an event)']] as const) {
      // the unit of that mutant: its element's row and column in 1.k
      const m = new Database(s3, { readonly: true }).prepare('SELECT row, col, kind FROM mutants WHERE id = ?').get(mutant) as { row: number; col: number; kind: string };
      const canvas = w.page.locator('canvas[data-target="1.k"]');
      const box = (await canvas.boundingBox())!;
      const size = await canvas.evaluate((c: HTMLCanvasElement) => ({ w: c.width, h: c.height }));
      await w.page.mouse.click(box.x + ((m.col + 0.5) / size.w) * box.width, box.y + ((m.row + 0.5) / size.h) * box.height);
      await w.page.locator('#viewer-mutants li.nsm', { hasText: `1.k:${m.row},${m.col}+1x1:${m.kind}` }).first().click();
      // the whole text as text (the mark after it is the report's ∅ for an output that ends before the divergence),
      // and still that mutant's after its unit is drawn again (as a live update or a changed filter does)
      assert.ok((await w.page.textContent('#pheno-text'))!.startsWith(hostile + ' ' + suffix));
      await w.page.dispatchEvent('#f-style', 'change');
      assert.ok((await w.page.textContent('#pheno-text'))!.startsWith(hostile + ' ' + suffix), 'the viewer keeps the mutant chosen');
      assert.equal(await w.page.locator('#pheno-text img, #pheno-text script, #viewer-mutants img').count(), 0);
    }
    assert.equal(await w.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(w.pageErrors, []);
    await w.page.close();
    server.child.kill('SIGTERM');
  });
});

describe('how a watch finds new results', () => {
  // 12 mutants scattered over the plan (as `run --order predicted` finishes them), taken back to pending and
  // committed again: through the store's done_log, by a writer that does not log, and in a store without the log
  const scattered = (total: number) => Array.from({ length: 12 }, (_, i) => 1 + Math.floor(((i + 0.5) * (total - 1)) / 12));
  for (const how of ['logged', 'not logged (caught by the recount)', 'a store without the log (the holes scan)'] as const)
    it(`finds every mutant committed anywhere in the plan: ${how}`, () => {
      const copy = join(tmp.path, `watch-${how.split(' ')[0]}-${how.length}.sqlite`);
      copyFileSync(finishedStore(), copy);
      const db = new Database(copy);
      const total = db.prepare('SELECT max(id) FROM mutants').pluck().get() as number;
      const ids = scattered(total);
      const saved = ids.map((id) => db.prepare('SELECT * FROM results WHERE mutant_id = ?').raw().all(id) as unknown[][]);
      db.transaction(() => {
        for (const id of ids) {
          db.prepare('DELETE FROM results WHERE mutant_id = ?').run(id);
          db.prepare('UPDATE mutants SET done = 0 WHERE id = ?').run(id);
        }
        if (how.startsWith('a store without')) db.exec('DROP TABLE done_log');
      })();
      const watch = new StoreWatch(Store.open(copy), 0);
      try {
        assert.equal(watch.poll(), null, 'nothing new yet');
        const before = watch.data.done;
        db.transaction(() => {
          for (const rows of saved) for (const r of rows) db.prepare(`INSERT INTO results VALUES (${r.map(() => '?').join(', ')})`).run(...r);
          for (const id of ids) db.prepare('UPDATE mutants SET done = 1 WHERE id = ?').run(id);
          if (how === 'logged') db.prepare('INSERT INTO done_log (ordinals) VALUES (?)').run(Buffer.from(Int32Array.from(ids).buffer));
        })();
        db.close();
        const u = watch.poll();
        assert.equal(watch.data.done, before + ids.length);
        assert.equal(Buffer.from(u!.changes, 'base64').length / 20, ids.length, 'one change per mutant (one assay)');
        assert.equal(watch.poll(), null);
      } finally {
        watch.store.close();
      }
    });
});
