/**
 * `mutascan serve`: the report page, live, for one or more stores while runs write them.
 *
 * Each store is watched (src/serve/watch.ts) and polled about once a second; what a poll finds goes to every
 * open page as one server-sent event, so a screen of millions of mutants costs one message per second per
 * viewer, not one per mutant. A page is the static report's page (src/report/page.ts) built from the watch's
 * data, with the event stream's address in it; a page that reconnects gets the updates it missed from a
 * bounded history, or is told to reload.
 *
 * Read-only and closed by default: stores are opened read-only; the server binds to loopback unless told
 * otherwise, and then only with a token (src/serve/access.ts); pages carry the report's Content-Security-Policy
 * and are self-contained (no file is served from disk, so there is no path to traverse); requests are limited
 * in size and rate, and open event streams in number.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import { createChannel, createSession, type Channel, type Session } from 'better-sse';
import type { ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { hostname } from 'node:os';
import { fail, MutascanError } from '../errors.js';
import { Store } from '../store/store.js';
import { escapeHtml, pageHtml, REPORT_CSP } from '../report/page.js';
import { analysePage } from '../report/report.js';
import { Access, isLoopback, SESSION_COOKIE } from './access.js';
import { StoreWatch, type LiveUpdate } from './watch.js';

export interface ServeOptions {
  stores: string[];
  /** default 127.0.0.1; any other address needs a token */
  host?: string;
  /** default 8321; 0 takes any free port */
  port?: number;
  token?: string;
  /** how often the stores are read for new results (ms) */
  pollMs?: number;
  /** open event streams at most, over all stores */
  maxViewers?: number;
  /** requests per minute per client address (0: no limit) */
  rateLimit?: number;
  /** bytes a viewer may fall behind before its stream is closed (it reconnects and gets what it missed) */
  maxBehindBytes?: number;
  log?: (line: string) => void;
}

export interface LiveServer {
  /** the index page's address */
  url: string;
  /** with a token: a link that logs one browser in, once */
  loginUrl?: string;
  viewers(): number;
  /** streams closed so far because their readers fell too far behind */
  dropped(): number;
  /** reads the stores now and sends what it finds (the poll timer does this by itself) */
  pollNow(): void;
  close(): Promise<void>;
}

/** Updates kept for pages that reconnect: about ten minutes of a busy screen. */
const HISTORY = 600;
const HISTORY_BYTES = 64 << 20;
/**
 * A viewer whose socket has this much unsent is not keeping up: its stream is closed rather than buffered
 * without bound (Node keeps whatever a stalled reader has not taken in the server's memory). Its browser
 * reconnects by itself with the last id it holds and gets the missed updates from the history.
 */
const MAX_BEHIND_BYTES = 4 << 20;

interface Served {
  path: string;
  watch: StoreWatch;
  channel: Channel;
  /** each open stream's response, to see how far behind its reader is */
  streams: Map<Session, ServerResponse>;
  history: { seq: number; json: string }[];
  historyBytes: number;
  page?: { seq: number; at: number; html: string };
  building?: Promise<string>;
  /** the last failure to read the store, shown once */
  failure?: string;
}

export async function serveStores(o: ServeOptions): Promise<LiveServer> {
  const host = o.host ?? '127.0.0.1';
  const log = o.log ?? (() => {});
  if (!isLoopback(host) && !o.token)
    fail(`serving on ${host} (not the loopback interface) needs a token`, '--host', 'add --token-file FILE (make one with: openssl rand -hex 24 > FILE), or reach a loopback server through an SSH tunnel (see the README)');
  if (o.stores.length === 0) fail('no store to serve', 'mutascan serve', 'give one or more store files');
  const access = new Access(o.token);
  const served: Served[] = o.stores.map((path) => {
    const store = Store.open(path);
    return { path, watch: new StoreWatch(store), channel: createChannel(), streams: new Map(), history: [], historyBytes: 0 };
  });
  const maxViewers = o.maxViewers ?? 256;
  const viewers = () => served.reduce((n, s) => n + s.channel.sessionCount, 0);
  const maxBehind = o.maxBehindBytes ?? MAX_BEHIND_BYTES;
  let dropped = 0;

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: 1024,
    routerOptions: { maxParamLength: 64 },
    requestTimeout: 15_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    // open event streams never end by themselves; closing the server ends them
    forceCloseConnections: true,
  });
  await app.register(fastifyCookie);
  if (o.rateLimit !== 0)
    await app.register(fastifyRateLimit, {
      max: o.rateLimit ?? 600,
      timeWindow: 60_000,
      // a request whose socket Node already dropped (it answered a malformed one with 400) has no address left
      keyGenerator: (req) => req.ip ?? req.socket?.remoteAddress ?? 'gone',
    });

  app.addHook('onRequest', async (req, reply) => {
    setSecurityHeaders(reply);
    // Without a token, a loopback server is open to this machine, and so to any web page its browser shows
    // that rebinds its own name to 127.0.0.1; such a page's requests name its own host, so only loopback
    // names are answered.
    if (!access.required && !isLoopbackHostHeader(req.headers.host)) {
      reply.code(421).type('text/plain; charset=utf-8');
      return reply.send(`this server answers only to a loopback name (127.0.0.1, localhost or [::1]), not to "${String(req.headers.host ?? '').slice(0, 100)}"\n`);
    }
    if (req.url.startsWith('/login/')) return;
    if (!access.allows(req.headers.authorization, req.cookies[SESSION_COOKIE])) {
      reply.code(401).type('text/plain; charset=utf-8');
      return reply.send(
        'This mutascan server needs its token: open the one-time link `mutascan serve` printed, or send the header "Authorization: Bearer TOKEN" (a new link: GET /login-link with that header).\n',
      );
    }
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('text/plain; charset=utf-8').send(`not found: ${req.url.slice(0, 200)} (stores are at /s/0/ … /s/${served.length - 1}/; the list is at /)\n`);
  });
  app.setErrorHandler((e: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const code = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : e.validation ? 400 : 500;
    if (code >= 500) log(`error serving ${req.url.slice(0, 200)}: ${e.message}`);
    reply.code(code).type('text/plain; charset=utf-8').send(code >= 500 ? 'internal error (the server keeps running; its log says more)\n' : `bad request: ${e.message}\n`);
  });

  const storeParam = {
    params: { type: 'object', properties: { n: { type: 'integer', minimum: 0, maximum: 100_000 } }, required: ['n'] },
  } as const;
  const servedAt = (n: number, reply: FastifyReply): Served | undefined => {
    const s = served[n];
    if (!s) reply.code(404).type('text/plain; charset=utf-8').send(`no store ${n} here (this server has ${served.length}; the list is at /)\n`);
    return s;
  };

  // browsers ask for it; an empty answer keeps their consoles free of 404s
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(indexHtml(served)));
  app.get('/s/:n', { schema: storeParam }, async (req, reply) => reply.redirect(`/s/${(req.params as { n: number }).n}/`, 301));
  app.get('/s/:n/', { schema: storeParam }, async (req, reply) => {
    const s = servedAt((req.params as { n: number }).n, reply);
    if (!s) return reply;
    return reply.type('text/html; charset=utf-8').send(await pageOf(s, (req.params as { n: number }).n));
  });
  app.get('/s/:n/status.json', { schema: storeParam }, async (req, reply) => {
    const s = servedAt((req.params as { n: number }).n, reply);
    if (!s) return reply;
    return reply.send({ store: s.path, seq: s.watch.seq, ...s.watch.progress, viewers: s.channel.sessionCount, dropped });
  });
  app.get(
    '/s/:n/events',
    { schema: { ...storeParam, querystring: { type: 'object', properties: { since: { type: 'integer', minimum: 0, maximum: 2 ** 31 } }, } } },
    async (req, reply) => {
      const s = servedAt((req.params as { n: number }).n, reply);
      if (!s) return reply;
      if (viewers() >= maxViewers) return reply.code(503).type('text/plain; charset=utf-8').send(`too many live viewers (${maxViewers}); try again later\n`);
      const lastId = Number(req.headers['last-event-id']);
      const since = Math.max((req.query as { since?: number }).since ?? s.watch.seq, Number.isInteger(lastId) && lastId >= 0 ? lastId : 0);
      reply.hijack();
      const session = await createSession(req.raw, reply.raw, { serializer: (d) => d as string, keepAlive: 15_000, retry: 2_000 });
      // No await from here on: the missed updates and the channel are joined before the next poll broadcasts.
      const oldest = s.history[0]?.seq ?? s.watch.seq + 1;
      // a page further on than this server (which restarted since) or further back than its history starts anew
      if (since > s.watch.seq || (since < s.watch.seq && since < oldest - 1)) session.push('{}', 'reload', String(s.watch.seq));
      else for (const h of s.history) if (h.seq > since) session.push(h.json, 'update', String(h.seq));
      // every event carries the last update's seq as its id, so a reconnecting browser says what it holds
      session.push(JSON.stringify(s.watch.progress), 'progress', String(s.watch.seq));
      s.channel.register(session);
      s.streams.set(session, reply.raw);
      session.once('disconnected', () => s.streams.delete(session));
    },
  );
  app.get('/login/:code', async (req, reply) => {
    const session = access.redeem(String((req.params as { code: string }).code));
    if (session === null) return reply.code(401).type('text/plain; charset=utf-8').send('this link is used up or unknown: ask whoever runs the server for a new one (GET /login-link with the token)\n');
    reply.setCookie(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/' });
    return reply.redirect('/', 303);
  });
  app.get('/login-link', async (req, reply) => {
    if (!access.hasToken(req.headers.authorization)) return reply.code(401).type('text/plain; charset=utf-8').send('only the token (Authorization: Bearer TOKEN) gets a new link\n');
    return reply.type('text/plain; charset=utf-8').send(`${origin}/login/${access.newLink()}\n`);
  });

  /** The page as of the watch's data; rebuilt when newer results came and the last build is 5 s old. */
  async function pageOf(s: Served, n: number): Promise<string> {
    if (s.page && (s.page.seq === s.watch.seq || Date.now() - s.page.at < 5_000)) return s.page.html;
    s.building ??= (async () => {
      try {
        const seq = s.watch.seq;
        const progress = s.watch.progress;
        const data = s.watch.data;
        const parts = await analysePage(s.watch.store, data, { noEmbed: true });
        for (const f of parts.families) f.note = 'the layout and clusters need the model: `mutascan report` draws them';
        // built in one go from the watch's arrays, which polls change only between turns of the event loop
        const html = pageHtml(data, parts.an, { general: [], sorted: [], phenotypes: [] }, parts, { events: `/s/${n}/events`, seq, progress });
        s.page = { seq, at: Date.now(), html };
        return html;
      } finally {
        s.building = undefined;
      }
    })();
    return s.building;
  }

  function poll(): void {
    for (const s of served) {
      for (const [session, res] of s.streams)
        if (res.writableLength > maxBehind) {
          s.streams.delete(session);
          dropped++;
          log(`a viewer of ${basename(s.path)} fell ${(res.writableLength / 2 ** 20).toFixed(1)} MiB behind; its stream is closed (its page reconnects and catches up)`);
          res.destroy();
        }
      let u: LiveUpdate | null;
      try {
        u = s.watch.poll();
        if (s.failure) log(`${s.path} can be read again`);
        s.failure = undefined;
      } catch (e) {
        const why = e instanceof MutascanError ? e.message : (e as Error).message;
        if (s.failure !== why) log(`cannot read ${s.path} now (${why}); the page shows what was read before`);
        s.failure = why;
        continue;
      }
      if (u) {
        const json = JSON.stringify(u);
        s.history.push({ seq: u.seq, json });
        s.historyBytes += json.length;
        while (s.history.length > HISTORY || (s.historyBytes > HISTORY_BYTES && s.history.length > 1)) s.historyBytes -= s.history.shift()!.json.length;
        send(s, 'update', json, u.seq);
      } else send(s, 'progress', JSON.stringify(s.watch.progress), s.watch.seq);
    }
  }
  /**
   * One event to every open stream of a store, encoded once: an update of a busy screen is hundreds of KiB, and
   * written as a string it would be encoded again for each of hundreds of viewers every second.
   */
  function send(s: Served, event: string, json: string, seq: number): void {
    const frame = Buffer.from(`event:${event}\ndata:${json}\nid:${seq}\n\n`);
    for (const res of s.streams.values()) if (!res.destroyed && !res.writableEnded) res.write(frame);
  }
  const timer = setInterval(poll, o.pollMs ?? 1000);

  try {
    await app.listen({ host, port: o.port ?? 8321 });
  } catch (e) {
    clearInterval(timer);
    for (const s of served) s.watch.store.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') fail(`port ${o.port ?? 8321} is in use`, `${host}:${o.port ?? 8321}`, 'choose another --port (or 0 for any free one)');
    if (err.code === 'EADDRNOTAVAIL') fail(`${host} is not an address of this machine`, '--host', 'give one of its addresses, or 0.0.0.0 for all');
    throw e;
  }
  const port = (app.server.address() as { port: number }).port;
  const shown = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shown}:${port}`;
  return {
    url: `${origin}/`,
    loginUrl: access.required ? `${origin}/login/${access.newLink()}` : undefined,
    viewers,
    dropped: () => dropped,
    pollNow: poll,
    async close() {
      clearInterval(timer);
      await app.close();
      for (const s of served) s.watch.store.close();
    },
  };
}

/** Whether a request's Host header names this machine's loopback interface (any port). */
function isLoopbackHostHeader(header: string | undefined): boolean {
  if (!header) return false;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header);
  if (!m) return false;
  return isLoopback(m[1] ?? m[2].toLowerCase());
}

function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('Content-Security-Policy', `${REPORT_CSP}; frame-ancestors 'none'`);
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('Cache-Control', 'no-store');
}

function indexHtml(served: Served[]): string {
  const rows = served
    .map((s, i) => {
      const p = s.watch.progress;
      const pct = p.total ? ((100 * p.done) / p.total).toFixed(1) : '0';
      return `<tr><td><a href="/s/${i}/">${escapeHtml(basename(s.path))}</a></td><td><code>${escapeHtml(s.path)}</code></td><td>${p.done.toLocaleString('en')} / ${p.total.toLocaleString('en')} (${pct} %)</td><td>${p.rate === null ? '' : p.rate.toFixed(1)}</td><td>${p.runs.filter((r) => r.alive).length}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<title>mutascan live</title>
<style>body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; } table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; }</style>
</head><body><h1>mutascan live</h1>
<table><thead><tr><th>store</th><th>path</th><th>done</th><th>mutants/s</th><th>live processes</th></tr></thead><tbody>
${rows}
</tbody></table><p>This list refreshes every 10 s; each store's page updates as its results arrive.</p></body></html>
`;
}
