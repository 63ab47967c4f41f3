import { fail, MutascanError } from '../errors.js';
import type { Backend } from './backend.js';
import { TsBackend } from './ts-backend.js';

export type BackendChoice = 'auto' | 'ts' | 'native';

export function parseBackendChoice(v: string | undefined, where: string): BackendChoice {
  const s = v ?? 'auto';
  if (s !== 'auto' && s !== 'ts' && s !== 'native') fail(`unknown backend "${s}"`, where, 'use auto, ts or native');
  return s;
}

/**
 * The backend to compute with: --backend, else MUTASCAN_BACKEND, else automatic (native when built).
 * Threads: --threads, else MUTASCAN_THREADS, else every core.
 */
export async function selectBackend(requested?: string, threads?: number): Promise<Backend> {
  const choice = requested
    ? parseBackendChoice(requested, '--backend')
    : parseBackendChoice(process.env.MUTASCAN_BACKEND || undefined, 'MUTASCAN_BACKEND');
  if (choice === 'ts') return new TsBackend();
  let native: Backend | undefined;
  let why = '';
  try {
    const mod = await import('./native-backend.js');
    native = mod.loadNativeBackend();
    if (threads) mod.loadAddon().setThreads(threads);
  } catch (e) {
    // a setting that names nothing is the user's to fix, not a reason to change backends
    if (e instanceof MutascanError) throw e;
    why = (e as Error).message;
    if (why.startsWith('MUTASCAN_ISA=')) fail(why, 'the environment', 'unset it to run at this CPU\'s own level');
  }
  if (native) return native;
  if (choice === 'native') fail(`the native backend is not available: ${why}`, undefined, 'build it with `npm run build:native` (needs libopenblas-dev and libdnnl-dev)');
  process.stderr.write(`mutascan: native backend unavailable (${why}); using the TypeScript backend. Build it with \`npm run build:native\`.\n`);
  return new TsBackend();
}
