/**
 * The Redis side of scale-out: where to connect, and the screens a coordinator publishes for its workers.
 * Jobs themselves are BullMQ's; what is here is only the screen's description, so that a worker started with
 * nothing but the queue's address can find what to run.
 */
import { Redis } from 'ioredis';
import { fail } from '../errors.js';

export interface RedisAddress {
  host: string;
  port: number;
  password?: string;
  db?: number;
}

/** redis://[:password@]host[:port][/db] */
export function parseRedisUrl(url: string): RedisAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail(`"${url}" is not a Redis address`, '--queue', 'give redis://HOST:PORT, e.g. redis://127.0.0.1:6379');
  }
  if (u.protocol !== 'redis:') fail(`"${url}" is not a redis:// address`, '--queue', 'give redis://HOST:PORT, e.g. redis://127.0.0.1:6379');
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) fail(`"${url}": the database number must be a whole number`, '--queue');
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379, password: u.password ? decodeURIComponent(u.password) : undefined, db };
}

/** BullMQ's connection options: commands wait across reconnects instead of failing (maxRetriesPerRequest null). */
export function connectionOptions(a: RedisAddress): Record<string, unknown> {
  return { host: a.host, port: a.port, password: a.password, db: a.db, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 + times * 200, 2000) };
}

/** A client for the screen registry; the first connection must succeed within `timeoutMs`, later ones retry. */
export async function connect(url: string, timeoutMs = 10_000): Promise<Redis> {
  const a = parseRedisUrl(url);
  const client = new Redis({ ...connectionOptions(a), lazyConnect: true } as never);
  client.on('error', () => {}); // reconnects are handled by ioredis; failures surface as command errors
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs));
  try {
    await Promise.race([client.connect(), timer]);
    await Promise.race([client.ping(), timer]);
  } catch (e) {
    client.disconnect();
    fail(`cannot reach Redis at ${a.host}:${a.port} (${(e as Error).message})`, '--queue', 'start redis-server there, or check the address and that its port is open');
  }
  return client;
}

/** What a worker needs to run a screen's batches, published by its coordinator. */
export interface PublishedScreen {
  id: string;
  queue: string;
  specYaml: string;
  /** the screen file's path on the coordinator's machine (relative paths in it are resolved from there) */
  specFile: string;
  modelFingerprint: string;
  backend: string;
  plain: boolean;
  /** per assay, the unmutated model's output ids, which every worker must reproduce */
  baselines: number[][];
}

const SCREENS = 'mutascan:screens';
const key = (id: string) => `mutascan:screen:${id}`;

export async function publishScreen(r: Redis, s: PublishedScreen): Promise<void> {
  await r.set(key(s.id), JSON.stringify(s));
  await r.sadd(SCREENS, s.id);
}

export async function withdrawScreen(r: Redis, id: string): Promise<void> {
  await r.srem(SCREENS, id);
  await r.del(key(id));
}

export async function publishedScreens(r: Redis): Promise<PublishedScreen[]> {
  const ids = await r.smembers(SCREENS);
  const out: PublishedScreen[] = [];
  for (const id of ids.sort()) {
    const raw = await r.get(key(id));
    if (raw) out.push(JSON.parse(raw) as PublishedScreen);
  }
  return out;
}
