/** A real redis-server (Debian's) on 127.0.0.1 and a free port, for the scale-out tests and bench. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
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

export class RedisServer {
  private child?: ChildProcess;
  constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.startProcess();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** No persistence: a restart loses every queue, the hardest case for the coordinator. */
  async startProcess(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const client = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
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
