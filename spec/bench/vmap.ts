/**
 * Per-example gradients of an MLP (relu, cross-entropy, float32, batch 128), three ways:
 * - vmap(grad(loss)): all 128 gradients at once, through the batching rules;
 * - a JS loop of grad(loss) over the 128 examples (split beforehand, outside the timing);
 * - grad of the batched (summed) loss: one gradient, not 128, the floor vmap is measured against;
 * - the first and the last again under jit (one traced, fused program each).
 * Issue 12's targets: vmap >= 10x the loop, and within 1.5x of the batched-loss grad. Two sizes:
 * 784-128-10, whose per-example gradients are 128 x 100k floats (51 MB, written once: the line
 * "writing them" times just that), and 64-32-10, where the work per op is small and dispatch counts.
 * The six take turns in short bursts (`turns` below); prints each one's best and median wall time and
 * median process CPU time (all threads), their ratios, the load average, and a check that the
 * per-example gradients add up to the batched one. `npx tsx spec/bench/vmap.ts [rounds] [784,128,10 ...]`
 */
import { loadavg } from 'node:os';
import * as np from '../../core/index.js';

const rounds = Number(process.argv[2] ?? 8), burst = 150, B = 128;
const configs = process.argv.length > 3 ? process.argv.slice(3).map((s) => s.split(',').map(Number)) : [[784, 128, 10], [64, 32, 10]];
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');

type Params = { w1: np.Tensor; b1: np.Tensor; w2: np.Tensor; b2: np.Tensor };
/** One example's loss: x [in], y [] int32. */
const loss = (p: Params, x: np.Tensor, y: np.Tensor) => {
  const h = np.relu(np.add(np.matmul(x, p.w1), p.b1));
  return np.crossEntropy(np.add(np.matmul(h, p.w2), p.b2), y);
};
/** The batch's summed loss: X [B, in], Y [B]. */
const batchLoss = (p: Params, x: np.Tensor, y: np.Tensor) => np.mul(loss(p, x, y), x.shape[0]);

/**
 * Each body's time a call, measured for a shared machine as paired.ts does: after a warm-up (at least
 * 3 calls and 0.3 s each: V8 compiles the kernels' loops and the tracing code), the bodies take turns
 * in bursts of `burst` ms, `rounds` times, so that load from elsewhere, which comes and goes over
 * seconds, falls on all of them alike. Returns each body's best and median wall time a call, and its
 * median CPU time a call (all threads).
 */
function turns(bodies: (() => unknown)[], rounds: number, burst: number): { best: number; wall: number; cpu: number }[] {
  for (const body of bodies) for (let r = 0, t0 = performance.now(); r < 3 || performance.now() - t0 < 300; r++) body();
  const wall = bodies.map(() => [] as number[]), cpu = bodies.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    bodies.forEach((body, i) => {
      for (const t0 = performance.now(); performance.now() - t0 < burst;) {
        const c0 = process.cpuUsage(), t1 = performance.now();
        body();
        wall[i].push(performance.now() - t1);
        const c = process.cpuUsage(c0);
        cpu[i].push((c.user + c.system) / 1000);
      }
    });
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return bodies.map((_, i) => ({ best: Math.min(...wall[i]), wall: mid(wall[i]), cpu: mid(cpu[i]) }));
}

console.log(`cpu backend, gemm ${np.gemmKernel()}, ${np.cpuThreads()} threads; ${rounds} rounds of ${burst} ms turns each; load average ${load()}`);
for (const [nIn, nHid, nOut] of configs) {
  const [k1, k2, k3, k4] = np.random.split(np.random.key(0), 4);
  const params: Params = {
    w1: np.mul(np.random.normal(k1, [nIn, nHid]), Math.sqrt(2 / nIn)), b1: np.zeros([nHid]),
    w2: np.mul(np.random.normal(k2, [nHid, nOut]), Math.sqrt(2 / nHid)), b2: np.zeros([nOut]),
  };
  const X = np.random.normal(k3, [B, nIn]), Y = np.random.randint(k4, [B], 0, nOut);
  const perExample = np.vmap(np.grad(loss), { inAxes: [null, 0, 0] });
  const xs = Array.from({ length: B }, (_, i) => np.reshape(np.slice(X, [i, 0], [1, -1]), [nIn]));
  const ys = Array.from({ length: B }, (_, i) => np.reshape(np.slice(Y, [i], [1]), []));
  const batched = () => np.grad(batchLoss)(params, X, Y);
  const perExampleJit = np.jit(perExample), batchedJit = np.jit(np.grad(batchLoss));

  const g = perExample(params, X, Y), gb = batched();
  const keys = ['w1', 'b1', 'w2', 'b2'] as const;
  const err = Math.max(...keys.map((k) => np.max(np.abs(np.sub(np.sum(g[k], 0), gb[k]))).item() / np.max(np.abs(gb[k])).item()));
  const floats = keys.reduce((n, k) => n + g[k].size, 0);
  console.log(`\nMLP ${nIn}-${nHid}-${nOut}, float32, batch ${B}: per-example gradients ${floats} floats (${(floats * 4 / 1e6).toFixed(1)} MB); ` +
    `they sum to the batched gradient within ${err.toExponential(1)} (relative)`);
  const names = ['vmap(grad(loss))', 'loop of grad(loss)', 'grad(summed batch loss)', 'writing them (alloc + fill)', 'jit(vmap(grad(loss)))', 'jit(grad(summed batch loss))'];
  const times = turns([
    () => perExample(params, X, Y),
    () => xs.map((x, i) => np.grad(loss)(params, x, ys[i])),
    batched,
    () => new Float32Array(floats).fill(1),
    () => perExampleJit(params, X, Y),
    () => batchedJit(params, X, Y),
  ], rounds, burst);
  const f = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1).padStart(7);
  names.forEach((name, i) => console.log(`  ${name.padEnd(28)} best ${f(times[i].best)} ms   median ${f(times[i].wall)} ms   cpu ${f(times[i].cpu)} ms`));
  const [v, l, b, , vj, bj] = times;
  const r = (x: { best: number; wall: number; cpu: number }, y: typeof x) => `${(x.best / y.best).toFixed(2)}x best, ${(x.wall / y.wall).toFixed(2)}x median, ${(x.cpu / y.cpu).toFixed(2)}x cpu`;
  console.log(`  vmap vs loop: ${(l.best / v.best).toFixed(1)}x faster best, ${(l.wall / v.wall).toFixed(1)}x median (target >= 10x)`);
  console.log(`  vmap / batched-loss grad: ${r(v, b)} (target <= 1.5x); both jitted: ${r(vj, bj)}`);
}
console.log(`\nload average after: ${load()}`);
