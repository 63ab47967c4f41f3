/**
 * The live view beside a run (`mutascan run --serve`), on its own thread: the run's main thread is busy for
 * long stretches (it evaluates and stores results), and a server on it would answer only between them.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { MutascanError } from '../errors.js';
import type { ServeOptions } from './server.js';

export interface ServeThread {
  url: string;
  loginUrl?: string;
  /** sends the store's last results to open pages, then stops the server */
  close(): Promise<void>;
}

export type ThreadMessage = { type: 'ready'; url: string; loginUrl?: string } | { type: 'error'; message: string } | { type: 'log'; line: string } | { type: 'closed' };

export function serveInThread(o: Omit<ServeOptions, 'log'>, log: (line: string) => void): Promise<ServeThread> {
  const self = fileURLToPath(import.meta.url);
  const body = self.replace(/thread\.(ts|js)$/, 'thread-body.$1');
  const worker = new Worker(body, { workerData: o, execArgv: body.endsWith('.ts') ? ['--import', 'tsx'] : [] });
  return new Promise((resolve, reject) => {
    let closed: (() => void) | undefined;
    worker.on('message', (m: ThreadMessage) => {
      if (m.type === 'log') log(m.line);
      else if (m.type === 'error') reject(new MutascanError(m.message));
      else if (m.type === 'closed') closed?.();
      else
        resolve({
          url: m.url,
          loginUrl: m.loginUrl,
          close: () =>
            new Promise<void>((done) => {
              closed = done;
              worker.once('exit', () => done());
              worker.postMessage('close');
            }),
        });
    });
    worker.on('error', (e) => reject(e));
  });
}
