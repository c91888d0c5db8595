/**
 * gather: rows of `x` picked by an int32 index tensor: out[i..., :] = x[idx[i...], :].
 * vjp: scatter-add the cotangent rows back to the rows they came from (repeated rows add up).
 */
import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { alloc } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { scatterAdd } from './scatterAdd.js';
import { lit } from '../gpu/shader.js';

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
  const res = alloc(out.dtype, sizeOf(out.shape));
  for (let i = 0; i < idx.buf.length; i++) {
    const r = idx.buf[i] * row;
    res.set(x.buf.subarray(r, r + row), i * row);
  }
  return res;
};

export const gatherP = definePrimitive<{}>({
  name: 'gather',
  infer([x, idx]) {
    if (idx.dtype !== 'int32') throw new OpError('gather', `indices must be int32, got ${idx.dtype}`);
    if (x.shape.length === 0) throw new OpError('gather', `cannot take rows of a scalar (shape ${fmt(x.shape)})`);
    return { shape: [...idx.shape, ...x.shape.slice(1)], dtype: x.dtype };
  },
  vjp: (ct, [x, idx]) => [scatterAdd(ct, idx, x.shape[0]), null],
  kernels: {
    cpu,
    gpu: (ctx, [x, idx], _attrs, out) => {
      checkIndices('gather', ctx.read(idx.buf), x.shape[0]);
      const row = sizeOf(x.shape.slice(1));
      return ctx.run(`function (X, I) {
  const i = this.thread.x;
  const r = Math.floor((i + 0.5) / ${lit(row)});
  return X[I[r] * ${lit(row)} + (i - r * ${lit(row)})];
}`, [x.buf, idx.buf], sizeOf(out.shape));
    },
  },
});

/** Rows of `x` at `indices`. `gather(tensor([[1, 2], [3, 4]]), tensor([1, 1], {dtype: 'int32'}))` */
export const gather = (x: Tensor, indices: Tensor): Tensor => bind(gatherP, [x, indices], {});
