/**
 * The page's timing (spec/browser/webgl.spec.ts): matmul n x n on our gpu backend and on tfjs's webgl
 * backend in the same page, each with a readback (dataSync), from the same inputs. Loaded by
 * page.ts with a dynamic import, so tfjs is a chunk of its own that the checks before never load.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import * as np from '../../core/index.js';

/** A seeded uniform [-1, 1) array, the same for both libraries. */
function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Median ms of `f` over `reps` runs after one warm-up run (which compiles the shaders). */
function time(f: () => ArrayLike<number>, reps: number): { ms: number; out: ArrayLike<number>; all: number[] } {
  let out = f();
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    out = f();
    all.push(performance.now() - t0);
  }
  return { ms: median(all), out, all };
}

export interface MatmulTiming { n: number; oursMs: number; tfjsMs: number; oursAll: number[]; tfjsAll: number[]; maxDiff: number; scale: number }

export async function timeMatmul(sizes: number[], reps: number): Promise<{ tfjs: string; webglVersion: number; rows: MatmulTiming[] }> {
  await tf.setBackend('webgl');
  await tf.ready();
  const rows: MatmulTiming[] = [];
  np.setBackend('gpu');
  try {
    for (const n of sizes) {
      const a = data(n * n, n), b = data(n * n, n + 1);
      const A = np.tensor(a, { shape: [n, n] }), B = np.tensor(b, { shape: [n, n] });
      const ours = time(() => np.matmul(A, B).dataSync() as Float32Array, reps);
      const tA = tf.tensor2d(a, [n, n]), tB = tf.tensor2d(b, [n, n]);
      const theirs = time(() => { const c = tf.matMul(tA, tB); const v = c.dataSync(); c.dispose(); return v; }, reps);
      tA.dispose(); tB.dispose();
      let maxDiff = 0, scale = 0;
      for (let i = 0; i < n * n; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(ours.out[i] - theirs.out[i]));
        scale = Math.max(scale, Math.abs(theirs.out[i]));
      }
      rows.push({ n, oursMs: ours.ms, tfjsMs: theirs.ms, oursAll: ours.all, tfjsAll: theirs.all, maxDiff, scale });
    }
  } finally { np.setBackend('cpu'); }
  return { tfjs: tf.version_core, webglVersion: tf.env().getNumber('WEBGL_VERSION'), rows };
}
