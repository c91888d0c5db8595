/**
 * Our library behind the benchmark's Adapter, written against the public API of core/index.ts
 * only: tensor, matmul, conv (NC + spatial, weights [Cout, Cin, ...kernel]), sum, grad with
 * argnums, and dataSync(), which forces the computation. Our ops are synchronous, so `run` is too.
 * If a name in core/ changes, this is the one file to fix.
 */
import type { Adapter, Job } from './harness.js';
import type { ConvChain } from './data.js';

/**
 * Our library on `backend`. On the GPU, `readback: false` times the kernels alone (gl.finish waits
 * for them without copying results back); `readback: true` includes reading the values to the host.
 */
export function ours(backend: 'cpu' | 'gpu' = 'cpu', readback = true): Adapter {
  let np: any; // typed loosely on purpose: the adapter must load even while core/ is changing
  const wait = (ts: any[]) => { if (readback) for (const t of ts) t.dataSync(); else np.gpuFinish(); };
  const job = (compute: () => any[]): Job => ({
    run() { np.withScope(() => { wait(compute()); }); },
    async result() { return compute().map((t) => t.dataSync()); },
    dispose() { /* the library frees its own memory */ },
  });
  const t = (data: Float32Array, shape: number[]) => np.tensor(data, { shape, dtype: 'float32', backend });
  return {
    name: backend === 'cpu' ? 'ours' : readback ? 'ours-gpu+read' : 'ours-gpu',
    async setup() {
      np = await import('../../core/index.js');
      for (const f of ['tensor', 'matmul', 'conv', 'sum', 'grad']) {
        if (typeof np[f] !== 'function') throw new Error(`core/index.ts does not export ${f}()`);
      }
      if (backend === 'gpu') {
        const s = np.gpuStatus();
        if (!s.ok) throw new Error(s.reason);
        return `core/ gpu backend: gpu.js ${s.mode} (${s.kernelClass}), ${readback ? 'with readback' : 'kernel time, no readback'}`;
      }
      const threads = typeof np.cpuThreads === 'function' ? `${np.cpuThreads()} thread(s)` : 'threads unknown';
      return `core/ cpu backend, ${threads} (AVID_THREADS=${process.env.AVID_THREADS ?? 'unset'})`;
    },
    async matmul(a, b, n) {
      const A = t(a, [n, n]), B = t(b, [n, n]);
      return job(() => [np.matmul(A, B)]);
    },
    async conv(spec: ConvChain) {
      const x = t(spec.x, spec.xShape);
      const ws = spec.layers.map((l) => t(l.data, l.shape));
      const chain = (h: any, ...w: any[]) => w.reduce((acc, wi) => np.conv(acc, wi, { stride: 1, padding: 'same' }), h);
      if (!spec.grad) return job(() => [chain(x, ...ws)]);
      const g = np.grad((h: any, ...w: any[]) => np.sum(chain(h, ...w)), { argnums: [0, ...ws.map((_, i) => i + 1)] });
      return job(() => g(x, ...ws));
    },
  };
}
