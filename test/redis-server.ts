/** A real redis-server (Debian's) on 127.0.0.1 and a free port, for the scale-out tests and bench. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A server that is not wide open: an ACL user, and/or TLS with the test's own CA. */
export interface Secured {
  user?: { name: string; password: string };
  tls?: { cert: string; key: string; ca: string };
}

export class RedisServer {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly secured: Secured = {},
  ) {}

  static async start(secured: Secured = {}): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), secured);
    await r.startProcess();
    return r;
  }

  get url(): string {
    const u = this.secured.user;
    const auth = u ? `${encodeURIComponent(u.name)}:${encodeURIComponent(u.password)}@` : '';
    return `${this.secured.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  /** No persistence: a restart loses every queue, the hardest case for the coordinator. */
  async startProcess(): Promise<void> {
    const { user, tls } = this.secured;
    const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (tls) args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
    else args.push('--port', String(this.port));
    // the user gets every right; the default user is switched off, so nothing works without the password
    if (user) args.push('--user', user.name, 'on', `>${user.password}`, '~*', '&*', '+@all', '--user', 'default', 'off');
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    const client = new Redis({
      host: '127.0.0.1', port: this.port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1,
      username: user?.name, password: user?.password, tls: tls ? { ca: readFileSync(tls.ca) } : undefined,
    });
    client.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect().catch(() => {});
        if ((await client.ping()) === 'PONG') break;
      } catch {
        /* not up yet */
      }
      await sleep(100);
    }
    client.disconnect();
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }
}

/** A CA and a server certificate for 127.0.0.1, made with openssl in `dir` (for the TLS tests). */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n);
  const ssl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=mutascan test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}
