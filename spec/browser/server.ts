/**
 * The test page of spec/browser/webgl.spec.ts, ready to drive: page.ts (core, nn, the avid-fn/avid
 * browser entry and, split off, tfjs) bundled by esbuild for the browser into a temp folder, served
 * with gpu.js's browser build from a localhost server, and opened in Debian's headless Chromium with
 * WebGL2 on SwiftShader. Shared by the spec and by spec/bench/browser.ts, which times in the same page.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tools.js';
import type { avidPage as AvidPage } from './page.js';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>avid-fn: WebGL2 in Chromium</title>
<style>
  body { font: 13px system-ui, sans-serif; margin: 16px; } h1 { font-size: 18px; margin: 0 0 4px; }
  table { border-collapse: collapse; } td, th { padding: 1px 8px; text-align: left; border-bottom: 1px solid #ddd; }
  th { background: #eef; padding-top: 6px; } tr.ok td:nth-child(3) { color: #070; } tr.bad td { color: #b00; font-weight: bold; }
</style></head>
<body><h1>avid-fn: the gpu backend against the cpu backend in one page</h1>
<p id="status">loading</p>
<table><thead><tr><th>output</th><th>shape</th><th>gpu vs cpu (rtol 3e-5, atol 3e-5)</th><th>ran on</th></tr></thead><tbody></tbody></table>
<script src="/gpu-browser.min.js"></script>
<script type="module" src="/page.js"></script>
</body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

/** Bundle the page (core, nn, avid and, split off, tfjs for the timing) with esbuild into `dir`. */
export async function bundle(dir: string): Promise<void> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: { page: join(here, 'page.ts') }, bundle: true, platform: 'browser', format: 'esm', splitting: true,
    outdir: dir, logLevel: 'error', target: 'es2022',
  });
}

/** Serve `dir`'s bundle, gpu.js's browser build and the page on a random localhost port. */
export function serve(dir: string): Promise<{ server: Server; url: string }> {
  const gpuJs = join(require.resolve('gpu.js'), '..', '..', 'dist', 'gpu-browser.min.js');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = path === '/gpu-browser.min.js' ? gpuJs : /^\/[\w.-]+\.js$/.test(path) ? join(dir, path) : undefined;
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(HTML); return; }
    if (!file || !existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` })));
}

export type Page = import('playwright-core').Page;
type Avid = typeof AvidPage;

/** Call `avidPage.<name>(...args)` in the page; what it returns comes back as JSON. */
export const call = <K extends keyof Avid>(page: Page, name: K, ...args: unknown[]): Promise<Awaited<ReturnType<Avid[K]>>> =>
  // a string, not a function: tsx's transform would put its helpers into a function's source
  page.evaluate(`avidPage.${name}(...${JSON.stringify(args)})`) as Promise<Awaited<ReturnType<Avid[K]>>>;

export interface OpenPage {
  page: Page;
  browser: import('playwright-core').Browser;
  /** ms esbuild took */
  bundleMs: number;
  close(): Promise<void>;
}

/**
 * Bundle, serve and open the page; `watch` is called with the page before it loads (to listen for
 * console messages and errors). Resolves once `avidPage` is defined; `close` undoes it all.
 */
export async function openPage(watch: (page: Page) => void = () => {}): Promise<OpenPage> {
  const dir = mkdtempSync(join(tmpdir(), 'avid-webgl-'));
  let server: Server | undefined, browser: import('playwright-core').Browser | undefined;
  const close = async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const t0 = Date.now();
    await bundle(dir);
    const bundleMs = Date.now() - t0;
    if (!existsSync(join(dir, 'page.js'))) throw new Error('esbuild wrote no page.js');
    const served = await serve(dir);
    server = served.server;
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
    page.setDefaultTimeout(300_000);
    watch(page);
    await page.goto(served.url, { waitUntil: 'load' });
    await page.waitForFunction('globalThis.avidPage !== undefined', undefined, { timeout: 30_000 });
    return { page, browser, bundleMs, close };
  } catch (e) {
    await close();
    throw e;
  }
}
