/**
 * Per-example gradients of an MLP (relu, cross-entropy, float32, batch 128), three ways:
 * - vmap(grad(loss)): all 128 gradients at once, through the batching rules;
 * - a JS loop of grad(loss) over the 128 examples (split beforehand, outside the timing);
 * - grad of the batched (summed) loss: one gradient, not 128, the floor vmap is measured against;
 * - the first and the last again under jit (one traced, fused program each).
 * Issue 12's targets: vmap >= 10x the loop, and within 1.5x of the batched-loss grad. Two sizes:
 * 784-128-10, whose per-example gradients are 128 x 100k floats (51 MB, written once: the line
 * "writing them" times just that), and 64-32-10, where the work per op is small and dispatch counts.
 * Prints the median wall time and the median process CPU time (all threads; a loaded machine
 * disturbs it less) of each, their ratios, the load average, and a check that the per-example
 * gradients add up to the batched one. `npx tsx spec/bench/vmap.ts [runs] [784,128,10 ...]`
 */
import { loadavg } from 'node:os';
import * as np from '../../core/index.js';

const runs = Number(process.argv[2] ?? 7), B = 128;
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
 * Median wall and CPU milliseconds of at least `n` runs and 1 s, after warming up for at least 3 runs
 * and 0.5 s (V8 compiles the kernels' loops and the tracing code; small cases need many runs for that).
 */
function median(body: () => unknown, n: number): { wall: number; cpu: number } {
  for (let r = 0, t0 = performance.now(); r < 3 || performance.now() - t0 < 500; r++) body();
  const wall: number[] = [], cpu: number[] = [];
  for (const t0 = performance.now(); wall.length < n || performance.now() - t0 < 1000;) {
    const c0 = process.cpuUsage(), t1 = performance.now();
    body();
    wall.push(performance.now() - t1);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: mid(wall), cpu: mid(cpu) };
}

console.log(`cpu backend, gemm ${np.gemmKernel()}, ${np.cpuThreads()} threads; median of at least ${runs} runs and 1 s each (the loop: ${Math.max(3, Math.ceil(runs / 2))}); load average ${load()}`);
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
  const rows: [string, { wall: number; cpu: number }][] = [
    ['vmap(grad(loss))', median(() => perExample(params, X, Y), runs)],
    ['loop of grad(loss)', median(() => xs.map((x, i) => np.grad(loss)(params, x, ys[i])), Math.max(3, Math.ceil(runs / 2)))],
    ['grad(summed batch loss)', median(batched, runs)],
    ['writing them (alloc + fill)', median(() => new Float32Array(floats).fill(1), runs)],
    ['jit(vmap(grad(loss)))', median(() => perExampleJit(params, X, Y), runs)],
    ['jit(grad(summed batch loss))', median(() => batchedJit(params, X, Y), runs)],
  ];
  for (const [name, t] of rows) console.log(`  ${name.padEnd(28)} wall ${t.wall.toFixed(1).padStart(7)} ms   cpu ${t.cpu.toFixed(1).padStart(7)} ms`);
  const [v, l, b, , vj, bj] = rows.map(([, t]) => t);
  console.log(`  vmap vs loop: ${(l.wall / v.wall).toFixed(1)}x faster (cpu ${(l.cpu / v.cpu).toFixed(1)}x; target >= 10x); ` +
    `vmap / batched-loss grad: ${(v.wall / b.wall).toFixed(2)}x (cpu ${(v.cpu / b.cpu).toFixed(2)}x; target <= 1.5x); ` +
    `both jitted: ${(vj.wall / bj.wall).toFixed(2)}x (cpu ${(vj.cpu / bj.cpu).toFixed(2)}x)`);
}
console.log(`\nload average after: ${load()}`);
