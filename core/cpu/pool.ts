/**
 * Use every core for the big kernels, synchronously.
 *
 * Ops here are synchronous functions, so the pool is too: the main thread copies the operands into
 * shared memory, wakes the workers with Atomics.notify, computes its own share of the rows, and
 * waits (Atomics.wait) until every worker has finished its share. Set AVID_THREADS=1 to stay on one
 * core. Where the platform has no threads (see ../platform/), everything runs on the calling thread.
 *
 * Two GEMM kernels sit behind `gemmBatched`:
 * - float32 runs the WebAssembly SIMD kernel (wasm/gemm.wat) when its compiled module is there. Its
 *   memory is one shared WebAssembly.Memory: the operands are copied in once, and every thread runs
 *   its own instance of the module over that same memory, with its own scratch space for packing.
 * - float64 (gradient checks, where exactness matters more than speed), and float32 when the module
 *   is missing or AVID_GEMM=js, run the JavaScript kernel (gemm.ts) over a SharedArrayBuffer.
 * Workers are compiled from source text (`gemm.toString()`), so they need no loader and run the very
 * same JavaScript; the compiled wasm module reaches them in workerData.
 * The same module's conv2d (im2col fused into the GEMM, float32) runs behind `conv2dWasm`, and its
 * weight gradient (the columns packed straight from the image again) behind `conv2dWeightGradWasm`.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { env } from '../platform/platform.js';
import { platform } from '../platform/node.js';
import { allocResult } from '../dtype.js';
import { gemm } from './gemm.js';
import { type GemmExports, instantiate, loadGemmModule } from './wasm/load.js';

/**
 * Below this many multiply-adds a job runs on the calling thread alone. Waking a worker and waiting
 * for it costs some tens of microseconds: the JavaScript kernel does ~0.2M multiply-adds in that time,
 * the wasm kernel ~2M (measured: two threads win from about 160 x 160 x 160 on).
 */
const PARALLEL_MIN = { js: 1 << 19, wasm: 1 << 21 };

/**
 * Calls each(b, i0, i1) for rows [r0, r1) of a stack of M-row matrices, one call per matrix touched.
 * Self-contained, like gemm: the workers compile it from its source text.
 */
function eachRows(M: number, r0: number, r1: number, each: (b: number, i0: number, i1: number) => void): void {
  for (let r = r0; r < r1;) {
    const b = Math.floor(r / M), i0 = r - b * M, i1 = Math.min(M, i0 + (r1 - r));
    each(b, i0, i1);
    r += i1 - i0;
  }
}

// ctrl: [0] job generation, [1] workers done, [2] a worker failed,
//       [3] command: 1 JavaScript gemm, 2 new shared buffers (a message waits on the port), 3 wasm gemm,
//       4 wasm conv2d, 5 wasm conv2d weight gradient; [4] conv2d: the next unit of work not yet taken
// job:  M N K ars acs brs bcs nbatch rows work0 workBytes (then per thread: row range)
//       for conv2d: L x w y geo xBytes yBytes units perImage work0 workBytes
//       for its weight gradient: R U x ct partials geo units partialBytes work0 workBytes
const CTRL = 5, JOB = 16;
/**
 * conv2d's unit of work: this many output columns of one image. Threads take units one at a time
 * from a shared counter (ctrl[4]) until none are left, so a thread that the OS holds back (other
 * processes on the machine) leaves its work to the others instead of keeping them waiting. Each unit
 * packs its own columns and the weights again (O x C KH KW floats, little next to its arithmetic).
 */
const CONV_UNIT = 256;
const JS_GEMM = 1, NEW_BUFFERS = 2, WASM_GEMM = 3, WASM_CONV2D = 4, WASM_CONV2D_WGRAD = 5;

// offs holds three numbers per batch: where its A, B and C start (float64 indices into mem for the
// JavaScript kernel, byte addresses in the wasm memory for the wasm kernel)
const WORKER_SRC = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const gemm = ${gemm.toString()};
const eachRows = ${eachRows.toString()};
const { ctrl: ctrlBuf, job: jobBuf, port, id, module } = workerData;
const ctrl = new Int32Array(ctrlBuf), job = new Float64Array(jobBuf);
let mem = null, offs = null, wasm = null, seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  try {
    const command = ctrl[3];
    if (command === ${NEW_BUFFERS}) {
      const msg = receiveMessageOnPort(port).message;
      if (msg.mem) mem = new Float64Array(msg.mem);
      if (msg.offs) offs = new Float64Array(msg.offs);
      if (msg.memory) wasm = new WebAssembly.Instance(module, { env: { memory: msg.memory } }).exports;
    } else if (command === ${WASM_CONV2D}) {
      const [L, x, w, y, geo, xBytes, yBytes, units, perImage, work0, workBytes] = job;
      const work = work0 + id * workBytes;
      for (let u = Atomics.add(ctrl, 4, 1); u < units; u = Atomics.add(ctrl, 4, 1)) {
        const b = Math.floor(u / perImage), l0 = (u - b * perImage) * ${CONV_UNIT};
        wasm.conv2d(x + b * xBytes, w, y + b * yBytes, geo, l0, Math.min(L, l0 + ${CONV_UNIT}), work);
      }
    } else if (command === ${WASM_CONV2D_WGRAD}) {
      const [R, U, x, ct, parts, geo, units, partBytes, work0, workBytes] = job;
      const work = work0 + id * workBytes;
      for (let u = Atomics.add(ctrl, 4, 1); u < units; u = Atomics.add(ctrl, 4, 1)) {
        wasm.conv2d_wgrad(x, ct, parts + u * partBytes, geo, u * U, Math.min(R, (u + 1) * U), work);
      }
    } else {
      const [M, N, K, ars, acs, brs, bcs, , , work0, workBytes] = job;
      const r0 = job[${JOB} + 2 * id], r1 = job[${JOB} + 1 + 2 * id], work = work0 + id * workBytes;
      eachRows(M, r0, r1, command === ${JS_GEMM}
        ? (b, i0, i1) => gemm(mem, offs[3 * b], ars, acs, mem, offs[3 * b + 1], brs, bcs, mem, offs[3 * b + 2], M, N, K, i0, i1)
        : (b, i0, i1) => wasm.gemm(offs[3 * b], ars, acs, offs[3 * b + 1], brs, bcs, offs[3 * b + 2], N, K, i0, i1, work));
    }
  } catch (e) { Atomics.store(ctrl, 2, 1); }
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}`;

// Where the platform has no worker threads (a browser, for now), one thread.
const threads = platform.threads;
const nThreads = threads ? Math.max(1, Math.min(threads.cores(), Number(env('AVID_THREADS') ?? 64) || 1)) : 1;

// ---------------------------------------------------------------------------------------------------
// The wasm kernel's memory, laid out as: 64 bytes unused | scratch of thread 0 | thread 1 | ... | A | B | C

interface Wasm {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** the main thread's instance */
  exports: GemmExports;
  f32: Float32Array;
  /** the same memory as float64 (the channel loops' per-channel arrays: ./channels.ts) */
  f64: Float64Array;
  /** scratch bytes per thread, and where thread 0's starts */
  workBytes: number; work0: number;
  /** where the operands start */
  base: number;
}

const PAGE = 65536;
/** Addresses are i32: stay below 2 GiB so that they are never negative. */
const MAX_BYTES = 2 ** 31 - PAGE;
const align64 = (n: number) => Math.ceil(n / 64) * 64;

function startWasm(): Wasm | undefined {
  const module = loadGemmModule();
  if (!module) return undefined;
  try {
    const workBytes = align64(instantiate(module, wasmMemory(1)).scratch_bytes());
    const w = { module, workBytes, work0: 64, base: 64 + nThreads * workBytes } as Wasm;
    setMemory(w, wasmMemory(Math.ceil(w.base / PAGE) + 16));
    return w;
  } catch {
    return undefined; // e.g. no shared memory or SIMD on this engine
  }
}

/** The kernels' memory: shared where there are threads to share it (the platform's module imports it so), else plain. */
function wasmMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: threads !== undefined });
}

function setMemory(w: Wasm, memory: WebAssembly.Memory): void {
  w.memory = memory;
  w.exports = instantiate(w.module, memory);
  w.f32 = new Float32Array(memory.buffer);
  w.f64 = new Float64Array(memory.buffer);
}

/** Make the memory at least `bytes` long (a new, bigger memory: workers get it before their next job). */
function reserveWasm(w: Wasm, bytes: number): boolean {
  if (w.f32.byteLength >= bytes) return true;
  if (bytes > MAX_BYTES) return false;
  setMemory(w, wasmMemory(Math.ceil(Math.min(MAX_BYTES, Math.max(bytes, 2 * w.f32.byteLength)) / PAGE)));
  return true;
}

const wasm = startWasm();

/**
 * The main thread's instance of the module, with at least `bytes` of its memory free from `base`
 * (past every thread's scratch; 64-byte aligned), for kernels that run on the calling thread alone
 * (through wasmPlace: ./channels.ts, ../prims/fold.ts). Undefined without the module, or when its
 * memory cannot grow that far. Views go stale when a later call grows the memory: take them from
 * each call's result.
 */
export function wasmHeap(bytes: number): { k: GemmExports; base: number; f32: Float32Array; f64: Float64Array } | undefined {
  if (!wasm || !reserveWasm(wasm, wasm.base + bytes)) return undefined;
  return { k: wasm.exports, base: wasm.base, f32: wasm.f32, f64: wasm.f64 };
}

/**
 * Room in the wasm memory for arrays of these byte sizes, each at a 16-byte aligned address (the
 * kernels' vector loads): the heap and the addresses, or undefined without the wasm module or room.
 */
export function wasmPlace(bytes: readonly number[]): { h: NonNullable<ReturnType<typeof wasmHeap>>; at: number[] } | undefined {
  const at: number[] = [];
  let end = 0;
  for (const b of bytes) { at.push(end); end += (b + 15) & ~15; }
  const h = wasmHeap(end);
  return h && { h, at: at.map((a) => h.base + a) };
}

/** Which kernel float32 matmul runs on: the WebAssembly SIMD GEMM or the JavaScript one. */
export const gemmKernel = (): 'wasm-simd' | 'js' => (wasm ? 'wasm-simd' : 'js');

// ---------------------------------------------------------------------------------------------------
// The workers

interface Pool {
  workers: Worker[];
  ports: MessagePort[];
  ctrl: Int32Array;
  job: Float64Array;
  /** the JavaScript kernel's operands, as float64 */
  mem: Float64Array;
  offs: Float64Array;
  /** the wasm memory the workers have instantiated the module over */
  memory?: WebAssembly.Memory;
}

let pool: Pool | undefined;

function startPool(): Pool {
  const { Worker, MessageChannel } = threads!; // nThreads > 1 only with threads
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL * 4));
  const job = new Float64Array(new SharedArrayBuffer((JOB + 2 * nThreads) * 8));
  const workers: Worker[] = [], ports: MessagePort[] = [];
  for (let id = 1; id < nThreads; id++) {
    const { port1, port2 } = new MessageChannel();
    const workerData = { ctrl: ctrl.buffer, job: job.buffer, port: port2, id, module: wasm?.module };
    const w = new Worker(WORKER_SRC, { eval: true, workerData, transferList: [port2] });
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

/**
 * Make sure the workers hold shared buffers big enough for the next job: `words` float64s of
 * JavaScript operands, offsets for `nb` batches, and the current wasm memory if given.
 */
function reserve(p: Pool, words: number, nb: number, memory?: WebAssembly.Memory): void {
  const next: { mem?: Float64Array; offs?: Float64Array; memory?: WebAssembly.Memory } = {};
  if (p.mem.length < words) next.mem = new Float64Array(new SharedArrayBuffer(Math.max(words, 2 * p.mem.length) * 8));
  if (p.offs.length < 3 * nb) next.offs = new Float64Array(new SharedArrayBuffer(Math.max(3 * nb, 2 * p.offs.length) * 8));
  if (memory && memory !== p.memory) next.memory = memory;
  if (!next.mem && !next.offs && !next.memory) return;
  Object.assign(p, next);
  Atomics.store(p.ctrl, 3, NEW_BUFFERS);
  for (const port of p.ports) port.postMessage({ mem: next.mem?.buffer, offs: next.offs?.buffer, memory: next.memory });
  runWorkers(p, () => {});
}

/**
 * Split the rows of every batch across the threads (p.offs already filled) and run `command` on
 * them; the main thread takes the first share and runs it with `kernel`.
 */
function runSplit(p: Pool, command: number, g: GemmBatch, work: [number, number], kernel: (b: number, i0: number, i1: number) => void): void {
  const rows = g.offsets.length * g.M, share = Math.ceil(rows / nThreads), job = p.job;
  job.set([g.M, g.N, g.K, g.ars, g.acs, g.brs, g.bcs, g.offsets.length, rows, work[0], work[1]]);
  for (let t = 0; t < nThreads; t++) { job[JOB + 2 * t] = Math.min(rows, t * share); job[JOB + 2 * t + 1] = Math.min(rows, (t + 1) * share); }
  Atomics.store(p.ctrl, 3, command);
  runWorkers(p, () => eachRows(g.M, 0, Math.min(rows, share), kernel));
}

// ---------------------------------------------------------------------------------------------------
// The entry point

export interface GemmBatch {
  A: ArrayLike<number>; B: ArrayLike<number>; C: Float32Array | Float64Array;
  M: number; N: number; K: number;
  /** strides of A and B within one matrix (row, column): transposes are free */
  ars: number; acs: number; brs: number; bcs: number;
  /** per batch: [aOffset, bOffset] into A and B; C's batches are contiguous M x N */
  offsets: readonly (readonly [number, number])[];
}

const parallel = (g: GemmBatch, kernel: 'js' | 'wasm') => {
  const rows = g.offsets.length * g.M;
  return nThreads > 1 && rows >= 2 && rows * g.N * g.K >= PARALLEL_MIN[kernel];
};

/** Batched GEMM, split across cores by rows when the job is big enough. */
export function gemmBatched(g: GemmBatch): void {
  if (g.C instanceof Float32Array && wasm && gemmWasm(wasm, g)) return;
  gemmJs(g);
}

/** float32 on the wasm kernel; false if its memory cannot hold the operands (then the caller falls back). */
function gemmWasm(w: Wasm, g: GemmBatch): boolean {
  const nb = g.offsets.length, mn = g.M * g.N;
  // A, B and C after the scratch space, each on a cache line of its own
  const aPtr = w.base, bPtr = align64(aPtr + 4 * g.A.length), cPtr = align64(bPtr + 4 * g.B.length);
  if (!reserveWasm(w, cPtr + 4 * nb * mn)) return false;
  w.f32.set(g.A, aPtr / 4);
  w.f32.set(g.B, bPtr / 4);
  if (!parallel(g, 'wasm')) {
    for (let b = 0; b < nb; b++) {
      w.exports.gemm(aPtr + 4 * g.offsets[b][0], g.ars, g.acs, bPtr + 4 * g.offsets[b][1], g.brs, g.bcs,
        cPtr + 4 * b * mn, g.N, g.K, 0, g.M, w.work0);
    }
  } else {
    const p = (pool ??= startPool());
    reserve(p, 0, nb, w.memory);
    const offs = p.offs;
    for (let b = 0; b < nb; b++) {
      offs[3 * b] = aPtr + 4 * g.offsets[b][0];
      offs[3 * b + 1] = bPtr + 4 * g.offsets[b][1];
      offs[3 * b + 2] = cPtr + 4 * b * mn;
    }
    runSplit(p, WASM_GEMM, g, [w.work0, w.workBytes], (b, i0, i1) =>
      w.exports.gemm(offs[3 * b], g.ars, g.acs, offs[3 * b + 1], g.brs, g.bcs, offs[3 * b + 2], g.N, g.K, i0, i1, w.work0));
  }
  g.C.set(w.f32.subarray(cPtr / 4, cPtr / 4 + nb * mn));
  return true;
}

/** A 2-D convolution's geometry (one group, channels first), as conv2d in wasm/gemm.wat reads it. */
export interface Conv2dGeometry {
  B: number; C: number; H: number; W: number; O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; OH: number; OW: number;
}

/** n floats of the module's memory from `at`, in storage from alloc (which jit may recycle). */
function copyOut(f32: Float32Array, at: number, n: number): Float32Array {
  const res = allocResult('float32', n) as Float32Array;
  res.set(f32.subarray(at, at + n));
  return res;
}

/**
 * A float32 2-D convolution x [B, C, H, W] * w [O, C, KH, KW] -> [B, O, OH, OW] on the wasm kernel,
 * im2col fused into its packing (see conv2d in wasm/gemm.wat); the threads share out the images'
 * output columns, CONV_UNIT at a time. Undefined when there is no wasm kernel or its memory cannot
 * hold the operands.
 */
export function conv2dWasm(x: Float32Array, wt: Float32Array, g: Conv2dGeometry): Float32Array | undefined {
  const w = wasm;
  if (!w) return undefined;
  const L = g.OH * g.OW, xLen = g.C * g.H * g.W, yLen = g.O * L;
  const geo = w.base, xPtr = geo + 64, wPtr = align64(xPtr + 4 * g.B * xLen), yPtr = align64(wPtr + 4 * wt.length);
  if (!reserveWasm(w, yPtr + 4 * g.B * yLen)) return undefined;
  new Int32Array(w.memory.buffer, geo, 14).set([g.C, g.H, g.W, g.O, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.OH, g.OW]);
  w.f32.set(x, xPtr / 4);
  w.f32.set(wt, wPtr / 4);
  const cols = g.B * L, flops = cols * g.O * g.C * g.KH * g.KW;
  if (nThreads === 1 || cols < 16 || flops < PARALLEL_MIN.wasm) {
    for (let b = 0; b < g.B; b++) w.exports.conv2d(xPtr + 4 * b * xLen, wPtr, yPtr + 4 * b * yLen, geo, 0, L, w.work0);
  } else {
    const p = (pool ??= startPool());
    reserve(p, 0, 0, w.memory);
    const perImage = Math.ceil(L / CONV_UNIT), units = g.B * perImage;
    p.job.set([L, xPtr, wPtr, yPtr, geo, 4 * xLen, 4 * yLen, units, perImage, w.work0, w.workBytes]);
    Atomics.store(p.ctrl, 4, 0);
    Atomics.store(p.ctrl, 3, WASM_CONV2D);
    runWorkers(p, () => {
      for (let u = Atomics.add(p.ctrl, 4, 1); u < units; u = Atomics.add(p.ctrl, 4, 1)) {
        const b = Math.floor(u / perImage), l0 = (u - b * perImage) * CONV_UNIT;
        w.exports.conv2d(xPtr + 4 * b * xLen, wPtr, yPtr + 4 * b * yLen, geo, l0, Math.min(L, l0 + CONV_UNIT), w.work0);
      }
    });
  }
  return copyOut(w.f32, yPtr / 4, g.B * yLen);
}

/**
 * The weight gradient's units of work: runs of output positions (across images: position r is
 * b OH OW + l), each summed by one thread into a partial dW of its own; the partials are then added
 * in unit order. The split depends on the shapes alone, never on the threads or on which thread takes
 * which unit, so the result is the same bit for bit with any number of threads and from run to run.
 * At least WGRAD_UNIT positions a unit (adding a partial costs O C KH KW adds, a unit's products
 * WGRAD_UNIT times that), at most WGRAD_UNITS units, and their partials within WGRAD_PARTIALS floats.
 */
const WGRAD_UNIT = 1024, WGRAD_UNITS = 16, WGRAD_PARTIALS = 1 << 24;

/**
 * conv2d's weight gradient in float32 on the wasm kernel: dW [O, C KH KW] = the sum over images b of
 * ct[b] [O, OH OW] times the im2col columns of x[b] [C, H, W], transposed, with the columns packed
 * straight from the image (see conv2d_wgrad in wasm/gemm.wat). Undefined when there is no wasm kernel
 * or its memory cannot hold the operands.
 */
export function conv2dWeightGradWasm(x: Float32Array, ct: Float32Array, g: Conv2dGeometry): Float32Array | undefined {
  const w = wasm;
  if (!w) return undefined;
  const R = g.B * g.OH * g.OW, OK = g.O * g.C * g.KH * g.KW;
  const units = Math.max(1, Math.min(WGRAD_UNITS, Math.floor(R / WGRAD_UNIT), Math.floor(WGRAD_PARTIALS / Math.max(1, OK))));
  const U = Math.ceil(R / units);
  const geo = w.base, xPtr = geo + 64, ctPtr = align64(xPtr + 4 * x.length), pPtr = align64(ctPtr + 4 * ct.length);
  if (!reserveWasm(w, pPtr + 4 * units * OK)) return undefined;
  new Int32Array(w.memory.buffer, geo, 14).set([g.C, g.H, g.W, g.O, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.OH, g.OW]);
  w.f32.set(x, xPtr / 4);
  w.f32.set(ct, ctPtr / 4);
  if (nThreads === 1 || units === 1 || R * OK < PARALLEL_MIN.wasm) {
    for (let u = 0; u < units; u++) w.exports.conv2d_wgrad(xPtr, ctPtr, pPtr + 4 * u * OK, geo, u * U, Math.min(R, (u + 1) * U), w.work0);
  } else {
    const p = (pool ??= startPool());
    reserve(p, 0, 0, w.memory);
    p.job.set([R, U, xPtr, ctPtr, pPtr, geo, units, 4 * OK, w.work0, w.workBytes]);
    Atomics.store(p.ctrl, 4, 0);
    Atomics.store(p.ctrl, 3, WASM_CONV2D_WGRAD);
    runWorkers(p, () => {
      for (let u = Atomics.add(p.ctrl, 4, 1); u < units; u = Atomics.add(p.ctrl, 4, 1)) {
        w.exports.conv2d_wgrad(xPtr, ctPtr, pPtr + 4 * u * OK, geo, u * U, Math.min(R, (u + 1) * U), w.work0);
      }
    });
  }
  for (let u = 1; u < units; u++) w.exports.add_to(pPtr, pPtr + 4 * u * OK, OK);
  return copyOut(w.f32, pPtr / 4, OK);
}

/** Any float type on the JavaScript kernel. */
function gemmJs(g: GemmBatch): void {
  const nb = g.offsets.length, mn = g.M * g.N;
  if (!parallel(g, 'js')) {
    for (let b = 0; b < nb; b++) gemm(g.A, g.offsets[b][0], g.ars, g.acs, g.B, g.offsets[b][1], g.brs, g.bcs, g.C, b * mn, g.M, g.N, g.K, 0, g.M);
    return;
  }
  const p = (pool ??= startPool());
  // copy the operands into shared memory, packed: A's and B's extents, then C
  const aLen = g.A.length, bLen = g.B.length, cLen = nb * mn;
  reserve(p, aLen + bLen + cLen, nb);
  const { mem, offs } = p;
  mem.set(g.A, 0);
  mem.set(g.B, aLen);
  for (let b = 0; b < nb; b++) {
    offs[3 * b] = g.offsets[b][0];
    offs[3 * b + 1] = aLen + g.offsets[b][1];
    offs[3 * b + 2] = aLen + bLen + b * mn;
  }
  runSplit(p, JS_GEMM, g, [0, 0], (b, i0, i1) =>
    gemm(mem, offs[3 * b], g.ars, g.acs, mem, offs[3 * b + 1], g.brs, g.bcs, mem, offs[3 * b + 2], g.M, g.N, g.K, i0, i1));
  g.C.set(mem.subarray(aLen + bLen, aLen + bLen + cLen));
}

/** How many threads the CPU kernels use. */
export const cpuThreads = (): number => nThreads;
