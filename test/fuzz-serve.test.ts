// The live server under machine-made requests (docs/fuzzing.md): methods, paths with traversal and odd
// encodings, query strings, and headers (Authorization, cookies, Origin, Host, Last-Event-ID) drawn by fast-check,
// against `serve` with a token on a real store. Every answer is a 2xx/3xx/4xx (503 only when full), nothing but
// a login link answers without the token, no file outside the page is ever sent, and the server keeps serving.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { serve, type LiveServer } from '../src/index.js';
import { CORPUS } from './fuzz/targets.js';

const TOKEN = 'f00dfeed'.repeat(5);
let server: LiveServer;
const logged: string[] = [];

before(async () => {
  server = await serve({ stores: [join(CORPUS, 'store', 'tiny.sqlite')], host: '127.0.0.1', port: 0, token: TOKEN, rateLimit: 1_000_000, log: (l) => logged.push(l) });
});
after(async () => {
  await server.close();
});

interface Answer {
  status: number;
  body: string;
}

/** One raw request; an event stream is read for its head and a little of its body, then dropped. */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => {
        text += d;
        if (text.length > 4096 || res.headers['content-type']?.startsWith('text/event-stream')) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in 5 s to ${method} ${path}`)));
    // a connection the server (or Node's parser under it) drops or answers in a way the client cannot parse is a
    // refusal: status 0. (A HEAD or GET carrying a chunked body gets Node's own 400 and then a dropped socket.)
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || String(e.code).startsWith('HPE_') || e.message === 'socket hang up' ? resolve({ status: 0, body: '' }) : reject(e)));
    if (body) req.write(body);
    req.end();
  });
}

const segment = fc.oneof(
  fc.constantFrom('', 's', '0', '1', '99999', '-1', 'events', 'status.json', 'login', 'login-link', 'favicon.ico', '..', '%2e%2e', '%2E%2E%2F', '..%2f', '%00', '%', '%zz', '.', '~', 'etc', 'passwd', 'assets', 'index.html', 'node_modules', 'package.json'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const path = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((p) => '/' + p.join('/')),
  fc.constantFrom('/', '/s/0/', '/s/0/events', '/s/0/status.json', '/s/1/', '/s/0', '/login-link', '/login/00', '//etc/passwd', '/s/0/../../../../etc/passwd', '/s/0/%2e%2e/%2e%2e/etc/passwd', '/' + 'a'.repeat(5000)),
);
const query = fc.oneof(fc.constant(''), fc.constantFrom('?since=0', '?since=-1', '?since=1e99', '?since=abc', '?since=2147483648', '?since=0&since=1', '?__proto__[x]=1'), fc.string({ maxLength: 20 }).map((q) => '?' + encodeURIComponent(q)));
const header = fc.record(
  {
    authorization: fc.oneof({ weight: 3, arbitrary: fc.constant(`Bearer ${TOKEN}`) }, { weight: 2, arbitrary: fc.constantFrom(`Bearer ${TOKEN}`, `Bearer ${TOKEN}x`, `bearer ${TOKEN}`, 'Bearer', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Bearer ${TOKEN.slice(1)}`) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }),
    cookie: fc.oneof(fc.constantFrom('mutascan_session=', 'mutascan_session=0000', `mutascan_session=${TOKEN}`, 'a=b; mutascan_session=x'), fc.string({ maxLength: 30 })),
    origin: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1'),
    host: fc.constantFrom('evil.example', '127.0.0.1', 'localhost:1'),
    'last-event-id': fc.oneof(fc.constantFrom('0', '-1', '1e99', 'x'), fc.nat().map(String)),
  },
  { requiredKeys: [] },
);
const requestArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path,
  query,
  headers: header,
  body: fc.option(fc.string({ maxLength: 2000 }), { nil: undefined }),
});

/** Whether a request carries the token itself (a session cookie comes only from a login link, which the fuzzer never has). */
// (the scheme's case does not matter, RFC 9110; the token must be exact)
const hasToken = (h: Record<string, string | undefined>): boolean => new RegExp(`^bearer +${TOKEN}$`, 'i').test(h.authorization ?? '');

test('the live server answers 1,000 machine-made requests without a 5xx, a leak or a way past its token', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const headers = Object.fromEntries(Object.entries(r.headers).filter(([, v]) => v !== undefined && /^[\t\x20-\x7e]*$/.test(v))) as Record<string, string>;
      const a = await send(r.method, r.path + r.query, headers, r.body);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      assert.ok(a.status === 0 || (a.status >= 200 && a.status < 500) || a.status === 503, `${a.status} for ${r.method} ${r.path}${r.query}: ${a.body.slice(0, 200)}`);
      assert.doesNotMatch(a.body, /root:x:0:0|"dependencies"|BEGIN [A-Z ]*PRIVATE KEY/, `${r.method} ${r.path} leaked a file`);
      if (!hasToken(headers) && !r.path.startsWith('/login/') && a.status !== 0) assert.ok(a.status === 401 || a.status === 400 || a.status === 404 || a.status === 413 || a.status === 414 || a.status === 431, `${a.status} without the token for ${r.method} ${r.path}${r.query}`);
    }),
    { numRuns: Number(process.env.FUZZ_RUNS_SERVE ?? 1000), seed: 20261206 },
  );
  console.log(`# statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ')}`);
  // still serving, and nothing logged as an internal error
  assert.equal((await send('GET', '/s/0/status.json', { authorization: `Bearer ${TOKEN}` })).status, 200);
  assert.deepEqual(logged.filter((l) => /error serving/.test(l)), []);
});
