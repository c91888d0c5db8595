/**
 * Dtypes: the element types a tensor may hold, their typed-array storage, and the promotion rule.
 *
 * float32 is the default, float64 is for gradient checks, int32 for indices, bool for masks.
 * Promotion follows a simple lattice: bool < int32 < float32 < float64; a plain JS number is
 * "weak" and takes the dtype of the tensor it meets (as in JAX), so `mul(x, 2)` stays float32.
 * A number an int32 cannot hold (a fraction, beyond the int32 range, nan, inf) promotes int32 and
 * bool tensors to float32 instead of wrapping: `less(int32 [5], 3e9)` is true.
 * Values: int32 arithmetic wraps around (as numpy's); a cast of a float to int32 truncates and
 * saturates, with nan as 0 (as XLA's); a bool holds only 0 and 1 (any nonzero result is 1).
 */
import { OpError } from './shape.js';

export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

/** Where `alloc` takes storage that is already mapped, and tells of what it made anew (jit's pool). */
export interface Recycler {
  take(dtype: DType, n: number): TypedArray | undefined;
  made(buf: TypedArray): void;
}
let recycler: Recycler | undefined;

/** Run `body` with every `alloc` in it going through `r` (core/jit.ts uses this; nests). */
export function withRecycler<T>(r: Recycler, body: () => T): T {
  const outer = recycler;
  recycler = r;
  try { return body(); } finally { recycler = outer; }
}

/** Allocate zeroed storage for `n` elements of `dtype`. */
export function alloc(dtype: DType, n: number): TypedArray {
  return allocate(dtype, n, true);
}

/**
 * Storage for a result whose every element the caller writes: as `alloc`, except that an array jit's
 * pool recycles comes back as it was, not zeroed (a kernel writing all of it would only write the
 * zeros over; about 180 MB a step of the AVID model, 15 ms). A kernel that leaves any element
 * unwritten must use `alloc`: jit's results would then differ from eager ones, which the specs check.
 */
export function allocResult(dtype: DType, n: number): TypedArray {
  return allocate(dtype, n, false);
}

function allocate(dtype: DType, n: number, zeroed: boolean): TypedArray {
  if (!recycler) return fresh(dtype, n);
  const old = recycler.take(dtype, n);
  if (old) return zeroed ? old.fill(0) : old;
  const buf = fresh(dtype, n);
  recycler.made(buf);
  return buf;
}

function fresh(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

/** The dtype whose storage is this typed array. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return 'bool';
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

/** The smallest dtype that holds both. `promote('int32', 'float32') === 'float32'`. */
export function promote(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/** Whether a JS number is an int32 value. */
export const isInt32 = (v: number): boolean => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;

/** A number as astype(_, 'int32') converts it: truncated toward zero, saturated at the int32 limits, nan as 0. */
export const toInt32 = (v: number): number =>
  v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v);

/** A number as `dtype` holds it (as astype converts): bool is v != 0, int32 as toInt32. */
export const castScalar = (v: number, dtype: DType): number =>
  dtype === 'bool' ? +(v !== 0) : dtype === 'int32' ? toInt32(v) : v;

/** The least value of `dtype`: what max-pooling pads with. */
export const lowest = (dtype: DType): number => (dtype === 'int32' ? -2147483648 : dtype === 'bool' ? 0 : -Infinity);

export function checkDtype(d: unknown, where: string): DType {
  if (typeof d === 'string' && (DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new OpError(where, `unknown dtype ${JSON.stringify(d)}; expected one of ${DTYPES.join(', ')}`);
}
