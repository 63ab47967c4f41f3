/**
 * The Redis side of scale-out: where to connect, and the screens a coordinator publishes for its workers.
 * Jobs themselves are BullMQ's; what is here is only the screen's description, so that a worker started with
 * nothing but the queue's address can find what to run.
 */
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { fail, MutascanError } from '../errors.js';
import { parsePublishedScreen, type PublishedScreen } from './payloads.js';

export interface RedisAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  /** rediss:// addresses: TLS, verified against the system's CAs or the one given */
  tls?: { ca?: Buffer };
}

/** The address with its password replaced, for anything printed or logged. */
export function maskRedisUrl(url: string): string {
  return url.replace(/(\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

const FORM = 'give redis://[user:password@]HOST:PORT[/db], or rediss://… for TLS';

/** redis://[user:password@]host[:port][/db] or rediss://… (TLS); `ca`: a PEM file of the CA that signed the server's certificate. */
export function parseRedisUrl(url: string, o: { ca?: string } = {}): RedisAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail(`"${maskRedisUrl(url)}" is not a Redis address`, '--queue', FORM);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') fail(`"${maskRedisUrl(url)}" is not a redis:// or rediss:// address`, '--queue', FORM);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) fail(`"${maskRedisUrl(url)}": the database number must be a whole number`, '--queue');
  const secure = u.protocol === 'rediss:';
  if (o.ca && !secure) fail('--redis-ca is for TLS connections', '--redis-ca', 'use a rediss:// address, or drop --redis-ca');
  let ca: Buffer | undefined;
  if (o.ca) {
    try {
      ca = readFileSync(o.ca);
    } catch (e) {
      fail(`cannot read the CA certificate (${(e as Error).message})`, o.ca, 'give --redis-ca the PEM file of the CA that signed the Redis server\'s certificate');
    }
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: secure ? { ca } : undefined,
  };
}

/** BullMQ's connection options: commands wait across reconnects instead of failing (maxRetriesPerRequest null). */
export function connectionOptions(a: RedisAddress): Record<string, unknown> {
  return {
    host: a.host, port: a.port, username: a.username, password: a.password, db: a.db, tls: a.tls,
    maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 + times * 200, 2000),
  };
}

/** What to do about a failed first connection, from the error's words. */
function connectHint(message: string, a: RedisAddress): string {
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message)) return 'check the user name and password in the address (redis://user:password@HOST:PORT); they are never printed';
  if (/certificate|self[- ]signed|unable to verify/i.test(message)) return "give --redis-ca the PEM file of the CA that signed the server's certificate (and check that the host name is one the certificate names)";
  if (a.tls && /socket disconnected|ECONNRESET|wrong version number|timed out/i.test(message)) return 'is the server speaking TLS on that port? use redis:// for a server without TLS';
  if (!a.tls && /timed out|ECONNRESET/i.test(message)) return 'if the server speaks TLS, use a rediss:// address (with --redis-ca for a private CA)';
  return 'start redis-server there, or check the address and that its port is open';
}

/** A client for the screen registry; the first connection must succeed within `timeoutMs`, later ones retry. */
export async function connect(a: RedisAddress, timeoutMs = 10_000): Promise<Redis> {
  let lastError = '';
  const client = new Redis({ ...connectionOptions(a), lazyConnect: true, retryStrategy: (times: number) => (times > 3 ? null : 300) } as never);
  client.on('error', (e: Error) => (lastError = e.message)); // reconnects are handled by ioredis; failures surface as command errors
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(lastError ? `timed out; last error: ${lastError}` : 'timed out')), timeoutMs)));
  try {
    await Promise.race([client.connect(), timeout]);
    await Promise.race([client.ping(), timeout]);
  } catch (e) {
    client.disconnect();
    // ioredis rejects with "Connection is closed." when the server refused it: the reason came as an error event
    const message = lastError && /closed/i.test((e as Error).message) ? lastError : (e as Error).message;
    fail(`cannot reach Redis at ${a.tls ? 'rediss' : 'redis'}://${a.host}:${a.port} (${message})`, '--queue', connectHint(`${message} ${lastError}`, a));
  } finally {
    clearTimeout(timer);
  }
  // from here on the connection is known to work: lost connections are retried for as long as it takes
  client.options.retryStrategy = connectionOptions(a).retryStrategy as never;
  return client;
}

export type { PublishedScreen } from './payloads.js';

const SCREENS = 'mutascan:screens';
const key = (id: string) => `mutascan:screen:${id}`;

export async function publishScreen(r: Redis, s: PublishedScreen): Promise<void> {
  await r.set(key(s.id), JSON.stringify(s));
  await r.sadd(SCREENS, s.id);
}

export async function withdrawScreen(r: Redis, id: string): Promise<void> {
  await r.srem(SCREENS, id);
  await r.del(key(id), refusalsKey(id));
}

const refusalsKey = (id: string) => `mutascan:screen:${id}:refusals`;

/** A worker that will not run a screen says so where the coordinator reads it (field: the worker; value: why). */
export async function reportRefusal(r: Redis, id: string, worker: string, why: string): Promise<void> {
  await r.hset(refusalsKey(id), worker, why);
}

export async function refusals(r: Redis, id: string): Promise<Record<string, string>> {
  return r.hgetall(refusalsKey(id));
}

/** A screen on the queue that cannot be read: the worker refuses it, saying why. */
export interface UnreadableScreen {
  id: string;
  unreadable: string;
}

export async function publishedScreens(r: Redis): Promise<(PublishedScreen | UnreadableScreen)[]> {
  const ids = await r.smembers(SCREENS);
  const out: (PublishedScreen | UnreadableScreen)[] = [];
  for (const id of ids.sort()) {
    const raw = await r.get(key(id));
    if (!raw) continue;
    try {
      out.push(parsePublishedScreen(raw, id));
    } catch (e) {
      if (!(e instanceof MutascanError)) throw e;
      out.push({ id, unreadable: e.message });
    }
  }
  return out;
}
