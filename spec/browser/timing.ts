/**
 * The page's timing (spec/browser/webgl.spec.ts): matmul n x n on our gpu backend and on tfjs's webgl
 * backend in the same page, each with a readback (dataSync), from the same inputs. Loaded by
 * page.ts with a dynamic import, so tfjs is a chunk of its own that the checks before never load.
 */
// the union package: tfjs-core with its ops' gradients registered and the webgl backend (which registers
// itself in a browser; spec/bench/headless-gl.ts registers it on a headless-GL context in Node)
import * as tf from '@tensorflow/tfjs';
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

export interface MlpTiming {
  /** the MLP: batch, widths (input, hidden..., output) */
  batch: number;
  widths: number[];
  /** median ms of one training step with a readback of its loss */
  oursJitMs: number; oursEagerMs: number; tfjsMs: number;
  oursJitAll: number[]; oursEagerAll: number[]; tfjsAll: number[];
  /** the loss after each step from the same initial weights and data: ours jitted, ours eager, tfjs */
  losses: { jit: number[]; eager: number[]; tfjs: number[] };
}

/**
 * One training step of a small ReLU MLP regression (mean squared error, Adam lr 1e-3 with eps 1e-8 on
 * both sides): ours as jit(valueAndGrad) and nn.adam's update (a jitted program itself), ours un-jitted,
 * and tfjs's webgl backend with tf.train.adam's minimize (variableGrads underneath). Each step reads
 * its loss back. All three start from the same weights and data; `warm` untimed steps first (they
 * compile the shaders), then `reps` timed ones.
 */
export async function timeMlp(reps: number, warm = 2, batch = 128, widths = [64, 256, 256, 10]): Promise<MlpTiming> {
  const { adam } = await import('../../nn/index.js');
  await tf.setBackend('webgl');
  await tf.ready();
  const layers = widths.slice(1).map((out, i) => {
    const inp = widths[i], s = 1 / Math.sqrt(inp);
    return { w: data(inp * out, 7 + i).map((v) => v * s), b: new Float32Array(out), shape: [inp, out] as [number, number] };
  });
  const xs = data(batch * widths[0], 3), ys = data(batch * widths[widths.length - 1], 4);
  const steps = warm + reps;
  const timed = (step: () => number) => {
    const all: number[] = [], losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      losses.push(step());
      if (i >= warm) all.push(performance.now() - t0);
    }
    return { ms: median(all), all, losses };
  };

  np.setBackend('gpu');
  let jit, eager;
  try {
    const x = np.tensor(xs, { shape: [batch, widths[0]] }), y = np.tensor(ys, { shape: [batch, widths[widths.length - 1]] });
    type P = { w: np.Tensor; b: np.Tensor }[];
    const init = (): P => layers.map((l) => ({ w: np.tensor(l.w, { shape: l.shape }), b: np.tensor(l.b, { shape: [l.shape[1]] }) }));
    const loss = (p: P) => {
      let h = x;
      p.forEach((l, i) => { h = np.add(np.matmul(h, l.w), l.b); if (i < p.length - 1) h = np.relu(h); });
      return np.mean(np.square(np.sub(h, y)));
    };
    const opt = adam(1e-3);
    // the optimizer's update stays outside jit: it is one jitted program itself, and its step count,
    // a number, would make an enclosing jit trace again every step
    const step = (valueAndGrad: (p: P) => [np.Tensor, P]) => (p: P, s: unknown) => {
      const [l, g] = valueAndGrad(p);
      const u = opt.update(g, s as never, p) as { params: P; state: unknown };
      return { l, params: u.params, state: u.state };
    };
    const run = (f: (p: P, s: unknown) => { l: np.Tensor; params: P; state: unknown }) => {
      let params = init(), state: unknown = opt.init(params);
      return timed(() => {
        const r = np.withScope(() => f(params, state));
        ({ params, state } = r);
        return r.l.item();
      });
    };
    jit = run(step(np.jit(np.valueAndGrad(loss))));
    eager = run(step(np.valueAndGrad(loss)));
  } finally { np.setBackend('cpu'); }

  const tx = tf.tensor2d(xs, [batch, widths[0]]), ty = tf.tensor2d(ys, [batch, widths[widths.length - 1]]);
  const vars = layers.map((l) => ({ w: tf.variable(tf.tensor2d(l.w, l.shape)), b: tf.variable(tf.tensor1d(l.b)) }));
  const topt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const tloss = () => tf.tidy(() => {
    let h: tf.Tensor = tx;
    vars.forEach((l, i) => { h = tf.add(tf.matMul(h, l.w), l.b); if (i < vars.length - 1) h = tf.relu(h); });
    return tf.mean(tf.square(tf.sub(h, ty))) as tf.Scalar;
  });
  const theirs = timed(() => {
    const l = topt.minimize(tloss, true)!;
    const v = l.dataSync()[0];
    l.dispose();
    return v;
  });
  topt.dispose();
  for (const v of vars) { v.w.dispose(); v.b.dispose(); }
  tx.dispose(); ty.dispose();
  return {
    batch, widths, oursJitMs: jit.ms, oursEagerMs: eager.ms, tfjsMs: theirs.ms, oursJitAll: jit.all, oursEagerAll: eager.all, tfjsAll: theirs.all,
    losses: { jit: jit.losses, eager: eager.losses, tfjs: theirs.losses },
  };
}
