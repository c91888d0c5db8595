/**
 * One strided copy for the CPU's data-movement primitives: slice reads a box of x (an offset and x's
 * strides), transpose reads x through permuted strides, broadcastTo through strides of 0, and pad
 * writes x into a box of its result. Rows of the last axis are the unit: a row that is contiguous on
 * both sides and long enough is one TypedArray.set (a memcpy), a broadcast one a fill, and after each
 * row an odometer over the other axes moves both offsets on.
 */
import type { TypedArray } from '../dtype.js';

/** Rows at least this long are copied with TypedArray.set, shorter ones by a loop. */
const SET_MIN = 64;

/**
 * Copy the elements of `shape` from `src` at `from` (offset, strides) to `dst` at `to`.
 * `copyStrided(x, { offset: 1, strides: [1] }, y, { offset: 0, strides: [1] }, [2])` copies x[1..2] to y[0..1]
 */
export function copyStrided(src: TypedArray, from: { offset: number; strides: readonly number[] }, dst: TypedArray,
  to: { offset: number; strides: readonly number[] }, shape: readonly number[]): void {
  const r = shape.length, n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  if (r === 0) { dst[to.offset] = src[from.offset]; return; }
  const ss = from.strides, ds = to.strides, last = shape[r - 1], ls = ss[r - 1], ld = ds[r - 1];
  const block = ls === 1 && ld === 1 && last >= SET_MIN, fill = ls === 0 && ld === 1;
  const idx = new Int32Array(r);
  let i = from.offset, o = to.offset;
  for (let rows = n / last; rows > 0; rows--) {
    if (block) dst.set(src.subarray(i, i + last), o);
    else if (fill) dst.fill(src[i] as never, o, o + last);
    else for (let j = 0; j < last; j++) dst[o + j * ld] = src[i + j * ls];
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; i += ss[d]; o += ds[d];
      if (idx[d] < shape[d]) break;
      i -= ss[d] * shape[d]; o -= ds[d] * shape[d]; idx[d] = 0;
    }
  }
}
