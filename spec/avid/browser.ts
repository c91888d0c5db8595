/**
 * Opening a report in real headless Chromium (Debian's, driven by playwright-core) and reading back
 * what a person would see: console and page errors, dialogs (an alert means injected script ran),
 * network requests, each plot's marks and size, each image's decoding, and a full-page screenshot.
 */
import { pathToFileURL } from 'node:url';

export interface Inspection {
  problems: string[];
  dialogs: string[];
  requests: string[];
  plots: Record<string, { marks: number; w: number; h: number } | null>;
  images: { ok: boolean; w: number }[];
  pointTitles: number;
  h1: string | null;
  /** script, frame, object or embed elements, and images that are not the report's own */
  foreign: number;
}

/** Open `file` in Chromium, inspect it, and save a full-page screenshot to `screenshot`. */
export async function inspectReport(file: string, screenshot: string): Promise<Inspection> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [], dialogs: string[] = [], requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); void d.dismiss(); });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('request', (r) => { if (!/^(file|data):/.test(r.url())) requests.push(r.url()); });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForTimeout(300);
    const plots: Inspection['plots'] = {};
    for (const cls of ['plot-loss', 'plot-similarity', 'plot-embeddings']) {
      plots[cls] = await page.evaluate((c) => {
        const svg = document.querySelector(`svg.${c}`);
        if (!svg) return null;
        const box = svg.getBoundingClientRect();
        return { marks: svg.querySelectorAll('.role-mark path, .role-mark line').length, w: box.width, h: box.height };
      }, cls);
    }
    const images = await page.evaluate(() => [...document.images].map((i) => ({ ok: i.complete && i.naturalWidth > 0, w: i.getBoundingClientRect().width })));
    const pointTitles = await page.evaluate(() => document.querySelectorAll('svg.plot-embeddings path > title').length);
    const h1 = await page.locator('h1').textContent();
    const foreign = await page.evaluate(() => document.querySelectorAll('script, iframe, object, embed, main img:not(.frames):not(.spec)').length);
    await page.screenshot({ path: screenshot, fullPage: true });
    return { problems, dialogs, requests, plots, images, pointTitles, h1, foreign };
  } finally {
    await browser.close();
  }
}
