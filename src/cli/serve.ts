import type { Command } from 'commander';
import { serve, serveToken } from '../index.js';
import { InvalidArgumentError } from 'commander';
import { int } from './options.js';

export const DEFAULT_PORT = 8321;

export function port(name: string) {
  return (v: string): number => {
    const n = int(name, 0)(v);
    if (n > 65535) throw new InvalidArgumentError(`${name}: a port is at most 65535, got "${v}".`);
    return n;
  };
}

/** Says where the live view is (and, with a token, the one-time link a browser logs in with). */
export function announce(server: { url: string; loginUrl?: string }, write: (line: string) => void): void {
  write(`mutascan: live view at ${server.url}\n`);
  if (server.loginUrl) write(`mutascan: one-time login link (opens it in one browser, once): ${server.loginUrl}\n`);
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the report page, live, while runs write the stores (read-only; loopback only unless given a token)')
    .argument('<stores...>', 'SQLite stores to serve (each at /s/N/, listed at /)')
    .option('--port <n>', `port (0: any free one)`, port('--port'), DEFAULT_PORT)
    .option('--host <address>', 'address to listen on; anything but loopback needs --token or --token-file', '127.0.0.1')
    .option('--token <token>', 'the token viewers must present (visible to other users in `ps`: prefer --token-file)')
    .option('--token-file <file>', 'file whose first line is the token')
    .option('--max-viewers <n>', 'open live pages at most, over all stores', int('--max-viewers', 1), 256)
    .option('--rate-limit <n>', 'requests per minute from one client address (0: no limit, for a proxy in front that limits)', int('--rate-limit', 0), 600)
    .action(async (stores: string[], o: { port: number; host: string; token?: string; tokenFile?: string; maxViewers: number; rateLimit: number }) => {
      const server = await serve({
        stores,
        host: o.host,
        port: o.port,
        token: serveToken(o),
        maxViewers: o.maxViewers,
        rateLimit: o.rateLimit,
        log: (line) => process.stderr.write(`mutascan: ${line}\n`),
      });
      announce(server, (line) => process.stdout.write(line));
      process.stderr.write(`mutascan: serving ${stores.length} store${stores.length > 1 ? 's' : ''} read-only; Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
