/**
 * The GPU backend in a real browser (issue 10): core and nn bundled by esbuild for the browser
 * (package.json's "browser" field swaps in the browser platform), served with gpu.js's browser build
 * and a test page from a localhost server, opened in Debian's headless Chromium with WebGL2 on
 * SwiftShader. In the page the gpu backend must run gpu.js's WebGL2Kernel (not its CPU or WebAssembly
 * fallback, not WebGL1); then a table of primitives, a grad, jit and a few training steps run on gpu
 * and on cpu in the same page, and Node compares what comes back with float32 tolerances; so do three
 * Cross-AVID training steps of the tiny model (avid-fn/avid's browser entry), whose gpu kernels must
 * all run as WebGL2Kernel. Last, timings against tfjs's webgl backend in the same page, each with a
 * readback, printed, not asserted: matmul 512 and 1024, and a small MLP's training step (ours jitted
 * and eager); spec/bench/browser.ts prints them as a table with ratios.
 * A screenshot of the page's table is saved to $AVID_SCREENSHOT (default: the temp folder's
 * avid-webgl.png). Without chromium or playwright-core this file is skipped (in CI, CI=true, it fails).
 */
import test from 'tape';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { close } from '../helpers.js';
import { needPackage, needTool } from '../tools.js';
import { avidStepRtol, type Compared } from './page.js';
import { call, type OpenPage, openPage, type Page } from './server.js';

/** float32 on the GPU against the CPU's kernels: spec/helpers.ts' tolFor for a GPU. */
const TOL = { rtol: 3e-5, atol: 3e-5 };

const nd = (shape: number[], data: number[]) => ({ shape, data });

if (needTool(test, 'chromium', 'chromium') && needPackage(test, 'playwright-core') && needPackage(test, 'esbuild')) {
  let opened: OpenPage | undefined, page: Page | undefined;
  const problems: string[] = [];
  let kernelClass = '';

  test('bundle core, nn and avid for the browser, serve them, open the page in headless Chromium with WebGL2 on SwiftShader', async (t) => {
    opened = await openPage((p) => {
      p.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); else if (m.type() === 'warning') t.comment(`page warning: ${m.text()}`); });
      p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      p.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    });
    page = opened.page;
    t.pass(`esbuild bundled the page for the browser in ${opened.bundleMs} ms`);
    t.comment(`Chromium ${opened.browser.version()}`);
    t.pass('the page loaded core and nn');
    t.end();
  });

  test('in the page, setBackend(\'gpu\') runs gpu.js\'s WebGL2Kernel, not a fallback', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    const s = await call(page, 'status');
    t.comment(`renderer: ${s.renderer}; ${s.userAgent}`);
    t.ok(s.gpuJsLoaded, 'gpu-browser.min.js defined globalThis.GPU');
    t.ok(s.status.ok, s.status.ok ? `gpu backend up: mode ${s.status.mode}, kernel ${s.status.kernelClass}` : `gpu backend unavailable: ${s.status.reason}`);
    kernelClass = s.status.ok ? s.status.kernelClass : '';
    t.equal(kernelClass, 'WebGL2Kernel', 'the kernel class is WebGL2Kernel (not CPUKernel, WebAssemblyKernel or WebGL1\'s WebGLKernel)');
    t.ok(/SwiftShader/i.test(s.renderer), `WebGL2 on SwiftShader (${s.renderer})`);
    t.ok(s.status.ok && s.status.renderer === s.renderer && s.status.software, `the backend names the renderer and takes it for software (${s.status.ok ? s.status.renderer : ''})`);
    t.equal(s.gemm, 'wasm-simd', 'the page\'s cpu backend runs the WebAssembly SIMD GEMM (its single-thread build, inside the bundle)');
    t.end();
  });

  test('primitives on gpu (WebGL2) against cpu in the same page, float32 tolerance', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2; nothing to compare'); t.end(); return; }
    const t0 = Date.now();
    const rows: Compared[] = await call(page!, 'primitives');
    t.comment(`${rows.length} outputs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t.ok(rows.length >= 45, `${rows.length} outputs compared`);
    for (const r of rows) {
      t.equal(r.gpu.length, r.cpu.length, `${r.name}: same size`);
      if (r.dtype === 'int32' || r.dtype === 'bool') t.deepEqual(r.gpu, r.cpu, `${r.name} [${r.shape}] ${r.dtype}: equal`);
      else close(t, nd(r.shape, r.gpu), nd(r.shape, r.cpu), `${r.name} [${r.shape}] ${r.dtype}`, TOL);
    }
    t.end();
  });

  test('jit in the page: a fused elementwise chain and jit(grad) equal eager (gpu) and cpu', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2'); t.end(); return; }
    const j = await call(page!, 'jit');
    t.equal(j.backend, 'gpu', 'the jitted result lives on gpu');
    t.ok(j.stats.fused >= 1 && j.stats.kernels < j.stats.eqns, `fused: ${j.stats.eqns} equations ran as ${j.stats.kernels} kernel(s), ${j.stats.fused} fused`);
    close(t, nd(j.chain.shape, j.chain.jit), nd(j.chain.shape, j.chain.eager), 'fused chain: jit equals eager on gpu', TOL);
    close(t, nd(j.chain.shape, j.chain.jit), nd(j.chain.shape, j.chain.cpu), 'fused chain: jit on gpu equals cpu', TOL);
    close(t, nd(j.grad.shape, j.grad.jit), nd(j.grad.shape, j.grad.eager), 'jit(grad(mlp)) equals grad on gpu', TOL);
    close(t, nd(j.grad.shape, j.grad.jit), nd(j.grad.shape, j.grad.cpu), 'jit(grad(mlp)) on gpu equals cpu', TOL);
    t.end();
  });

  test('training in the page: a jitted Adam step of an nn.serial MLP on gpu; the loss falls and tracks cpu', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2'); t.end(); return; }
    const { gpu, cpu } = await call(page!, 'train', 25);
    const last = gpu.losses.length - 1;
    t.comment(`gpu loss: ${gpu.losses.map((l) => l.toFixed(4)).join(' ')}`);
    t.equal(gpu.backend, 'gpu', 'the trained params live on gpu');
    t.ok(gpu.losses.every(Number.isFinite), 'every loss is finite');
    t.ok(gpu.losses[last] < gpu.losses[0] / 2, `the loss fell by more than half: ${gpu.losses[0].toFixed(4)} -> ${gpu.losses[last].toFixed(4)}`);
    // both start from the same params and data; float32 differences grow slowly over a few steps
    close(t, nd([gpu.losses.length], gpu.losses), nd([cpu.losses.length], cpu.losses), 'gpu\'s losses track cpu\'s step by step', { rtol: 1e-3, atol: 1e-4 });
    t.end();
  });

  test('AVID in the page: Cross-AVID training steps of the tiny model on gpu (WebGL2) track the same steps on cpu', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2'); t.end(); return; }
    const t0 = Date.now();
    const { gpu, cpu } = await call(page!, 'avid', 3, 16, 8);
    t.comment(`${((Date.now() - t0) / 1000).toFixed(1)} s; ms per step gpu ${gpu.ms.map((x) => x.toFixed(0)).join('/')} (the first compiles its shaders), cpu ${cpu.ms.map((x) => x.toFixed(0)).join('/')}`);
    t.comment(`losses gpu ${gpu.metrics.map((m) => m.loss.toFixed(6)).join(' ')}, cpu ${cpu.metrics.map((m) => m.loss.toFixed(6)).join(' ')}`);
    t.equal(gpu.backend, 'gpu', 'the trained params live on gpu');
    t.ok(gpu.gpuRuns > 100, `the gpu run ran ${gpu.gpuRuns} gpu kernels`);
    t.deepEqual(Object.keys(gpu.classes), ['WebGL2Kernel'], `every compiled gpu kernel runs as WebGL2Kernel (${JSON.stringify(gpu.classes)})`);
    for (const [name, r] of [['gpu', gpu], ['cpu', cpu]] as const) {
      t.ok(r.metrics.every((m) => Object.values(m).every(Number.isFinite)), `${name}: every metric of every step is finite`);
    }
    // step 1 starts from the same params, banks, batch and key: its loss and logs agree to float32 rounding
    const names = Object.keys(cpu.metrics[0]).sort();
    t.deepEqual(Object.keys(gpu.metrics[0]).sort(), names, `the same metrics: ${names.join(', ')}`);
    close(t, nd([names.length], names.map((k) => gpu.metrics[0][k])), nd([names.length], names.map((k) => cpu.metrics[0][k])), 'step 1: gpu\'s loss and logs equal cpu\'s (float32 tolerance)', TOL);
    // after it, Adam's first update is about lr * sign(grad) for every param, so a gradient within rounding
    // of zero can step either way: the runs part by up to 2 lr in such params, and the losses by more
    // than rounding, more each step (avidStepRtol says how much)
    gpu.metrics.forEach((m, i) => close(t, nd([1], [m.loss]), nd([1], [cpu.metrics[i].loss]), `step ${i + 1}: gpu's loss tracks cpu's`, { rtol: avidStepRtol(i), atol: 1e-4 }));
    t.end();
  });

  test('timing in the page: matmul 512 and 1024 with a readback, ours (gpu) against tfjs webgl (printed, not asserted)', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2'); t.end(); return; }
    const reps = Number(process.env.AVID_BROWSER_REPS ?? 3);
    const r = await call(page!, 'timing', [512, 1024], reps);
    t.equal(r.webglVersion, 2, `tfjs ${r.tfjs} ran on its webgl backend with WebGL2`);
    for (const m of r.rows) {
      t.comment(`matmul ${m.n}: ours ${m.oursMs.toFixed(1)} ms, tfjs webgl ${m.tfjsMs.toFixed(1)} ms (median of ${reps}; ours ${m.oursAll.map((x) => x.toFixed(0)).join('/')}, tfjs ${m.tfjsAll.map((x) => x.toFixed(0)).join('/')}), ratio ours/tfjs ${(m.oursMs / m.tfjsMs).toFixed(2)}`);
      // both products of the same inputs: a sum of n float32 terms each, whose rounding grows like sqrt(n)
      t.ok(m.maxDiff <= 1e-5 * m.n * Math.max(1, m.scale), `matmul ${m.n}: ours and tfjs agree (max |diff| ${m.maxDiff.toExponential(2)}, largest |value| ${m.scale.toFixed(1)})`);
    }
    t.end();
  });

  test('timing in the page: a small MLP\'s training step with a readback, ours jitted and eager (gpu) against tfjs webgl (printed, not asserted)', async (t) => {
    if (kernelClass !== 'WebGL2Kernel') { t.fail('the gpu backend is not on WebGL2'); t.end(); return; }
    const reps = Number(process.env.AVID_BROWSER_REPS ?? 3);
    const r = await call(page!, 'mlpTiming', reps, 2);
    t.comment(`MLP ${r.widths.join('-')}, batch ${r.batch}, Adam: ours jit ${r.oursJitMs.toFixed(1)} ms, eager ${r.oursEagerMs.toFixed(1)} ms, tfjs webgl ${r.tfjsMs.toFixed(1)} ms (median of ${reps}); speed tfjs / ours: jit ${(r.tfjsMs / r.oursJitMs).toFixed(2)}x, eager ${(r.tfjsMs / r.oursEagerMs).toFixed(2)}x`);
    // the same weights, data and Adam on both sides: the losses agree, which says both timed the same work
    const all = [...r.losses.jit, ...r.losses.eager, ...r.losses.tfjs];
    t.ok(all.every(Number.isFinite), 'every loss is finite');
    close(t, nd([r.losses.jit.length], r.losses.jit), nd([r.losses.tfjs.length], r.losses.tfjs), 'ours jitted trains as tfjs does (loss after each step)', { rtol: 1e-3, atol: 1e-5 });
    close(t, nd([r.losses.eager.length], r.losses.eager), nd([r.losses.jit.length], r.losses.jit), 'ours eager equals ours jitted', { rtol: 1e-3, atol: 1e-5 });
    t.end();
  });

  test('no page error or console error; screenshot of the table', async (t) => {
    if (!page) { t.fail('no page'); t.end(); return; }
    const shot = process.env.AVID_SCREENSHOT ?? join(tmpdir(), 'avid-webgl.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.ok(existsSync(shot), `screenshot: ${shot}`);
    t.equal(await page.locator('tr.bad').count(), 0, 'no row of the page\'s table is marked bad');
    t.deepEqual(problems, [], 'no page error, console error or failed request');
    t.end();
  });

  test('close the browser and the server', async (t) => {
    await opened?.close();
    t.end();
  });
}
