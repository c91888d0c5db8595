/**
 * Making tensors: from nested arrays, typed arrays or numbers, and the usual constant constructors.
 * Data is copied in, so later changes to the caller's array never reach the tensor.
 */
import { getBackend } from './backend.js';
import { alloc, castScalar, checkDtype, type DType, dtypeOfArray, type TypedArray } from './dtype.js';
import { checkShape, fmt, OpError, sizeOf } from './shape.js';
import { Tensor } from './tensor.js';

export type NestedArray = number | boolean | readonly NestedArray[];

export interface CreateOptions {
  dtype?: DType;
  /** The shape, required for a flat typed array that is not 1-D. */
  shape?: readonly number[];
  /** The backend to create on (default: the current one). */
  backend?: string;
}

/** What a value that is not a number or boolean is, for an error message. */
function describe(v: unknown): string {
  if (v instanceof Tensor) return `a Tensor ${fmt(v.shape)} (join tensors with stack or concat, not an array)`;
  if (typeof v === 'bigint') return `the BigInt ${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return ArrayBuffer.isView(v) ? `a ${v.constructor.name} inside an array (make it a plain array, or pass it alone)` : `an object ${JSON.stringify(v)?.slice(0, 60) ?? ''}`.trimEnd();
  return `a ${typeof v}`;
}

/**
 * The shape of nested array `data`, checking that it is rectangular and holds only numbers or
 * booleans; an error names the first bad element by its path (data[1][0]).
 */
function inferShape(data: unknown, path = 'data', open = new Set<unknown>()): number[] {
  if (!Array.isArray(data)) {
    if (typeof data === 'number' || typeof data === 'boolean') return [];
    throw new OpError('tensor', `${path} is ${describe(data)}; expected numbers or booleans, or nested arrays of them`);
  }
  if (open.has(data)) throw new OpError('tensor', `${path} contains itself (a circular array)`);
  if (data.length === 0) return [0];
  open.add(data);
  let inner: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const d = data[i];
    if (d === undefined && !(i in data)) throw new OpError('tensor', `${path}[${i}] is empty (a hole in a sparse array)`);
    const s = typeof d === 'number' || typeof d === 'boolean' ? SCALAR : inferShape(d, `${path}[${i}]`, open);
    if (i === 0) inner = s;
    else if (s.length !== inner.length || s.some((v, j) => v !== inner[j])) {
      throw new OpError('tensor', `ragged nested array: ${path}[${i}] has shape ${fmt(s)} but ${path}[0] has ${fmt(inner)}`);
    }
  }
  open.delete(data);
  return [data.length, ...inner];
}

const SCALAR: number[] = [];
const STORAGE = [Float32Array, Float64Array, Int32Array, Uint8Array];

function fromHost(op: string, data: TypedArray, shape: readonly number[], dtype: DType, backend?: string | Tensor): Tensor {
  const b = backend instanceof Tensor ? backend.concrete().backend! : getBackend(backend);
  return Tensor.fromBuffer(b, b.upload(data, { shape, dtype }, op), shape, dtype);
}

/**
 * A tensor from nested arrays, a typed array, or a number. Floats default to float32; a typed array
 * keeps its own dtype; booleans give bool.
 * `tensor([[1, 2], [3, 4]])`, `tensor(new Int32Array([0, 2]))`, `tensor(3, {dtype: 'float64'})`
 */
export function tensor(data: NestedArray | TypedArray | Tensor, opts: CreateOptions = {}): Tensor {
  if (data instanceof Tensor) return data;
  let flat: ArrayLike<number>, shape: number[], dtype: DType;
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray, kind = (arr as object).constructor.name;
    if (arr instanceof BigInt64Array || arr instanceof BigUint64Array || arr instanceof DataView) throw new OpError('tensor', `a ${kind} cannot be read as numbers; convert it to a Float64Array or Int32Array first`);
    if (!opts.dtype && !STORAGE.some((c) => arr instanceof c)) {
      throw new OpError('tensor', `a ${kind} needs a dtype (e.g. {dtype: 'int32'}); without one a typed array must be a Float32Array, Float64Array, Int32Array or Uint8Array (bool)`);
    }
    dtype = opts.dtype ? checkDtype(opts.dtype, 'tensor') : dtypeOfArray(arr);
    if (dtype === 'bool' && !opts.dtype) {
      const i = (arr as Uint8Array).findIndex((v) => v > 1);
      if (i >= 0) throw new OpError('tensor', `a Uint8Array is read as bool (0 or 1), but element ${i} is ${arr[i]}; pass {dtype: 'int32'} or 'float32' to read bytes as numbers`);
    }
    shape = opts.shape ? checkShape('tensor', opts.shape) : [arr.length];
    flat = arr;
  } else {
    shape = inferShape(data);
    const values = (Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data]) as (number | boolean)[];
    const allBool = values.length > 0 && values.every((v) => typeof v === 'boolean');
    dtype = opts.dtype ? checkDtype(opts.dtype, 'tensor') : allBool ? 'bool' : 'float32';
    flat = values.map(Number);
    if (opts.shape) {
      const s = checkShape('tensor', opts.shape);
      if (sizeOf(s) !== flat.length) throw new OpError('tensor', `shape ${fmt(s)} needs ${sizeOf(s)} values, got ${flat.length}`);
      shape = s;
    }
  }
  if (sizeOf(shape) !== flat.length) throw new OpError('tensor', `shape ${fmt(shape)} needs ${sizeOf(shape)} values, got ${flat.length}`);
  const buf = alloc(dtype, flat.length);
  // into int32 or bool as astype converts (int32 saturates, NaN is 0; bool is != 0), not as the typed array stores (wraps; 2 in a bool)
  if ((dtype === 'int32' || dtype === 'bool') && !(flat instanceof buf.constructor)) for (let i = 0; i < flat.length; i++) buf[i] = castScalar(flat[i], dtype);
  else buf.set(flat);
  return fromHost('tensor', buf, shape, dtype, opts.backend);
}

/** A tensor of `shape` filled with `value`, converted to `dtype` as astype converts. `full([2, 2], 7)` */
export function full(shape: readonly number[], value: number, dtype: DType = 'float32', like?: Tensor): Tensor {
  const s = checkShape('full', shape);
  const buf = alloc(checkDtype(dtype, 'full'), sizeOf(s));
  // converted as astype converts (int32 saturates, nan is 0; bool is != 0), not as the typed array stores (wraps, 2 in a bool)
  const v = castScalar(value, dtype);
  if (v !== 0) buf.fill(v);
  return fromHost('full', buf, s, dtype, like);
}

/** Zeros. `zeros([2, 3])` */
export const zeros = (shape: readonly number[], dtype: DType = 'float32', like?: Tensor): Tensor => full(shape, 0, dtype, like);
/** Ones. `ones([2, 3], 'float64')` */
export const ones = (shape: readonly number[], dtype: DType = 'float32', like?: Tensor): Tensor => full(shape, 1, dtype, like);
/** Zeros shaped like `x`. */
export const zerosLike = (x: Tensor): Tensor => zeros(x.shape, x.dtype, x);
/** Ones shaped like `x`. */
export const onesLike = (x: Tensor): Tensor => ones(x.shape, x.dtype, x);

/**
 * Evenly spaced values in [start, stop). `arange(5)` → [0..4] as int32 when all arguments are
 * integers, else float32. `arange(0, 1, 0.25)` → [0, 0.25, 0.5, 0.75]
 */
export function arange(start: number, stop?: number, step = 1, dtype?: DType, like?: Tensor): Tensor {
  if (stop === undefined) { stop = start; start = 0; }
  if (step === 0) throw new OpError('arange', 'step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dt = dtype ?? ([start, stop, step].every(Number.isInteger) ? 'int32' : 'float32');
  const buf = alloc(dt, n);
  for (let i = 0; i < n; i++) buf[i] = start + i * step;
  return fromHost('arange', buf, [n], dt, like);
}

/** `n` evenly spaced values from start to stop inclusive. `linspace(0, 1, 5)` */
export function linspace(start: number, stop: number, n: number, dtype: DType = 'float32'): Tensor {
  const buf = alloc(dtype, n);
  for (let i = 0; i < n; i++) buf[i] = n === 1 ? start : start + ((stop - start) * i) / (n - 1);
  return fromHost('linspace', buf, [n], dtype);
}

/** The n x n identity. `eye(3)` */
export function eye(n: number, dtype: DType = 'float32'): Tensor {
  const buf = alloc(dtype, n * n);
  for (let i = 0; i < n; i++) buf[i * n + i] = 1;
  return fromHost('eye', buf, [n, n], dtype);
}

/** The same values on another backend (a copy; `x` is unchanged). `toBackend(x, 'gpu')` */
export function toBackend(x: Tensor, backend: string): Tensor {
  if (x.trace) throw new OpError('toBackend', 'cannot move a tensor that grad or vjp is tracing; move the inputs before the transformation');
  if (x.backend!.name === backend) return x;
  const b = getBackend(backend);
  return Tensor.fromBuffer(b, b.upload(x.dataSync(), x, 'toBackend'), x.shape, x.dtype);
}
