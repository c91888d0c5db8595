/**
 * jit's fused float32 chains as WebAssembly SIMD, compiled at run time. A JavaScript loop spends
 * 3-5 ns per element on a multiply-add (each value widened to float64, rounded back with
 * Math.fround); the same chain four lanes at a time, arrays copied into WebAssembly memory and the
 * result copied out, takes under 1 ns. The ops below have f32x4 forms that give exactly what their
 * scalar forms give, stored as float32: IEEE add, sub, mul, div and sqrt round once either way (a
 * float64 result of float32 operands, rounded to float32, is the float32 result), and the selects
 * (relu, reluGrad, maximum, minimum) are bit masks, so -0, infinities and nan come out as in
 * JavaScript. A chain with any other op or dtype, or a walk whose runs are short or strided, keeps
 * the JavaScript loop (core/cpu/loops.ts).
 *
 * The module is written as bytes here (no assembler at run time): one function per chain and
 * pattern of operands, `f(ptr0, .., ptrOut, len)`, over one run of `len` elements; an operand that
 * steps along the run is loaded four lanes at a time, one constant along it is loaded once and
 * splatted (a per-channel scale).
 */
import type { Plan } from './loops.js';

/** One op of a chain: its primitive's name and its operands (`{input: i}` or `{op: j}`). */
export interface SimdOp { readonly name: string; readonly args: readonly ({ input: number } | { op: number })[] }

/**
 * The ops with exact f32x4 forms. `cast` (to float32, of an input) is no op at all: copying a
 * float64 or int32 array into the float32 heap rounds each value as Math.fround does.
 */
export const SIMD_OPS = new Set(['add', 'sub', 'mul', 'div', 'neg', 'abs', 'sqrt', 'relu', 'reluGrad', 'maximum', 'minimum', 'cast']);

// opcodes: https://webassembly.github.io/spec/core/binary/instructions.html
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_LT_U = 0x49, I32_SHL = 0x74, BR_IF = 0x0d, LOOP = 0x03, END = 0x0b;
const V = {
  load: 0x00, load32Splat: 0x09, store: 0x0b, const: 0x0c, ne: 0x42, lt: 0x43, gt: 0x44, and: 0x4e, or: 0x50, bitselect: 0x52,
  abs: 0xe0, neg: 0xe1, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7,
} as const;

const leb = (n: number): number[] => {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
};
const simd = (op: number): number[] => [0xfd, ...leb(op)];
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/**
 * The bytes of a module importing memory `e.m` and exporting `f`, the chain over one run. `steps[i]`
 * says whether input i moves along the run (else it is one value per run).
 */
function moduleBytes(ops: readonly SimdOp[], steps: readonly boolean[]): Uint8Array<ArrayBuffer> {
  const nIn = steps.length, pOut = nIn, pLen = nIn + 1;
  // locals after the params: i, end (i32); x0.. per input, t0.. per op, zero (v128)
  const I = nIn + 2, END_ = I + 1, X = (i: number) => END_ + 1 + i, T = (j: number) => END_ + 1 + nIn + j, ZERO = END_ + 1 + nIn + ops.length;
  const get = (l: number) => [LOCAL_GET, ...leb(l)], set = (l: number) => [LOCAL_SET, ...leb(l)];
  const arg = (a: SimdOp['args'][number]) => ('input' in a ? get(X(a.input)) : get(T(a.op)));
  const memarg = [0, 0];
  const code: number[] = [
    ...simd(V.const), ...new Array(16).fill(0), ...set(ZERO),
    ...get(pLen), I32_CONST, 2, I32_SHL, ...set(END_),
  ];
  steps.forEach((s, i) => { if (!s) code.push(...get(i), ...simd(V.load32Splat), ...memarg, ...set(X(i))); });
  code.push(LOOP, 0x40);
  steps.forEach((s, i) => { if (s) code.push(...get(i), ...get(I), I32_ADD, ...simd(V.load), ...memarg, ...set(X(i))); });
  ops.forEach((op, j) => {
    const [a, b] = op.args.map(arg);
    if (op.name === 'cast') { code.push(...a, ...set(T(j))); return; }
    // mask(a, b) for the selects: (a > b) | (a != a), so a nan in a is kept as a
    const mask = (cmp: number) => [...a, ...b, ...simd(cmp), ...a, ...a, ...simd(V.ne), ...simd(V.or)];
    switch (op.name) {
      case 'add': case 'sub': case 'mul': case 'div': code.push(...a, ...b, ...simd(V[op.name])); break;
      case 'neg': case 'abs': case 'sqrt': code.push(...a, ...simd(V[op.name])); break;
      // relu: v > 0 || v != v ? v : +0
      case 'relu': code.push(...a, ...get(ZERO), ...a, ...get(ZERO), ...simd(V.gt), ...a, ...a, ...simd(V.ne), ...simd(V.or), ...simd(V.bitselect)); break;
      // reluGrad(x, g): x > 0 ? g : +0
      case 'reluGrad': code.push(...b, ...a, ...get(ZERO), ...simd(V.gt), ...simd(V.and)); break;
      // maximum(a, b): a > b || a != a ? a : b (minimum with <)
      case 'maximum': code.push(...a, ...b, ...mask(V.gt), ...simd(V.bitselect)); break;
      case 'minimum': code.push(...a, ...b, ...mask(V.lt), ...simd(V.bitselect)); break;
      default: throw new Error(`simd: no f32x4 form for ${op.name}`);
    }
    code.push(...set(T(j)));
  });
  code.push(...get(pOut), ...get(I), I32_ADD, ...get(T(ops.length - 1)), ...simd(V.store), ...memarg);
  code.push(...get(I), I32_CONST, 16, I32_ADD, ...set(I), ...get(I), ...get(END_), I32_LT_U, BR_IF, 0, END);
  return moduleOf(nIn + 2, [2, nIn + ops.length + 1], code);
}

/**
 * A module importing memory `e.m` and exporting `f`: `params` i32 params, locals `[i32s, v128s]`
 * after them, and the body's code (without its closing `end`).
 */
function moduleOf(params: number, [ints, vecs]: [number, number], code: number[]): Uint8Array<ArrayBuffer> {
  const body = [...vec([[...leb(ints), 0x7f], [...leb(vecs), 0x7b]]), ...code, END];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(new Array(params).fill([0x7f])), 0]])),
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 1]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('f'), 0x00, 0]])),
    ...section(10, vec([[...leb(body.length), ...body]])),
  ]);
}

const instantiate = (bytes: Uint8Array<ArrayBuffer>) =>
  new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: wasmMemory() } }).exports.f as (...a: number[]) => void;

/** The memory every chain runs in: the operands are copied in, the result out, per call. */
let memory: WebAssembly.Memory | undefined;
const wasmMemory = () => (memory ??= new WebAssembly.Memory({ initial: 16 }));
/** The memory as float32, grown to hold `bytes` first (growing detaches the views made before). */
const heap = (bytes: number): Float32Array => {
  const m = wasmMemory(), have = m.buffer.byteLength;
  if (bytes > have) m.grow(Math.ceil((bytes - have) / 65536));
  return new Float32Array(m.buffer);
};

/** Whether WebAssembly SIMD compiles here (an old engine may lack it); probed once. */
let supported: boolean | undefined;
const probe = () => {
  try { return new WebAssembly.Module(moduleBytes([{ name: 'relu', args: [{ input: 0 }] }], [true])) instanceof WebAssembly.Module; } catch { return false; }
};

/** How many fused kernels ran as SIMD (for tests: a path they mean to check was taken). */
export const simdStats = { calls: 0 };

/** Elements per chunk through the heap (4 MB of float32). */
const CHUNK = 2 ** 20;

/** Runs shorter than this stay in JavaScript: the call per run would cost more than it saves. */
const MIN_RUN = 16;

/**
 * The chain as a SIMD loop, or undefined where it has none (an op without an exact f32x4 form).
 * The loop takes the walk (`plan` over the output, inputs then output) and the float32 arrays, and
 * returns false, doing nothing, for a walk it does not serve (short runs, strided operands).
 */
export function simdChain(ops: readonly SimdOp[], nIn: number): ((p: Plan, arrays: readonly (Float32Array | Float64Array | Int32Array)[]) => boolean) | undefined {
  if (!ops.every((o) => SIMD_OPS.has(o.name)) || !(supported ??= probe())) return undefined;
  const compiled = new Map<string, (...a: number[]) => void>();
  return (p, arrays) => {
    const r = p.shape.length, last = p.shape[r - 1], lastStrides = p.strides.map((s) => s[r - 1]);
    if (last < MIN_RUN || lastStrides[nIn] !== 1 || lastStrides.some((s) => s !== 0 && s !== 1)) return false;
    const key = lastStrides.slice(0, nIn).join('');
    let f = compiled.get(key);
    if (!f) {
      f = instantiate(moduleBytes(ops, lastStrides.slice(0, nIn).map((s) => s === 1)));
      compiled.set(key, f);
    }
    // Each array's place in the heap (16-byte aligned), with 4 floats to spare: the last vector of a
    // run may read or write past it. The output, and each input laid out as it is, go through the
    // heap a chunk of runs (about 4 MB) at a time, so the heap stays small; other inputs (a
    // per-channel scale, a broadcast row) are copied whole.
    const n = p.n, out = p.strides[nIn], chunk = Math.max(1, Math.floor(CHUNK / last)) * last;
    const chunked = arrays.map((a, i) => i === nIn || (a.length === n && p.strides[i].every((s, d) => s === out[d])));
    const base: number[] = [];
    let at = 0;
    arrays.forEach((a, i) => { base.push(at); at += ((chunked[i] ? Math.min(chunk, n) : a.length) + 7) & ~3; });
    const h = heap(at * 4);
    for (let i = 0; i < nIn; i++) if (!chunked[i]) h.set(arrays[i], base[i]);
    const offs = new Array<number>(arrays.length).fill(0), idx = new Int32Array(r), args = new Array<number>(arrays.length + 1);
    args[arrays.length] = last;
    const flush = (from: number, to: number) => arrays[nIn].set(h.subarray(base[nIn], base[nIn] + to - from), from);
    let start = 0;
    for (let k = 0; k < n; k += last) {
      if (k === 0 || k - start === chunk) {
        if (k) flush(start, k);
        start = k;
        for (let i = 0; i < nIn; i++) if (chunked[i]) h.set(arrays[i].subarray(k, Math.min(n, k + chunk)), base[i]);
      }
      for (let i = 0; i < arrays.length; i++) args[i] = (base[i] + offs[i] - (chunked[i] ? start : 0)) * 4;
      f(...args);
      for (let d = r - 2; d >= 0; d--) {
        idx[d]++;
        for (let i = 0; i < arrays.length; i++) offs[i] += p.strides[i][d];
        if (idx[d] < p.shape[d]) break;
        for (let i = 0; i < arrays.length; i++) offs[i] -= p.strides[i][d] * p.shape[d];
        idx[d] = 0;
      }
    }
    flush(start, n);
    simdStats.calls++;
    return true;
  };
}

/**
 * Outer products of float32 vectors, C[b] = a[b] b[b]^T (a matmul whose contracted size is 1, as in
 * per-example gradients of dense layers), each element a * b + 0 as the GEMM's sum of one product
 * gives it (so -0 comes out +0, as there). `a` holds each batch's M values from its offset, `b` its N.
 * Returns false, doing nothing, where WebAssembly SIMD is missing or a product is empty.
 */
export function simdOuter(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, offsets: readonly (readonly [number, number])[]): boolean {
  // (nothing to write, and its loops run at least once: leave empty products to the GEMM)
  if (M === 0 || N === 0 || !(supported ??= probe())) return false;
  outer ??= instantiate(outerBytes());
  // the products go through the heap a chunk of batches at a time, so it stays small
  const per = M * N, chunk = Math.max(1, Math.floor(CHUNK / per));
  const ca = 0, cb = (a.length + 7) & ~3, cc = cb + ((b.length + 7) & ~3);
  const h = heap((cc + Math.min(offsets.length, chunk) * per + 4) * 4);
  h.set(a, ca);
  h.set(b, cb);
  for (let start = 0; start < offsets.length; start += chunk) {
    const end = Math.min(offsets.length, start + chunk);
    for (let i = start; i < end; i++) outer((ca + offsets[i][0]) * 4, (cb + offsets[i][1]) * 4, (cc + (i - start) * per) * 4, M, N);
    c.set(h.subarray(cc, cc + (end - start) * per), start * per);
  }
  simdStats.calls++;
  return true;
}

let outer: ((...a: number[]) => void) | undefined;

/** `f(pa, pb, pc, M, N)`: row i of C is splat(a[i]) * b + 0, four columns at a time (a row's last vector may spill into the next row, written after it). */
function outerBytes(): Uint8Array<ArrayBuffer> {
  const PA = 0, PB = 1, PC = 2, M = 3, N = 4, I = 5, J = 6, ROW = 7, VA = 8, ZERO = 9;
  const get = (l: number) => [LOCAL_GET, l], set = (l: number) => [LOCAL_SET, l], memarg = [0, 0];
  return moduleOf(5, [3, 2], [
    ...simd(V.const), ...new Array(16).fill(0), ...set(ZERO),
    ...get(N), I32_CONST, 2, I32_SHL, ...set(ROW),
    LOOP, 0x40,
    ...get(PA), ...get(I), I32_CONST, 2, I32_SHL, I32_ADD, ...simd(V.load32Splat), ...memarg, ...set(VA),
    I32_CONST, 0, ...set(J),
    LOOP, 0x40,
    ...get(PC), ...get(J), I32_ADD,
    ...get(VA), ...get(PB), ...get(J), I32_ADD, ...simd(V.load), ...memarg, ...simd(V.mul), ...get(ZERO), ...simd(V.add),
    ...simd(V.store), ...memarg,
    ...get(J), I32_CONST, 16, I32_ADD, ...set(J), ...get(J), ...get(ROW), I32_LT_U, BR_IF, 0,
    END,
    ...get(PC), ...get(ROW), I32_ADD, ...set(PC),
    ...get(I), I32_CONST, 1, I32_ADD, ...set(I), ...get(I), ...get(M), I32_LT_U, BR_IF, 0,
    END,
  ]);
}
