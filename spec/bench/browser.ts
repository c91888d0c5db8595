/**
 * `npx tsx spec/bench/browser.ts [--reps N] [--sizes 256,512,1024] [--mlp-reps N]`: our gpu backend
 * against tfjs's webgl backend in one headless Chromium page (the page of spec/browser/webgl.spec.ts,
 * WebGL2 on SwiftShader, a software renderer: the figures are CPU-bound and say nothing of a real
 * GPU), on matmul n x n and on one training step of a small MLP (ours jitted, jit(valueAndGrad) +
 * nn.adam, and ours un-jitted, against tf.train.adam's minimize). Every timed run reads a value back
 * (in Chromium gl.finish() returns before the work is done). Prints median ms and the speed ratio
 * tfjs ms / ours ms (above 1: ours is faster). Needs chromium, playwright-core and esbuild.
 */
import { call, openPage } from '../browser/server.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const reps = Number(arg('--reps', '5')), mlpReps = Number(arg('--mlp-reps', String(Math.max(reps, 10))));
const sizes = arg('--sizes', '256,512,1024').split(',').map(Number);

const opened = await openPage((p) => p.on('pageerror', (e) => console.error(`page error: ${e.message}`)));
try {
  const s = await call(opened.page, 'status');
  if (!s.status.ok || s.status.kernelClass !== 'WebGL2Kernel') throw new Error(`the gpu backend is not on WebGL2: ${JSON.stringify(s.status)}`);
  console.log(`Chromium ${opened.browser.version()}, ${s.renderer} (software rendering on the CPU)`);
  const mm = await call(opened.page, 'timing', sizes, reps);
  const mlp = await call(opened.page, 'mlpTiming', mlpReps, 2);
  const pad = (x: string, n: number) => x.padEnd(n);
  const line = (cells: string[]) => console.log(cells.map((c, i) => pad(c, [30, 12, 12, 14][i] ?? 10)).join(''));
  console.log(`\nours (gpu backend, WebGL2) vs tfjs ${mm.tfjs} webgl (WebGL ${mm.webglVersion}), median ms with a readback`);
  line(['case', 'ours ms', 'tfjs ms', 'tfjs / ours']);
  for (const m of mm.rows) line([`matmul ${m.n} (median of ${reps})`, m.oursMs.toFixed(1), m.tfjsMs.toFixed(1), `${(m.tfjsMs / m.oursMs).toFixed(2)}x`]);
  const mlpName = `MLP ${mlp.widths.join('-')} b${mlp.batch}`;
  line([`${mlpName} jit`, mlp.oursJitMs.toFixed(1), mlp.tfjsMs.toFixed(1), `${(mlp.tfjsMs / mlp.oursJitMs).toFixed(2)}x`]);
  line([`${mlpName} eager`, mlp.oursEagerMs.toFixed(1), mlp.tfjsMs.toFixed(1), `${(mlp.tfjsMs / mlp.oursEagerMs).toFixed(2)}x`]);
  const last = (xs: number[]) => xs[xs.length - 1];
  console.log(`\nMLP (median of ${mlpReps} steps after 2 warm-up steps): loss after ${mlp.losses.jit.length} steps ours jit ${last(mlp.losses.jit).toFixed(6)}, eager ${last(mlp.losses.eager).toFixed(6)}, tfjs ${last(mlp.losses.tfjs).toFixed(6)}`);
  console.log(`all runs (ms): matmul ${mm.rows.map((m) => `${m.n}: ours ${m.oursAll.map((x) => x.toFixed(0)).join('/')} tfjs ${m.tfjsAll.map((x) => x.toFixed(0)).join('/')}`).join('; ')}`);
  console.log(`  MLP: jit ${mlp.oursJitAll.map((x) => x.toFixed(1)).join('/')}; eager ${mlp.oursEagerAll.map((x) => x.toFixed(1)).join('/')}; tfjs ${mlp.tfjsAll.map((x) => x.toFixed(1)).join('/')}`);
} finally {
  await opened.close();
}
