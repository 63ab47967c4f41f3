/** Debian's Chromium driven by playwright-core, started the way this closed network needs. */
import { chromium, type Browser, type Page } from 'playwright-core';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // Without these Chromium keeps trying to reach Google's services, which this machine's network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WatchedPage {
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  /** every request that is not the page's own file or an inline data: URL */
  network: string[];
}

/** Opens a page and records console errors, uncaught exceptions and any request leaving the file. */
export async function openWatched(browser: Browser, url: string): Promise<WatchedPage> {
  const page = await browser.newPage();
  const w: WatchedPage = { page, consoleErrors: [], pageErrors: [], network: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') w.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => w.pageErrors.push(e.message));
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) w.network.push(r.url());
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
  return w;
}
