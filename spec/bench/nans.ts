/**
 * What NaN debug mode costs: 10,000 small elementwise ops (add, mul on 16 floats, where dispatch
 * dominates and any per-primitive overhead shows) and 1,000 grads of a 10-op function, timed with
 * the mode off and on; the best of `reps` runs of each, in process CPU time (user + system), which
 * a busy machine disturbs less than wall time. `npx tsx spec/bench/nans.ts [reps]`
 */
import * as np from '../../core/index.js';

const reps = Number(process.argv[2] ?? 7);
const x = np.tensor(Array.from({ length: 16 }, (_, i) => i / 16));

function ops(): void {
  np.withScope(() => {
    let y = x;
    for (let i = 0; i < 5000; i++) y = np.mul(np.add(y, x), 0.5);
    return y.dataSync();
  });
}

const f = (v: np.Tensor) => {
  let y = v;
  for (let i = 0; i < 5; i++) y = np.mul(np.add(y, v), 0.5);
  return np.sum(y);
};
function grads(): void {
  for (let i = 0; i < 1000; i++) np.grad(f)(x);
}

function best(body: () => void): number {
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.cpuUsage();
    body();
    const d = process.cpuUsage(t0);
    b = Math.min(b, (d.user + d.system) / 1000);
  }
  return b;
}

for (const [name, body, n] of [['10k elementwise ops', ops, 10000], ['1k grads of 10 ops', grads, 1000]] as const) {
  body(); // warm up
  const was = np.debugNans(false);
  const off = best(body);
  np.debugNans(true);
  const on = best(body);
  np.debugNans(was);
  console.log(`${name}: off ${off.toFixed(1)} ms (${((off / n) * 1e3).toFixed(2)} us each), on ${on.toFixed(1)} ms (${(on / off).toFixed(2)}x)`);
}
