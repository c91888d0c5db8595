/**
 * gather: rows of `x` picked by an int32 index tensor: out[i..., :] = x[idx[i...], :].
 * vjp: scatter-add the cotangent rows back to the rows they came from (repeated rows add up).
 * batch: batched indices into shared rows pass through (the batch is one more index axis); shared
 * indices into batched rows gather from [n, size, ...] (the batch rides along in each row); both
 * batched, the batch folds into the rows ([size, n, ...] -> [size * n, ...], see foldIndices).
 */
import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { allocResult } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { moveAxis } from '../batching.js';
import { arange } from '../creation.js';
import { add } from './add.js';
import { equal } from './compare.js';
import { maximum } from './maximum.js';
import { minimum } from './minimum.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';
import { where } from './where.js';
import { scatterAdd } from './scatterAdd.js';
import { floorDiv, lit } from '../gpu/shader.js';

/** Throw if any index is outside [0, n). Shared by gather and scatterAdd. */
export function checkIndices(op: string, idx: TypedArray, n: number): void {
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i];
    if (v < 0 || v >= n) throw new OpError(op, `index ${v} at position ${i} is out of range for ${n} rows`);
  }
}

const cpu: Kernel<TypedArray, {}> = ([x, idx], _attrs, out) => {
  const n = x.shape[0], row = sizeOf(x.shape.slice(1));
  checkIndices('gather', idx.buf, n);
  const res = allocResult(out.dtype, sizeOf(out.shape));
  for (let i = 0; i < idx.buf.length; i++) {
    const r = idx.buf[i] * row;
    res.set(x.buf.subarray(r, r + row), i * row);
  }
  return res;
};

export const gatherP: Primitive<{}> = definePrimitive<{}>({
  name: 'gather',
  infer([x, idx]) {
    if (idx.dtype !== 'int32') throw new OpError('gather', `indices must be int32, got ${idx.dtype}`);
    if (x.shape.length === 0) throw new OpError('gather', `cannot take rows of a scalar (shape ${fmt(x.shape)})`);
    return { shape: [...idx.shape, ...x.shape.slice(1)], dtype: x.dtype };
  },
  vjp: (ct, [x, idx]) => [scatterAdd(ct, idx, x.shape[0]), null],
  batch: ([x, idx], [bx, bi], _attrs, _out, size) => {
    if (bx === null) return [bind(gatherP, [x, idx], {}), bi];
    if (bi === null) return [bind(gatherP, [moveAxis(x, bx, 1), idx], {}), idx.rank];
    const xs = moveAxis(x, bx, 0), n = xs.shape[1];
    const rows = reshape(xs, [size * n, ...xs.shape.slice(2)]);
    return [bind(gatherP, [rows, foldIndices(moveAxis(idx, bi, 0), n)], {}), 0];
  },
  kernels: {
    cpu,
    gpu: (ctx, [x, idx], _attrs, out) => {
      checkIndices('gather', ctx.read(idx.buf), x.shape[0]);
      const row = sizeOf(x.shape.slice(1));
      return ctx.run(`function (X, I) {
  const i = this.thread.x;
  ${floorDiv('r', 'i', row, sizeOf(out.shape))}
  return X[I[r] * ${lit(row)} + (i - r * ${lit(row)})];
}`, [x.buf, idx.buf], sizeOf(out.shape));
    },
  },
});

/**
 * Batched indices [size, ...] into `n` rows each, as indices into the batch's rows stacked
 * ([size, n, ...] -> [size * n, ...]): example b's index i becomes b * n + i. An index outside [0, n)
 * becomes -1, so the kernel still refuses it instead of reading another example's row.
 * `foldIndices(tensor([[1], [0]], {dtype: 'int32'}), 3)` → [[1], [3]]
 */
export function foldIndices(idx: Tensor, n: number): Tensor {
  const size = idx.shape[0];
  const offsets = reshape(mul(arange(0, size, 1, 'int32', idx), n), [size, ...idx.shape.slice(1).map(() => 1)]);
  const inRange = equal(idx, minimum(maximum(idx, 0), n - 1));
  return where(inRange, add(idx, offsets), -1);
}

/** Rows of `x` at `indices`. `gather(tensor([[1, 2], [3, 4]]), tensor([1, 1], {dtype: 'int32'}))` */
export const gather = (x: Tensor, indices: Tensor): Tensor => bind(gatherP, [x, indices], {});
