/**
 * `mutascan report` on stores holding run.c's answers (test/runc-store.ts): the figures' counts and
 * statistics against run.c's screen, the page in a real Chromium (hover, click, pixels, no network, no
 * console error), and model text that tries to become markup.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { decode } from 'fast-png';
import { parse } from 'csv-parse/sync';
import type { Browser } from 'playwright-core';
import { loadReportData } from '../src/report/data.js';
import { mapPixels } from '../src/report/figures.js';
import { COLOURS } from '../src/report/colour.js';
import { Store } from '../src/store/store.js';
import { launchChromium, openWatched } from './browser.js';
import { loadFixtureScreen } from './fixture-compare.js';
import { EXPECTED, expectCleanError, ROOT, runCli, tempDir, STORIES_BIN, STORIES_TOK } from './helpers.js';
import { storeFromRunc } from './runc-store.js';

function readCsv(file: string): Record<string, string>[] {
  // The report's tables hold no quoted commas in these columns; a plain split is enough to read them back.
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}

const tmp = tempDir('report');
let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  tmp.remove();
});

describe("report of run.c's element screen (453,120 mutants)", () => {
  const store = join(tmp.path, 's1.sqlite');
  const out = join(tmp.path, 's1-report');
  const fixture = join(EXPECTED, 'screen-once-greedy-s1.jsonl.gz');
  let predicted: string;
  before(async () => {
    await storeFromRunc(fixture, join(ROOT, 'examples', 'stories260K-element.yaml'), store);
    const p = runCli(['predict', join(ROOT, 'examples', 'stories260K-element.yaml'), '--store', store]);
    assert.equal(p.status, 0, p.stderr);
    predicted = p.stdout;
    const r = runCli(['report', store, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('predict: the first-order predicted margins rank run.c\'s NSMs with AUROC ≥ 0.95, and the top 10 % hold ≥ 90 % of them', () => {
    assert.match(predicted, /453,120 mutants predicted from 44 steps/);
    assert.match(predicted, /against the 453,120 screened mutants \(25,067 NSMs\)/);
    const m = /AUROC ([\d.]+), recall of NSMs in the top 10\.0 %: ([\d.]+) %/.exec(predicted)!;
    assert.ok(Number(m[1]) >= 0.95, `AUROC ${m[1]}`);
    assert.ok(Number(m[2]) >= 90, `recall ${m[2]} %`);
  });

  it('the report puts predictions against outcomes: per-matrix AUROC as a direct pairwise count gives it, and the section on the page', async () => {
    const rows = readCsv(join(out, 'tables', 'predictions.csv'));
    assert.equal(rows.length, 36, 'all, and each of the 35 matrices');
    const db = new Database(store, { readonly: true });
    try {
      for (const target of ['1.o', '0.v', '4.k']) {
        // every (NSM, silent) pair: 1 when the NSM's predicted margin is lower, ½ when equal
        const got = db
          .prepare('SELECT p.predicted_margin AS m, r.silent AS s FROM predictions p JOIN results r USING (mutant_id, assay_id) JOIN mutants mu ON mu.id = p.mutant_id JOIN targets t ON t.id = mu.target_id WHERE t.short = ?')
          .all(target) as { m: number; s: number }[];
        const nsm = got.filter((x) => !x.s).map((x) => x.m);
        const silent = got.filter((x) => x.s).map((x) => x.m);
        let wins = 0;
        for (const a of nsm) for (const b of silent) wins += a < b ? 1 : a === b ? 0.5 : 0;
        const row = rows.find((r) => r.target === target)!;
        assert.equal(Number(row.nsm), nsm.length, target);
        assert.ok(Math.abs(Number(row.auroc) - wins / (nsm.length * silent.length)) < 1e-9, `${target}: ${row.auroc} vs ${wins / (nsm.length * silent.length)}`);
      }
    } finally {
      db.close();
    }
    for (const f of ['gain-once', 'predicted-once']) assert.match(readFileSync(join(out, 'figures', `${f}.svg`), 'utf8'), /^<svg/, f);
    const w = await openWatched(browser, pathToFileURL(join(out, 'index.html')).href);
    const section = w.page.locator('#prediction-section');
    assert.equal(await section.locator('h2').textContent(), 'Predicted against observed');
    assert.equal(await section.locator('tbody tr').count(), 36);
    assert.equal(await section.locator('figure img').count(), 2);
    assert.ok(await section.locator('figure img').first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 100));
    assert.deepEqual(w.consoleErrors, []);
    assert.deepEqual(w.pageErrors, []);
    await w.page.close();
  });

  it("counts NSMs and phenotypes as run.c's screen has them", () => {
    const fx = loadFixtureScreen(fixture);
    const nsm = fx.mutants.filter((m) => !m.silent);
    const phenotypes = new Set(nsm.map((m) => JSON.stringify(m.ids)));
    const all = readCsv(join(out, 'tables', 'summary.csv')).find((r) => r.matrix === 'all')!;
    assert.equal(Number(all.mutants), fx.mutants.length);
    assert.equal(Number(all.nsm), nsm.length);
    assert.equal(Number(all.phenotypes), phenotypes.size);
    for (const m of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) {
      const row = readCsv(join(out, 'tables', 'summary.csv')).find((r) => r.matrix === m)!;
      assert.equal(Number(row.nsm), nsm.filter((x) => x.target.split('.')[1] === m).length, m);
    }
  });

  it('enrichment flags rows of q, k, gate, up and columns of v, o, down, and the maps show those lines', () => {
    // What run.c's screen shows (measured on this fixture): per matrix type, more rows than columns enriched
    // in q/k/gate/up and the other way in v/o/down; in every one of the 35 matrices a line along that axis
    // with p < 1e-10; and that line is lit on the map (all its units, or at least 30 % of them and 3× the matrix's rate).
    const rows = readCsv(join(out, 'tables', 'enrichment.csv')).filter((r) => Number(r.q) < 0.05);
    const s = Store.open(store);
    const data = loadReportData(s);
    s.close();
    const expectAxis: Record<string, 'row' | 'col'> = { q: 'row', k: 'row', gate: 'row', up: 'row', v: 'col', o: 'col', down: 'col' };
    const pooled = new Map<string, { along: number; across: number }>();
    let checked = 0;
    data.targets.forEach((t, ti) => {
      const axis = expectAxis[t.matrix];
      if (!axis) return;
      const mine = rows.filter((r) => r.target === t.short);
      const along = mine.filter((r) => r.axis === axis).sort((a, b) => Number(a.p) - Number(b.p));
      const c = pooled.get(t.matrix) ?? { along: 0, across: 0 };
      c.along += along.length;
      c.across += mine.length - along.length;
      pooled.set(t.matrix, c);
      assert.ok(along.length > 0 && Number(along[0].p) < 1e-10, `${t.short}: no ${axis} enriched with p < 1e-10`);
      const px = mapPixels(data, 0, ti);
      const isLit = (at: number) => [...px.rgb.subarray(at * 3, at * 3 + 3)].join() !== COLOURS.silent.join();
      let all = 0;
      for (let j = 0; j < px.width * px.height; j++) if (isLit(j)) all++;
      const i = Number(along[0].index);
      const n = axis === 'row' ? px.width : px.height;
      let lit = 0;
      for (let j = 0; j < n; j++) if (isLit(axis === 'row' ? i * px.width + j : j * px.width + i)) lit++;
      const rate = all / (px.width * px.height);
      assert.ok(lit === n || (lit / n >= 0.3 && lit / n >= 3 * rate), `${t.short} ${axis} ${i}: ${lit} of ${n} units lit on the map, matrix rate ${rate.toFixed(3)}`);
      checked++;
    });
    assert.equal(checked, 35);
    // Printed so the figures can be quoted: enriched lines along the expected axis vs across it, per type.
    console.log(`enriched lines (along / across) per matrix type: ${[...pooled].map(([m, c]) => `${m} ${c.along}/${c.across}`).join(', ')}`);
    for (const [m, c] of pooled) assert.ok(c.along > c.across, `${m}: ${c.along} enriched ${expectAxis[m]}s vs ${c.across} the other way`);
  });

  it('writes SVG and PNG for every figure and CSV for every table', () => {
    for (const t of ['summary', 'layers', 'complementarity', 'enrichment', 'words', 'word-mutants']) assert.ok(existsSync(join(out, 'tables', `${t}.csv`)), t);
    for (const f of ['summary', 'layers-once', 'complementarity-once', 'enrichment-once', 'words-first-once', 'map-once-0.q', 'map-sorted-once-3.gate']) {
      assert.match(readFileSync(join(out, 'figures', `${f}.svg`), 'utf8'), /^<svg/, f);
      const png = decode(readFileSync(join(out, 'figures', `${f}.png`)));
      assert.ok(png.width > 100 && png.height > 100, f);
    }
  });

  it('the page: loads from file:// with no network and no console error; hover, click and pixels', async () => {
    const url = pathToFileURL(join(out, 'index.html')).href;
    const w = await openWatched(browser, url);
    const { page } = w;
    const s = Store.open(store);
    const db = s.db;
    // A unit of 2.gate that is an NSM under max only, and one silent under both kinds.
    const pick = (where: string) =>
      db.prepare(
        `SELECT mx.row, mx.col, rx.phenotype_id AS pid FROM mutants mx JOIN mutants mn ON mn.target_id = mx.target_id AND mn.row = mx.row AND mn.col = mx.col AND mn.kind = 'min'
         JOIN results rx ON rx.mutant_id = mx.id JOIN results rn ON rn.mutant_id = mn.id JOIN targets t ON t.id = mx.target_id
         WHERE t.short = '2.gate' AND mx.kind = 'max' AND ${where} ORDER BY mx.id LIMIT 1`,
      ).get() as { row: number; col: number; pid: number | null };
    const nsm = pick('rx.silent = 0 AND rn.silent = 1');
    const silent = pick('rx.silent = 1 AND rn.silent = 1');
    const ph = db.prepare('SELECT text, diverge_at, diverge_end FROM phenotypes WHERE id = ?').get(nsm.pid) as { text: string; diverge_at: number; diverge_end: number };
    s.close();

    const canvas = page.locator('canvas[data-target="2.gate"]');
    const pixel = (row: number, col: number) => canvas.evaluate((c: HTMLCanvasElement, [r, k]) => [...c.getContext('2d')!.getImageData(k, r, 1, 1).data].slice(0, 3), [row, col]);
    assert.deepEqual(await pixel(nsm.row, nsm.col), [...COLOURS.max], 'NSM under max only is red');
    assert.deepEqual(await pixel(silent.row, silent.col), [...COLOURS.silent], 'silent unit is white');

    const box = (await canvas.boundingBox())!;
    const at = (row: number, col: number) => ({ x: box.x + ((col + 0.5) * box.width) / 64, y: box.y + ((row + 0.5) * box.height) / 172 });
    await canvas.scrollIntoViewIfNeeded();
    const b2 = (await canvas.boundingBox())!;
    Object.assign(box, b2);
    const p = at(nsm.row, nsm.col);
    await page.mouse.move(p.x, p.y);
    const tip = await page.locator('#tooltip').textContent();
    assert.ok(tip!.includes(`2.gate:${nsm.row},${nsm.col}+1x1:max → phenotype ${nsm.pid}`), tip!);
    assert.ok(tip!.includes(`2.gate:${nsm.row},${nsm.col}+1x1:min → silent`), tip!);
    await page.mouse.click(p.x, p.y);
    assert.equal(await page.locator('#pheno-text').textContent(), ph.text);
    assert.equal(await page.locator('#pheno-text mark').textContent(), ph.text.slice(ph.diverge_at, ph.diverge_end) || '∅');

    // Filters: min only turns the unit white (silent under min); layer 3 hides layer 2's maps.
    await page.selectOption('#f-kind', 'min');
    assert.deepEqual(await pixel(nsm.row, nsm.col), [...COLOURS.silent]);
    await page.selectOption('#f-layer', '3');
    assert.equal(await canvas.isVisible(), false);
    assert.equal(await page.locator('canvas[data-target="3.gate"]').isVisible(), true);

    assert.deepEqual(w.consoleErrors, []);
    assert.deepEqual(w.pageErrors, []);
    assert.deepEqual(w.network, []);
    await page.close();
  });
});

describe("phenotypes of run.c's element screen", () => {
  const store = join(tmp.path, 's1.sqlite');
  const out = join(tmp.path, 's1-report');

  it('every family and its coordinates agree with a direct count from the store; the clusters and layout are the same on every run', () => {
    const a = runCli(['phenotypes', store, '--format', 'json']);
    assert.equal(a.status, 0, a.stderr);
    const b = runCli(['phenotypes', store, '--format', 'json']);
    assert.equal(b.stdout, a.stdout, 'the same clusters and layout on a second run');
    const [once] = JSON.parse(a.stdout) as { assay: string; clusters: number; families: { id: number; mutants: number; cluster: number; x: number; y: number; similarity: number; targets: { target: string; mutants: number }[] }[] }[];
    const db = new Database(store, { readonly: true });
    try {
      const counts = new Map((db.prepare('SELECT phenotype_id AS id, count(*) AS n FROM results WHERE phenotype_id IS NOT NULL GROUP BY phenotype_id').all() as { id: number; n: number }[]).map((r) => [r.id, r.n]));
      assert.equal(once.families.length, counts.size);
      for (const f of once.families) assert.equal(f.mutants, counts.get(f.id), `phenotype ${f.id}`);
      const sizes = once.families.map((f) => f.mutants);
      assert.deepEqual(sizes, [...sizes].sort((x, y) => y - x), 'largest families first');
      const where = db.prepare('SELECT t.short AS target, count(*) AS n FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN targets t ON t.id = m.target_id WHERE r.phenotype_id = ? GROUP BY t.id ORDER BY n DESC, t.id');
      for (const f of once.families.slice(0, 25)) assert.deepEqual(f.targets.map((t) => [t.target, t.mutants]), (where.all(f.id) as { target: string; n: number }[]).map((r) => [r.target, r.n]));
      assert.ok(once.clusters >= 2);
      for (const f of once.families) assert.ok(Number.isInteger(f.cluster) && Number.isFinite(f.x) && Number.isFinite(f.y) && f.similarity > 0 && f.similarity <= 1 + 1e-6, JSON.stringify(f));
      // the report's families.csv: every mutant of the 20 largest families, with its coordinates, in plan order
      const rows = parse(readFileSync(join(out, 'tables', 'families.csv')), { columns: true }) as Record<string, string>[];
      const top = once.families.slice(0, 20).map((f) => f.id);
      const direct = db.prepare('SELECT m.row, m.col, m.kind, t.short AS target FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN targets t ON t.id = m.target_id WHERE r.phenotype_id = ? ORDER BY m.id');
      for (const id of top)
        assert.deepEqual(
          rows.filter((r) => Number(r.phenotype) === id).map((r) => [r.target, Number(r.row), Number(r.col), r.kind]),
          (direct.all(id) as { row: number; col: number; kind: string; target: string }[]).map((r) => [r.target, r.row, r.col, r.kind]),
          `family of phenotype ${id}`,
        );
      assert.deepEqual([...new Set(rows.map((r) => Number(r.phenotype)))], top);
    } finally {
      db.close();
    }
    for (const f of ['phenotypes-once']) {
      assert.match(readFileSync(join(out, 'figures', `${f}.svg`), 'utf8'), /^<svg/, f);
      assert.ok(decode(readFileSync(join(out, 'figures', `${f}.png`))).width > 100, f);
    }
    for (const t of ['phenotypes', 'style-enrichment', 'families']) assert.ok(existsSync(join(out, 'tables', `${t}.csv`)), t);
  });

  it('the Phenotypes section in Chromium: hover shows the text, colour by style, maps by style; no console error, no request', async () => {
    const w = await openWatched(browser, pathToFileURL(join(out, 'index.html')).href);
    const { page } = w;
    const circles = page.locator('#p-layout circle');
    assert.ok((await circles.count()) > 100);
    // the last circle drawn is on top of any other, so the mouse reaches it
    const id = Number(await circles.last().getAttribute('data-phenotype'));
    const db = new Database(store, { readonly: true });
    const largest = { id, n: db.prepare('SELECT count(*) FROM results WHERE phenotype_id = ?').pluck().get(id) as number };
    const text = db.prepare('SELECT text FROM phenotypes WHERE id = ?').pluck().get(id) as string;
    db.close();
    const dot = page.locator(`#p-layout circle[data-phenotype="${id}"]`);
    await dot.scrollIntoViewIfNeeded();
    const before = await dot.getAttribute('fill');
    const b = (await dot.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
    const tip = (await page.locator('#tooltip').textContent())!;
    assert.ok(tip.startsWith(`phenotype ${largest.id} · ${largest.n} mutants · cluster `), tip);
    assert.ok(tip.includes(text.slice(0, 200)), tip);
    // greedy stories keep the baseline's plain prose: no phenotype of this screen is "repetitive", so all turn grey
    await page.selectOption('#p-colour', 'repetitive');
    assert.notEqual(before, '#c7c7c7');
    assert.equal(await dot.getAttribute('fill'), '#c7c7c7');
    assert.equal(await page.locator('#p-legend').textContent(), 'repetitivenot repetitive');
    await page.selectOption('#p-colour', 'cluster');
    assert.equal(await dot.getAttribute('fill'), before);
    // maps by style: with a style no output has, every NSM unit is dimmed, silent ones stay white
    const canvas = page.locator('canvas[data-target="2.gate"]');
    const lit = () => canvas.evaluate((c: HTMLCanvasElement) => { const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) if (!(d[i] === 222 && d[i + 1] === 222 && d[i + 2] === 236)) n++; return n; });
    assert.ok((await lit()) > 0);
    await page.selectOption('#f-style', 'repetitive');
    assert.equal(await lit(), 0);
    assert.equal(await page.locator('#style-key').isVisible(), true);
    assert.deepEqual(w.consoleErrors, []);
    assert.deepEqual(w.pageErrors, []);
    assert.deepEqual(w.network, []);
    await page.close();
  });

  it('bad input to phenotypes: an unknown assay, a bad format; without the model, styles only and a note', () => {
    expectCleanError(runCli(['phenotypes', store, '--assay', 'nope']), /no generate assay "nope" in the store .*its generate assays: once/);
    expectCleanError(runCli(['phenotypes', store, '--format', 'xml']), /unknown format "xml"/);
    const r = runCli(['phenotypes', store, '--model', join(tmp.path, 'missing.bin')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /note: assay "once": the screen's model could not be loaded .*pass --model/);
    const [head, first] = r.stdout.split('\n');
    assert.equal(head, 'assay,phenotype,mutants,styles,like_baseline,cluster,similarity,x,y,divergent_word,baseline_word,targets,layers,n_tokens,excerpt');
    assert.match(first, /^once,\d+,\d+,,true,,,,,/);
  });
});

describe('model text never becomes markup', () => {
  const spec = join(tmp.path, 'b16.yaml');
  const store = join(tmp.path, 'b16.sqlite');
  const out = join(tmp.path, 'b16-report');
  const payloads = ['<script>window.__pwned = "script"</script>', '"><img src=x onerror="window.__pwned = \'img\'">', '</textarea><b>bold</b>'];
  before(async () => {
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: all\nunit: { block: 16 }\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 100\n    temperature: 0\n`,
    );
    await storeFromRunc(join(EXPECTED, 'screen-once-greedy-b16.jsonl'), spec, store);
    const db = new Database(store);
    const ids = db.prepare('SELECT id FROM phenotypes ORDER BY id').pluck().all() as number[];
    ids.forEach((id, i) => db.prepare('UPDATE phenotypes SET text = ?, diverge_at = 2, diverge_end = 12 WHERE id = ?').run(`${payloads[i % 3]} ${payloads[(i + 1) % 3]}`, id));
    db.prepare('UPDATE baselines SET text = ?').run(payloads.join(' | '));
    db.close();
    const r = runCli(['report', store, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('renders <script>, an onerror image and </textarea> as text and runs nothing', async () => {
    const w = await openWatched(browser, pathToFileURL(join(out, 'index.html')).href);
    const { page } = w;
    const canvas = page.locator('canvas[data-target="0.q"]');
    await canvas.scrollIntoViewIfNeeded();
    const box = (await canvas.boundingBox())!;
    await page.mouse.click(box.x + 2, box.y + 2); // unit (0, 0): every mutant of this screen is an NSM
    const text = await page.locator('#pheno-text').textContent();
    assert.ok(text!.includes(payloads[0]) || text!.includes(payloads[1]), text!);
    assert.equal(await page.locator('#baseline-text').textContent(), payloads.join(' | '));
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned), undefined);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.locator('b').count(), 0);
    assert.equal(await page.locator('textarea').count(), 0);
    // The phenotype-groups table holds first words of these texts: escaped there too.
    assert.equal(await page.locator('script').count(), 2);
    // and the phenotypes' layout shows them through textContent
    const dot = page.locator('#p-layout circle').first();
    await dot.scrollIntoViewIfNeeded();
    const d = (await dot.boundingBox())!;
    await page.mouse.move(d.x + d.width / 2, d.y + d.height / 2);
    const tip = (await page.locator('#tooltip').textContent())!;
    assert.ok(payloads.some((p) => tip.includes(p)), tip);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned), undefined);
    assert.equal(await page.locator('b').count(), 0);
    assert.deepEqual(w.pageErrors, []);
    assert.deepEqual(w.network, []);
    await page.close();
  });
});

describe('a screen in progress, and bad input', () => {
  const spec = join(tmp.path, 'b16-partial.yaml');
  const store = join(tmp.path, 'b16-partial.sqlite');
  const out = join(tmp.path, 'b16-partial-report');
  before(async () => {
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: all\nunit: { block: 16 }\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 100\n    temperature: 0\n`,
    );
    // The first 900 of 1,801 mutants (null mutant included) stored, as if the run had been stopped there.
    await storeFromRunc(join(EXPECTED, 'screen-once-greedy-b16.jsonl'), spec, store, (i) => i < 900);
    const r = runCli(['report', store, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('says how far the screen is and draws units not run yet grey', async () => {
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(html, /This screen is in progress: 899 of 1,800 mutants done/);
    const w = await openWatched(browser, pathToFileURL(join(out, 'index.html')).href);
    const last = w.page.locator('canvas[data-target="4.down"]');
    const first = w.page.locator('canvas[data-target="0.q"]');
    const px = (c: typeof last) => c.evaluate((el: HTMLCanvasElement) => [...el.getContext('2d')!.getImageData(0, 0, 1, 1).data].slice(0, 3));
    assert.deepEqual(await px(last), [...COLOURS.pending]);
    assert.notDeepEqual(await px(first), [...COLOURS.pending]);
    assert.deepEqual(w.pageErrors, []);
    await w.page.close();
  });

  it('refuses a missing store, a file that is not a store, and an --out it cannot write, with clear messages', () => {
    expectCleanError(runCli(['report', join(tmp.path, 'nope.sqlite'), '--out', join(tmp.path, 'x')]), /no such store.*nope\.sqlite/);
    const notStore = join(tmp.path, 'not-a-store.sqlite');
    writeFileSync(notStore, 'hello');
    expectCleanError(runCli(['report', notStore, '--out', join(tmp.path, 'x')]), /not an SQLite database|not a mutascan store/);
    expectCleanError(runCli(['report', store, '--out', '/proc/mutascan-report']), /cannot create the report folder.*\/proc\/mutascan-report/);
    expectCleanError(runCli(['report', store]), /--out/);
  });
});
