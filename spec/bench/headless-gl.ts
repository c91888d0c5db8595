/**
 * `npx tsx spec/bench/headless-gl.ts [--reps N] [--sizes 256,512,1024] [--mlp-reps N]`: the browser
 * bench (browser.ts) without a browser. Our gpu backend and tfjs's webgl backend run in one Node
 * process on headless-GL (WebGL1 through ANGLE on the display's GLX: Mesa llvmpipe under Xvfb here,
 * the card's driver where GLX reaches one), on matmul n x n and one training step of a small MLP,
 * with the page's own timing code (spec/browser/timing.ts). First it prints which GL renderer the
 * context got, so a software renderer is never mistaken for a GPU. tfjs registers its webgl backend
 * only in a browser; here it gets a headless-GL context through its own setWebGLContext.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { GPGPUContext, MathBackendWebGL, setWebGLContext } from '@tensorflow/tfjs-backend-webgl';
import { ensureDisplay } from '../../core/gpu/display.js';
import * as np from '../../core/index.js';

ensureDisplay();
const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : fallback; };
const reps = Number(arg('--reps', '7')), mlpReps = Number(arg('--mlp-reps', '15'));
const sizes = arg('--sizes', '256,512,1024').split(',').map(Number);

const createGl = createRequire(import.meta.url)('gl') as (w: number, h: number, o?: object) => WebGLRenderingContext | null;
const gl = createGl(1, 1, { preserveDrawingBuffer: false, antialias: false, depth: false, stencil: false, alpha: false });
if (!gl) throw new Error('headless-gl made no context: is there a display (DISPLAY, xvfb-run)?');
const info = gl.getExtension('WEBGL_debug_renderer_info');
const renderer = info ? `${gl.getParameter(info.UNMASKED_VENDOR_WEBGL)} / ${gl.getParameter(info.UNMASKED_RENDERER_WEBGL)}` : String(gl.getParameter(gl.RENDERER));
console.log(`headless-GL renderer: ${renderer}; ${gl.getParameter(gl.VERSION)}`);
const status = np.gpuStatus();
if (!status.ok) { console.log(`our gpu backend: skipped (${status.reason})`); process.exit(0); }
console.log(`our gpu backend: ${status.kernelClass}`);

setWebGLContext(1, gl);
tf.env().set('WEBGL_VERSION', 1);
tf.registerBackend('webgl', () => new MathBackendWebGL(new GPGPUContext(gl)), 2);
const { timeMatmul, timeMlp } = await import('../browser/timing.js');
const mm = await timeMatmul(sizes, reps);
const mlp = await timeMlp(mlpReps, 2);

const line = (cells: string[]) => console.log(cells.map((c, i) => c.padEnd([30, 12, 12, 14][i] ?? 10)).join(''));
console.log(`\nours (gpu backend) vs tfjs ${mm.tfjs} webgl (WebGL ${mm.webglVersion}), median ms with a readback`);
line(['case', 'ours ms', 'tfjs ms', 'tfjs / ours']);
for (const m of mm.rows) {
  if (m.maxDiff > 1e-3 * Math.max(1, m.scale)) throw new Error(`matmul ${m.n}: ours and tfjs differ by ${m.maxDiff} (scale ${m.scale})`);
  line([`matmul ${m.n} (median of ${reps})`, m.oursMs.toFixed(2), m.tfjsMs.toFixed(2), `${(m.tfjsMs / m.oursMs).toFixed(2)}x`]);
}
const name = `MLP ${mlp.widths.join('-')} b${mlp.batch}`;
line([`${name} jit`, mlp.oursJitMs.toFixed(2), mlp.tfjsMs.toFixed(2), `${(mlp.tfjsMs / mlp.oursJitMs).toFixed(2)}x`]);
line([`${name} eager`, mlp.oursEagerMs.toFixed(2), mlp.tfjsMs.toFixed(2), `${(mlp.tfjsMs / mlp.oursEagerMs).toFixed(2)}x`]);
const last = (xs: number[]) => xs[xs.length - 1];
console.log(`MLP losses after ${mlp.losses.jit.length} steps: ours jit ${last(mlp.losses.jit).toFixed(6)}, eager ${last(mlp.losses.eager).toFixed(6)}, tfjs ${last(mlp.losses.tfjs).toFixed(6)}`);
console.log(`all runs (ms): ${mm.rows.map((m) => `matmul ${m.n}: ours ${m.oursAll.map((x) => x.toFixed(1)).join('/')} tfjs ${m.tfjsAll.map((x) => x.toFixed(1)).join('/')}`).join('; ')}`);
console.log(`  MLP: jit ${mlp.oursJitAll.map((x) => x.toFixed(1)).join('/')}; eager ${mlp.oursEagerAll.map((x) => x.toFixed(1)).join('/')}; tfjs ${mlp.tfjsAll.map((x) => x.toFixed(1)).join('/')}`);
process.exit(0);
