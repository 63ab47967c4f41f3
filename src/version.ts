import { readFileSync } from 'node:fs';

/** This mutascan's version (package.json), written into stores and compared between coordinator and workers. */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
