import { renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail } from '../errors.js';

/** Free bytes on the file system that holds `path` (a file or folder to be written), or undefined if unknown. */
export function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(dirname(path));
    return s.bavail * s.bsize;
  } catch {
    return undefined; // the folder itself may be gone
  }
}

export const mib = (b: number): string => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0)} MiB`;

/** Why a file could not be written, in words, for errors of the file system (a full disk above all). */
export function outputFailure(e: unknown, path: string, what: string, again: string, verb = 'write'): never {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    const bytes = freeBytes(path);
    const free = bytes === undefined ? '' : ` (${mib(bytes)} free)`;
    const why = code === 'EDQUOT' ? 'the disk quota is used up' : code === 'EFBIG' ? 'the file is larger than this process may write' : 'the disk is full';
    fail(`cannot ${verb} the ${what}: ${why}${free}; nothing half-written was left behind`, path, `free some space (or choose another folder) and ${again}`);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') fail(`cannot ${verb} the ${what}: the folder is not writable (${code})`, path, `choose a folder you can write to, then ${again}`);
  fail(`cannot ${verb} the ${what}: ${(e as Error).message}`, path, again);
}

/** Writes a whole file or nothing: a full disk leaves no truncated file that looks complete. */
export function writeWhole(path: string, data: string | Uint8Array, what: string, again: string): void {
  const part = `${path}.part`;
  try {
    writeFileSync(part, data);
    renameSync(part, path);
  } catch (e) {
    rmSync(part, { force: true });
    outputFailure(e, path, what, again);
  }
}
