/**
 * Dtypes: the element types a tensor may hold, their typed-array storage, and the promotion rule.
 *
 * float32 is the default, float64 is for gradient checks, int32 for indices, bool for masks.
 * Promotion follows a simple lattice: bool < int32 < float32 < float64; a plain JS number is
 * "weak" and takes the dtype of the tensor it meets (as in JAX), so `mul(x, 2)` stays float32.
 */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

/** Allocate zeroed storage for `n` elements of `dtype`. */
export function alloc(dtype: DType, n: number): TypedArray {
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

export function checkDtype(d: unknown, where: string): DType {
  if (typeof d === 'string' && (DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new TypeError(`${where}: unknown dtype ${JSON.stringify(d)}; expected one of ${DTYPES.join(', ')}`);
}
