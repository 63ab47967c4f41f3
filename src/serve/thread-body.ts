/** The live view's thread (see thread.ts): serves, and on 'close' sends the last results and stops. */
import { parentPort, workerData } from 'node:worker_threads';
import { serveStores, type ServeOptions } from './server.js';
import type { ThreadMessage } from './thread.js';

const post = (m: ThreadMessage) => parentPort!.postMessage(m);

try {
  const server = await serveStores({ ...(workerData as ServeOptions), log: (line) => post({ type: 'log', line }) });
  parentPort!.on('message', async (m) => {
    if (m !== 'close') return;
    server.pollNow();
    await new Promise((r) => setTimeout(r, 500));
    await server.close();
    post({ type: 'closed' });
    process.exit(0);
  });
  post({ type: 'ready', url: server.url, loginUrl: server.loginUrl });
} catch (e) {
  post({ type: 'error', message: (e as Error).message });
}
