/**
 * The rival libraries, each behind the same Adapter: tfjs on its 'cpu' backend (plain JS), tfjs on
 * its 'wasm' backend (XNNPACK, SIMD; tfjs turns wasm threads off in Node) and jax-js on its 'wasm'
 * device. Inputs arrive in our layout (NC + spatial) and are permuted to NHWC / NDHWC for tfjs
 * before timing, so only the op is timed. Every timed run waits for the result's data.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker as NodeWorker } from 'node:worker_threads';
import { resolveObjectURL } from 'node:buffer';
import type { Adapter, Job } from './harness.js';
import { type ConvChain, invPerm, permute } from './data.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const errMsg = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];

// ---------------------------------------------------------------- tfjs (cpu and wasm)

export function tfjs(backend: 'cpu' | 'wasm'): Adapter {
  let tf: any;
  const use = async () => { if (tf.getBackend() !== backend) await tf.setBackend(backend); };
  /** Outputs come back as tensors; `perms` map each to canonical layout (null: already is). */
  const job = (compute: () => any[], perms: (number[] | null)[], inputs: any[]): Job => ({
    async run() {
      const outs = compute();
      await Promise.all(outs.map((o) => o.data()));
      for (const o of outs) o.dispose();
    },
    async result() {
      await use();
      const outs = compute();
      const datas = await Promise.all(outs.map((o) => o.data()));
      const res = datas.map((d, i) => (perms[i] ? permute(d, outs[i].shape, perms[i]!) : d));
      for (const o of outs) o.dispose();
      return res;
    },
    dispose: () => { for (const t of inputs) t.dispose(); },
  });
  return {
    name: `tfjs-${backend}`,
    async setup() {
      tf = await import('@tensorflow/tfjs');
      tf.enableProdMode(); // silences the "install tfjs-node" banner; no effect on kernels
      let extra = 'pure JS, 1 thread';
      if (backend === 'wasm') {
        const wasm: any = await import('@tensorflow/tfjs-backend-wasm');
        const req = createRequire(import.meta.url);
        wasm.setWasmPaths(path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
        if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
        extra = `simd=${simd} multithread=${mt} threads=${wasm.getThreadsCount()}`;
      } else if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
      return `tfjs ${tf.version_core}, backend ${tf.getBackend()} (${extra})`;
    },
    async matmul(a, b, n) {
      await use();
      const A = tf.tensor2d(a, [n, n]), B = tf.tensor2d(b, [n, n]);
      return job(() => [tf.matMul(A, B)], [null], [A, B]);
    },
    async conv(spec: ConvChain) {
      await use();
      const r = spec.xShape.length - 2;
      if (r !== 2 && r !== 3) throw new Error(`tfjs has no ${r}-D conv`);
      const xPerm = [0, ...range(2, r + 2), 1], wPerm = [...range(2, r + 2), 1, 0];
      const x = tf.tensor(permute(spec.x, spec.xShape, xPerm), xPerm.map((p) => spec.xShape[p]));
      const ws = spec.layers.map((l) => tf.tensor(permute(l.data, l.shape, wPerm), wPerm.map((p) => l.shape[p])));
      const conv = r === 2 ? (h: any, w: any) => tf.conv2d(h, w, 1, 'same') : (h: any, w: any) => tf.conv3d(h, w, 1, 'same');
      const chain = (h: any, ...w: any[]) => w.reduce(conv, h);
      if (!spec.grad) return job(() => [tf.tidy(() => chain(x, ...ws))], [invPerm(xPerm)], [x, ...ws]);
      const g = tf.grads((h: any, ...w: any[]) => tf.sum(chain(h, ...w)));
      return job(() => g([x, ...ws]), [invPerm(xPerm), ...ws.map(() => invPerm(wPerm))], [x, ...ws]);
    },
  };
}

// ---------------------------------------------------------------- jax-js

/**
 * jax-js parallelises wasm kernels over Web Workers made from a blob: URL, and only when a global
 * `Worker` exists, which Node 20 lacks. This stand-in runs that same worker source on
 * worker_threads, so jax-js gets the threads it would have in a cross-origin-isolated browser.
 */
class WorkerShim {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  #w: NodeWorker | null = null;
  #queue: unknown[] = [];
  constructor(url: string) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`WorkerShim: cannot resolve ${url}`);
    blob.text().then((src) => {
      const prelude = `const { parentPort } = require('node:worker_threads');
globalThis.self = globalThis; globalThis.postMessage = (m) => parentPort.postMessage(m);
parentPort.on('message', (m) => self.onmessage && self.onmessage({ data: m }));\n`;
      const w = new NodeWorker(prelude + src, { eval: true });
      w.unref();
      w.on('message', (m) => this.onmessage?.({ data: m }));
      w.on('error', (e) => this.onerror?.(e));
      this.#w = w;
      for (const m of this.#queue) w.postMessage(m);
      this.#queue = [];
    }, (e) => this.onerror?.(e));
  }
  postMessage(m: unknown) { if (this.#w) this.#w.postMessage(m); else this.#queue.push(m); }
  terminate() { void this.#w?.terminate(); }
}

/** threads > 1 installs the Worker shim (jax-js then uses `threads` workers); 1 keeps it on the main thread. */
export function jaxjs(threads = availableParallelism()): Adapter {
  let jax: any, np: any;
  const arr = (data: Float32Array, shape: number[]) => np.array(data).reshape(shape);
  const job = (compute: () => any[], inputs: any[]): Job => ({
    async run() { await Promise.all(compute().map((o) => o.data())); }, // data() also disposes
    async result() { return Promise.all(compute().map((o) => o.data())); },
    dispose: () => { for (const t of inputs) t.dispose(); },
  });
  return {
    name: 'jax-js',
    async setup() {
      const g = globalThis as any;
      // jax-js reads navigator.userAgent while tuning kernels and navigator.hardwareConcurrency for its pool.
      g.navigator ??= { userAgent: `Node.js/${process.version}`, hardwareConcurrency: threads };
      if (threads > 1 && typeof g.Worker === 'undefined') g.Worker = WorkerShim;
      jax = await import('@jax-js/jax');
      np = jax.numpy;
      const devices: string[] = await jax.init('wasm');
      if (!devices.includes('wasm')) throw new Error(`jax-js init gave devices [${devices}] without wasm`);
      jax.defaultDevice('wasm');
      let version = '?';
      try { // package.json is not in its exports map: find it beside dist/
        const main = createRequire(import.meta.url).resolve('@jax-js/jax');
        version = JSON.parse(readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8')).version;
      } catch { /* header only */ }
      const pool = typeof g.Worker !== 'undefined' && typeof SharedArrayBuffer !== 'undefined';
      return `jax-js ${version}, device wasm, ${pool ? `${g.navigator.hardwareConcurrency} worker threads (worker_threads shim)` : 'main thread only'}, eager (no jit: jit was ~10x slower on conv)`;
    },
    async matmul(a, b, n) {
      const A = arr(a, [n, n]), B = arr(b, [n, n]);
      return job(() => [np.matmul(A.ref, B.ref)], [A, B]);
    },
    async conv(spec: ConvChain) {
      const x = arr(spec.x, spec.xShape), ws = spec.layers.map((l) => arr(l.data, l.shape));
      const ones = spec.xShape.slice(2).map(() => 1);
      // each lax.conv consumes its arguments, so the chain owns x and every w exactly once
      const chain = (h: any, ...w: any[]) => w.reduce((acc, wi) => jax.lax.conv(acc, wi, ones, 'SAME'), h);
      const refs = () => [x.ref, ...ws.map((w) => w.ref)];
      if (!spec.grad) return job(() => [chain(...(refs() as [any]))], [x, ...ws]);
      const g = jax.grad((h: any, ...w: any[]) => np.sum(chain(h, ...w)), { argnums: range(0, ws.length + 1) });
      return job(() => g(...refs()), [x, ...ws]);
    },
  };
}

export { errMsg };
