/**
 * npm run bench:report — building the report of the main job's store (the full element screen of
 * stories260K, 453,120 mutants) and opening its page in headless Chromium: build time, page size, time
 * until the page's maps are drawn, and time to redraw every map on a filter change. Printed, not asserted.
 * The store is the one `npm run demo` writes; without it the bench says so.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeReport } from '../src/report/report.js';
import { Store } from '../src/store/store.js';
import { launchChromium, openWatched } from '../test/browser.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STORE = process.argv[2] ?? join(ROOT, 'out', 'stories260K-element.sqlite');
if (!existsSync(STORE)) {
  console.error(`bench:report: no store at ${STORE} — run \`npm run demo\` first (it writes the main job's store), or pass a store path`);
  process.exit(1);
}
const out = mkdtempSync(join(tmpdir(), 'mutascan-bench-report-'));
try {
  const store = Store.open(STORE);
  const t0 = performance.now();
  const r = await writeReport(store, out);
  const build = (performance.now() - t0) / 1000;
  store.close();
  const html = join(out, 'index.html');
  console.log(`store: ${STORE} (${r.data.done.toLocaleString('en')} mutants, ${r.data.phenotypes.size} phenotypes)`);
  console.log(`report built in ${build.toFixed(1)} s: ${r.figures} figures (SVG + PNG), ${r.tables} tables; index.html ${(statSync(html).size / 1e6).toFixed(1)} MB`);

  const browser = await launchChromium();
  try {
    const t1 = performance.now();
    const w = await openWatched(browser, pathToFileURL(html).href);
    const ready = performance.now() - t1;
    const redraw = await w.page.evaluate(async () => {
      const sel = document.getElementById('f-kind') as HTMLSelectElement;
      const t = performance.now();
      sel.value = sel.options[1].value;
      sel.dispatchEvent(new Event('change'));
      return performance.now() - t;
    });
    const maps = await w.page.locator('canvas').count();
    console.log(`page in Chromium: maps drawn ${ready.toFixed(0)} ms after opening (${maps} canvas maps); redraw of every map on a filter change ${redraw.toFixed(0)} ms; console errors ${w.consoleErrors.length}, network requests ${w.network.length}`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
