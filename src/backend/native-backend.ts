import type { Backend } from './backend.js';

/** Placeholder until the native addon lands: reports that it is not built. */
export function loadNativeBackend(): Backend | undefined {
  throw new Error('the addon is not built yet');
}
