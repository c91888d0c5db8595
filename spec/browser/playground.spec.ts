/**
 * The playground page (examples/playground/, issue 10) in headless Chromium with WebGL2 on
 * SwiftShader: built and served by examples/playground/server.ts, driven through its UI as a visitor
 * would (choose a preset, set the steps, click Train, open the Graph tab, type a syntax error). Checks
 * that the loss fell on the gpu backend with gpu.js's WebGL2Kernel, that the graph tab renders an SVG
 * and the printed program, that errors in the user's code are shown with their line, and that in
 * a browser without WebGL the page says it runs on the cpu backend, and does. A screenshot of the
 * trained page is saved to $AVID_SCREENSHOT (default: the temp folder's avid-playground.png).
 * Without chromium or playwright-core this file is skipped (in CI, CI=true, it fails).
 */
import test from 'tape';
import type { Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, needPackage, needTool } from '../tools.js';


type Page = import('playwright-core').Page;
interface Status { state: string; backend: string; kernelClass: string; fallback: string; losses: number[]; error: string; jit: boolean }
const status = (page: Page) => page.evaluate('globalThis.playground') as Promise<Status>;
/** Wait until the page is no longer training (or loading); its status then. */
async function settled(page: Page, timeout = 120_000): Promise<Status> {
  await page.waitForFunction('["idle", "done", "stopped", "error"].includes(document.body.dataset.state)', undefined, { timeout });
  return status(page);
}

if (needTool(test, 'chromium', 'chromium') && needPackage(test, 'playwright-core') && needPackage(test, 'esbuild')) {
  const dir = mkdtempSync(join(tmpdir(), 'avid-playground-'));
  let server: Server | undefined, browser: import('playwright-core').Browser | undefined, page: Page | undefined, url = '';
  const problems: string[] = [];

  test('build the playground with esbuild, serve it, open it in headless Chromium with WebGL2 on SwiftShader', async (t) => {
    const { build, serve } = await import('../../examples/playground/server.js');
    const t0 = Date.now();
    await build(dir);
    t.ok(['index.html', 'playground.js', 'gpu-browser.min.js'].every((f) => existsSync(join(dir, f))), `built index.html, playground.js and gpu-browser.min.js in ${Date.now() - t0} ms`);
    ({ server, url } = await serve(dir));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(120_000);
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(url, { waitUntil: 'load' });
    const s = await settled(page, 30_000);
    t.equal(s.state, 'idle', 'the page loaded and is ready to train');
    t.end();
  });

  test('the page runs on the gpu backend, gpu.js on WebGL2, and says so', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    const s = await status(page);
    t.equal(s.backend, 'gpu', `the gpu backend runs${s.fallback ? ` (fallback: ${s.fallback})` : ''}`);
    t.equal(s.kernelClass, 'WebGL2Kernel', 'its kernel class is WebGL2Kernel');
    const text = await page.locator('#backend').textContent() ?? '';
    t.ok(/gpu.js WebGL2Kernel/.test(text) && /SwiftShader/i.test(text), `the page shows it: "${text}"`);
    t.end();
  });

  for (const [preset, steps] of [['Regression', 15], ['NCE with a fixed Z', 25], ['InfoNCE', 50]] as const) {
    test(`train the ${preset} preset for ${steps} steps through the page's UI: the loss falls`, async (t) => {
      if (!page) { t.fail('no page'); t.end(); return; }
      const label = await page.locator('#preset option', { hasText: preset }).first().textContent();
      await page.selectOption('#preset', { label: label! });
      await page.fill('#steps', String(steps));
      const t0 = Date.now();
      await page.click('#train');
      const s = await settled(page);
      const ms = Date.now() - t0;
      t.equal(s.state, 'done', `training finished${s.error ? `, error: ${s.error}` : ''}`);
      t.equal(s.losses.length, steps, `${steps} losses in ${(ms / 1000).toFixed(1)} s (${(ms / steps).toFixed(0)} ms a step)`);
      t.ok(s.losses.every(Number.isFinite), 'every loss is finite');
      const first = s.losses[0], last = s.losses[s.losses.length - 1];
      t.ok(last < first - 0.05 * Math.abs(first), `the loss fell: ${first.toFixed(4)} -> ${last.toFixed(4)}`);
      t.ok(s.jit, 'the step was jitted');
      t.match(await page.locator('#progress').textContent() ?? '', new RegExp(`step ${steps} / ${steps}.*on gpu`), 'the progress line says the last step ran on gpu');
      t.end();
    });
  }

  test('screenshot of the trained page', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    const shot = process.env.AVID_SCREENSHOT ?? join(tmpdir(), 'avid-playground.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.ok(existsSync(shot), `screenshot: ${shot}`);
    t.end();
  });

  test('the Graph tab draws the loss\'s program as an SVG and prints it', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    await page.click('#tab-graph');
    await page.waitForSelector('#svg svg', { timeout: 60_000 });
    const nodes = await page.locator('#svg svg g.node').count();
    t.ok(nodes > 10, `an SVG with ${nodes} nodes`);
    const program = await page.locator('#program').textContent() ?? '';
    t.ok(/matmul/.test(program) && program.split('\n').length > 5, `the printed program has ${program.split('\n').length} lines, a matmul among them`);
    t.ok(await page.locator('#error').isHidden(), 'no error shown');
    if (process.env.AVID_SCREENSHOT_GRAPH) await page.screenshot({ path: process.env.AVID_SCREENSHOT_GRAPH, fullPage: true });
    await page.click('#tab-train');
    t.end();
  });

  test('errors in the user\'s code are shown with their line, never a blank page', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    const before = problems.length;
    const code = await page.inputValue('#code');
    const lines = code.split('\n');
    const at = lines.findIndex((l) => l.includes('const T ='));
    // a syntax error: a missing closing parenthesis on the temperature's line
    await page.fill('#code', lines.map((l, i) => (i === at ? '  const T = (0.2;' : l)).join('\n'));
    await page.click('#train');
    let s = await settled(page);
    let msg = await page.locator('#error').textContent() ?? '';
    t.equal(s.state, 'error', 'training did not start');
    t.ok(await page.locator('#error').isVisible(), `the error box shows: ${JSON.stringify(msg)}`);
    t.match(msg, /SyntaxError|Unexpected|missing/i, 'it names a syntax error');
    t.match(msg, new RegExp(`^Line ${at + 1}\\b`), `it points at line ${at + 1}`);
    t.ok(await page.locator('#gutter b.bad').count() === 1, 'the line number is marked in the gutter');
    if (process.env.AVID_SCREENSHOT_ERROR) await page.screenshot({ path: process.env.AVID_SCREENSHOT_ERROR, fullPage: true });

    // a runtime error from the library: a shape mismatch in an op, with its line
    const mm = lines.findIndex((l) => l.includes('np.matmulT('));
    await page.fill('#code', lines.map((l, i) => (i === mm ? l.replace('np.matmulT(za, zb, false, true)', 'np.matmul(za, zb)') : l)).join('\n'));
    await page.click('#train');
    s = await settled(page);
    msg = await page.locator('#error').textContent() ?? '';
    t.equal(s.state, 'error', 'a shape error stops training');
    t.match(msg, new RegExp(`^Line ${mm + 1}\\b.*matmul`, 's'), `the shape error is shown at line ${mm + 1}: ${JSON.stringify(msg.split('\n')[0])}`);

    // no loss function at all
    await page.fill('#code', 'const x = 1;');
    await page.click('#train');
    s = await settled(page);
    t.match(await page.locator('#error').textContent() ?? '', /must define a function named loss/, 'code without a loss function says what is missing');
    t.ok(await page.locator('h1').isVisible(), 'the page is still there');
    // the deliberate errors may reach the console as page errors; they are not problems of the page
    problems.splice(before);
    await page.fill('#code', code);
    t.end();
  });

  test('where WebGL is missing the page falls back to the cpu backend, says so, and still trains', async (t) => {
    if (!browser) { t.fail('no browser'); t.end(); return; }
    const noGl = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    noGl.on('pageerror', (e) => problems.push(`page error (no WebGL): ${e.message}`));
    // a browser without WebGL: no canvas gives a webgl2 or webgl context (gpu.js then falls back to its CPU mode, which the backend refuses)
    await noGl.addInitScript('{ const get = HTMLCanvasElement.prototype.getContext; HTMLCanvasElement.prototype.getContext = function (kind, ...rest) { return /webgl/.test(kind) ? null : get.call(this, kind, ...rest); }; }');
    await noGl.goto(url, { waitUntil: 'load' });
    await settled(noGl, 30_000);
    const note = await noGl.locator('#backend').textContent() ?? '';
    t.match(note, /^WebGL2 is not available here .*runs on the cpu backend/, `the note says so: "${note}"`);
    t.equal(await noGl.locator('#backend.warn').count(), 1, 'shown as a warning');
    await noGl.fill('#steps', '20');
    await noGl.click('#train');
    const s = await settled(noGl);
    t.equal(s.backend, 'cpu', 'the cpu backend ran');
    t.ok(s.losses.length === 20 && s.losses[19] < s.losses[0], `the loss fell: ${s.losses[0]?.toFixed(4)} -> ${s.losses[19]?.toFixed(4)}`);
    t.match(await noGl.locator('#progress').textContent() ?? '', /on cpu/, 'the progress line says cpu');
    await noGl.close();
    t.end();
  });

  test('no unexpected page error, console error or failed request', (t) => {
    t.deepEqual(problems, [], 'none');
    t.end();
  });

  test('close the browser and the server', async (t) => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
    t.end();
  });
}
