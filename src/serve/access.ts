/**
 * Who may see a served store. On the loopback interface anyone on the machine may (as with a file in /tmp);
 * on any other address a token is required: sent by scripts as `Authorization: Bearer …`, or traded once by a
 * browser for a session cookie through a one-time link, so that the token itself never sits in a URL, a
 * browser history or a proxy's log.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fail } from '../errors.js';

export const SESSION_COOKIE = 'mutascan_session';
const MIN_TOKEN = 16;
/** sessions kept at most (the oldest is dropped first) */
const MAX_SESSIONS = 1000;
/** one-time links not yet used, at most */
const MAX_LINKS = 100;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** The token from --token or --token-file (a file's first line); checked for length. */
export function readToken(o: { token?: string; tokenFile?: string }): string | undefined {
  if (o.token && o.tokenFile) fail('--token and --token-file are two ways of giving one token', '--token', 'give one of them');
  let token = o.token;
  if (o.tokenFile) {
    try {
      token = readFileSync(o.tokenFile, 'utf8').split('\n')[0].trim();
    } catch (e) {
      fail(`cannot read the token file: ${(e as Error).message}`, o.tokenFile, 'give --token-file a file holding the token on its first line');
    }
  }
  if (token !== undefined && token.length < MIN_TOKEN)
    fail(`the token is too short (${token.length} characters; at least ${MIN_TOKEN})`, o.tokenFile ?? '--token', 'make one with: openssl rand -hex 24');
  return token;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class Access {
  private readonly sessions = new Set<string>();
  private readonly links = new Set<string>();
  private readonly tokenDigest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  get required(): boolean {
    return this.tokenDigest !== undefined;
  }

  /** Compared by digest in constant time, so a wrong guess learns nothing from how long the answer took. */
  private tokenMatches(given: string): boolean {
    return this.tokenDigest !== undefined && timingSafeEqual(digest(given), this.tokenDigest);
  }

  allows(authorization: string | undefined, session: string | undefined): boolean {
    if (!this.required) return true;
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (bearer && this.tokenMatches(bearer[1])) return true;
    return session !== undefined && this.sessions.has(session);
  }

  /** Whether the request carries the token itself (only that may mint a new one-time link). */
  hasToken(authorization: string | undefined): boolean {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    return bearer !== null && this.tokenMatches(bearer[1]);
  }

  /** A new one-time link code. */
  newLink(): string {
    const code = randomBytes(24).toString('hex');
    if (this.links.size >= MAX_LINKS) this.links.delete(this.links.values().next().value!);
    this.links.add(code);
    return code;
  }

  /** Uses up a link code; returns the new session's id, or null for a code that is unknown or used. */
  redeem(code: string): string | null {
    if (!this.links.delete(code)) return null;
    const session = randomBytes(32).toString('hex');
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.values().next().value!);
    this.sessions.add(session);
    return session;
  }
}
