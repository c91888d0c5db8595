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

function inferShape(data: NestedArray, path = 'data'): number[] {
  if (!Array.isArray(data)) return [];
  if (data.length === 0) return [0];
  const inner = inferShape(data[0], `${path}[0]`);
  data.forEach((d, i) => {
    const s = inferShape(d, `${path}[${i}]`);
    if (s.length !== inner.length || s.some((v, j) => v !== inner[j])) {
      throw new OpError('tensor', `ragged nested array: ${path}[${i}] has shape ${fmt(s)} but ${path}[0] has ${fmt(inner)}`);
    }
  });
  return [data.length, ...inner];
}

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
    const arr = data as TypedArray;
    dtype = opts.dtype ? checkDtype(opts.dtype, 'tensor') : dtypeOfArray(arr);
    shape = opts.shape ? checkShape('tensor', opts.shape) : [arr.length];
    flat = arr;
  } else {
    shape = inferShape(data as NestedArray);
    const values = (Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data]) as (number | boolean)[];
    for (const v of values) {
      if (typeof v !== 'number' && typeof v !== 'boolean') throw new OpError('tensor', `expected numbers or booleans, found ${JSON.stringify(v)}`);
    }
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
  buf.set(flat);
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
