/**
 * npm run check:estimate [screen.yaml] — how good `mutascan estimate` is: estimates a screen (by default the
 * main job), then runs the whole screen into a scratch store and prints predicted against measured duration and
 * store size, both with `--jobs auto`. Takes as long as the screen (under a minute for the main job).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { duration, bytes } from '../src/cli/estimate.js';
import { estimateScreen } from '../src/screen/estimate.js';
import { runScreen } from '../src/screen/runner.js';

const spec = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'stories260K-element.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-check-estimate-'));
try {
  const e = await estimateScreen({ specFile: spec, jobs: 'auto' });
  console.log(`estimate: ${duration(e.seconds)}, store ${bytes(e.storeBytes)} (${e.mutants} mutants, ${e.jobs} screening processes; the estimate itself took ${duration(e.setupSeconds)} of setup plus its samples)`);
  const store = join(tmp, 'screen.sqlite');
  const s = await runScreen({ specFile: spec, storePath: store, jobs: 'auto' });
  const size = statSync(store).size;
  console.log(`measured: ${duration(s.seconds)}, store ${bytes(size)} (${s.jobs ?? 1} screening processes)`);
  console.log(`estimate / measured: time ${(e.seconds / s.seconds).toFixed(3)}, store ${(e.storeBytes / size).toFixed(3)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
