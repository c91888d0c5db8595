/**
 * Our library behind the benchmark's Adapter, written against the public API of core/index.ts
 * only: tensor, matmul, conv (NC + spatial, weights [Cout, Cin, ...kernel]), sum, grad with
 * argnums, and dataSync(), which forces the computation. Our ops are synchronous, so `run` is too.
 * If a name in core/ changes, this is the one file to fix.
 */
import type { Adapter, Job } from './harness.js';
import type { ConvChain } from './data.js';

export function ours(): Adapter {
  let np: any; // typed loosely on purpose: the adapter must load even while core/ is changing
  const job = (compute: () => any[]): Job => ({
    run() { for (const t of compute()) t.dataSync(); },
    async result() { return compute().map((t) => t.dataSync()); },
    dispose() { /* plain JS memory: nothing to free */ },
  });
  return {
    name: 'ours',
    async setup() {
      np = await import('../../core/index.js');
      for (const f of ['tensor', 'matmul', 'conv', 'sum', 'grad']) {
        if (typeof np[f] !== 'function') throw new Error(`core/index.ts does not export ${f}()`);
      }
      const threads = typeof np.cpuThreads === 'function' ? `${np.cpuThreads()} thread(s)` : 'threads unknown';
      return `core/ cpu backend, ${threads} (AVID_THREADS=${process.env.AVID_THREADS ?? 'unset'})`;
    },
    async matmul(a, b, n) {
      const A = np.tensor(a, { shape: [n, n], dtype: 'float32' }), B = np.tensor(b, { shape: [n, n], dtype: 'float32' });
      return job(() => [np.matmul(A, B)]);
    },
    async conv(spec: ConvChain) {
      const x = np.tensor(spec.x, { shape: spec.xShape, dtype: 'float32' });
      const ws = spec.layers.map((l) => np.tensor(l.data, { shape: l.shape, dtype: 'float32' }));
      const chain = (h: any, ...w: any[]) => w.reduce((acc, wi) => np.conv(acc, wi, { stride: 1, padding: 'same' }), h);
      if (!spec.grad) return job(() => [chain(x, ...ws)]);
      const g = np.grad((h: any, ...w: any[]) => np.sum(chain(h, ...w)), { argnums: [0, ...ws.map((_, i) => i + 1)] });
      return job(() => g(x, ...ws));
    },
  };
}
