/**
 * Use every core for the big kernels, synchronously.
 *
 * Ops here are synchronous functions, so the pool is too: the main thread copies the operands into a
 * SharedArrayBuffer, wakes the workers with Atomics.notify, computes its own share of the rows, and
 * waits (Atomics.wait) until every worker has finished its share. Workers are compiled from the
 * kernel's source text (`gemm.toString()`), so they need no loader and run the very same code.
 * Set AVID_THREADS=1 to stay on one core.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { gemm } from './gemm.js';

/** Below this many multiply-adds a job runs on the calling thread alone. */
const PARALLEL_MIN = 1 << 19;

// ctrl: [0] job generation, [1] workers done, [2] a worker failed, [3] command (1 gemm, 2 new memory)
// job:  M N K ars acs brs bcs nbatch rows  (then per worker: row range)
const CTRL = 4, JOB = 16;

const WORKER_SRC = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const gemm = ${gemm.toString()};
const { ctrl: ctrlBuf, job: jobBuf, port, id } = workerData;
const ctrl = new Int32Array(ctrlBuf), job = new Float64Array(jobBuf);
let mem = null, offs = null, seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  try {
    if (ctrl[3] === 2) {
      const msg = receiveMessageOnPort(port).message;
      mem = new Float64Array(msg.mem); offs = new Float64Array(msg.offs);
    } else {
      const [M, N, K, ars, acs, brs, bcs, nb] = job;
      const r0 = job[16 + 2 * id], r1 = job[17 + 2 * id];
      for (let r = r0; r < r1;) {
        const b = Math.floor(r / M), i0 = r - b * M, i1 = Math.min(M, i0 + (r1 - r));
        gemm(mem, offs[3 * b], ars, acs, mem, offs[3 * b + 1], brs, bcs, mem, offs[3 * b + 2], M, N, K, i0, i1);
        r += i1 - i0;
      }
    }
  } catch (e) { Atomics.store(ctrl, 2, 1); }
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}`;

interface Pool {
  workers: Worker[];
  ports: MessagePort[];
  ctrl: Int32Array;
  job: Float64Array;
  mem: Float64Array;
  offs: Float64Array;
}

let pool: Pool | undefined;
const nThreads = Math.max(1, Math.min(availableParallelism(), Number(process.env.AVID_THREADS ?? 64) || 1));

function startPool(): Pool {
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL * 4));
  const job = new Float64Array(new SharedArrayBuffer((JOB + 2 * nThreads) * 8));
  const workers: Worker[] = [], ports: MessagePort[] = [];
  for (let id = 1; id < nThreads; id++) {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(WORKER_SRC, { eval: true, workerData: { ctrl: ctrl.buffer, job: job.buffer, port: port2, id }, transferList: [port2] });
    w.unref();
    port1.unref();
    workers.push(w);
    ports.push(port1);
  }
  return { workers, ports, ctrl, job, mem: new Float64Array(0), offs: new Float64Array(0) };
}

/** Wake the workers for the current job and wait until all have reported back. */
function runWorkers(p: Pool, mainShare: () => void): void {
  const { ctrl } = p;
  Atomics.store(ctrl, 1, 0);
  Atomics.add(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
  mainShare();
  const n = p.workers.length;
  for (let done = Atomics.load(ctrl, 1); done < n; done = Atomics.load(ctrl, 1)) {
    if (Atomics.wait(ctrl, 1, done, 10_000) === 'timed-out') throw new Error('cpu pool: a worker did not answer in 10 s');
  }
  if (Atomics.exchange(ctrl, 2, 0)) throw new Error('cpu pool: a worker failed while running a kernel');
}

/** Make sure the shared memory holds `words` float64s and `nb` batch offsets; tell the workers if it moved. */
function reserve(p: Pool, words: number, nb: number): void {
  if (p.mem.length >= words && p.offs.length >= 3 * nb) return;
  p.mem = new Float64Array(new SharedArrayBuffer(Math.max(words, 2 * p.mem.length) * 8));
  p.offs = new Float64Array(new SharedArrayBuffer(Math.max(3 * nb, 2 * p.offs.length, 3) * 8));
  Atomics.store(p.ctrl, 3, 2);
  for (const port of p.ports) port.postMessage({ mem: p.mem.buffer, offs: p.offs.buffer });
  runWorkers(p, () => {});
}

export interface GemmBatch {
  A: ArrayLike<number>; B: ArrayLike<number>; C: Float32Array | Float64Array;
  M: number; N: number; K: number;
  /** strides of A and B within one matrix (row, column): transposes are free */
  ars: number; acs: number; brs: number; bcs: number;
  /** per batch: [aOffset, bOffset] into A and B; C's batches are contiguous M x N */
  offsets: readonly (readonly [number, number])[];
}

/** Batched GEMM, split across cores by rows when the job is big enough. */
export function gemmBatched(g: GemmBatch): void {
  const nb = g.offsets.length, rows = nb * g.M;
  if (nThreads === 1 || rows < 2 || rows * g.N * g.K < PARALLEL_MIN) {
    for (let b = 0; b < nb; b++) gemm(g.A, g.offsets[b][0], g.ars, g.acs, g.B, g.offsets[b][1], g.brs, g.bcs, g.C, b * g.M * g.N, g.M, g.N, g.K, 0, g.M);
    return;
  }
  const p = (pool ??= startPool());
  // copy the operands into shared memory, packed: A's and B's extents, then C
  const aLen = g.A.length, bLen = g.B.length, cLen = nb * g.M * g.N;
  reserve(p, aLen + bLen + cLen, nb);
  p.mem.set(g.A as ArrayLike<number>, 0);
  p.mem.set(g.B as ArrayLike<number>, aLen);
  for (let b = 0; b < nb; b++) {
    p.offs[3 * b] = g.offsets[b][0];
    p.offs[3 * b + 1] = aLen + g.offsets[b][1];
    p.offs[3 * b + 2] = aLen + bLen + b * g.M * g.N;
  }
  const job = p.job;
  job.set([g.M, g.N, g.K, g.ars, g.acs, g.brs, g.bcs, nb, rows]);
  const share = Math.ceil(rows / nThreads);
  for (let t = 0; t < nThreads; t++) { job[JOB + 2 * t] = Math.min(rows, t * share); job[JOB + 2 * t + 1] = Math.min(rows, (t + 1) * share); }
  Atomics.store(p.ctrl, 3, 1);
  const { mem, offs } = p;
  runWorkers(p, () => {
    for (let r = 0; r < Math.min(rows, share);) {
      const b = Math.floor(r / g.M), i0 = r - b * g.M, i1 = Math.min(g.M, i0 + (share - r));
      gemm(mem, offs[3 * b], g.ars, g.acs, mem, offs[3 * b + 1], g.brs, g.bcs, mem, offs[3 * b + 2], g.M, g.N, g.K, i0, i1);
      r += i1 - i0;
    }
  });
  const cStart = aLen + bLen;
  g.C.set(mem.subarray(cStart, cStart + cLen));
}

/** How many threads the CPU kernels use. */
export const cpuThreads = (): number => nThreads;
