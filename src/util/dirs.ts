import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p, one level at a time. Node 20's `mkdirSync(path, { recursive: true })` never returns for some
 * paths it cannot create (under /proc it loops forever); a plain mkdir of each missing level fails at once
 * with an error that says why.
 */
export function makeDirs(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const dir of missing.reverse()) mkdirSync(dir);
}
