/**
 * broadcastTo: repeat a tensor along new or size-1 axes (numpy rules). vjp: the cotangent as it is (backprop's unbroadcast sums it back to x's shape).
 * batch: leading 1s give the example the target's rank, then broadcast with the batch kept in place.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, checkShape, fmt, OpError, sameShape, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { reshape } from './reshape.js';
import { broadcastIndex, coords, shader } from '../gpu/shader.js';

const cpu: Kernel<TypedArray, { shape: Shape }> = ([x], _attrs, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape));
  const n = res.length, shape = out.shape, r = shape.length;
  if (n === 0) return res;
  const src = x.buf;
  if (src.length === 1) { res.fill(src[0]); return res; }
  const st = broadcastStrides(x.shape, shape);
  const last = shape[r - 1], ls = st[r - 1];
  const idx = new Int32Array(r);
  let i = 0, k = 0;
  for (let o = n / last; o > 0; o--) {
    if (ls === 1) { res.set(src.subarray(i, i + last), k); k += last; }
    else { const v = src[i]; for (let j = 0; j < last; j++) res[k++] = v; }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; i += st[d];
      if (idx[d] < shape[d]) break;
      i -= st[d] * shape[d]; idx[d] = 0;
    }
  }
  return res;
};

export const broadcastToP = definePrimitive<{ shape: Shape }>({
  name: 'broadcastTo',
  infer([x], { shape }) {
    const b = broadcastShapes('broadcastTo', x.shape, shape);
    if (!sameShape(b, shape)) throw new OpError('broadcastTo', `cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
    return { shape, dtype: x.dtype };
  },
  vjp: (ct, [x]) => [ct],
  batch: ([x], [bd], { shape }, _out, size) => {
    const lead = shape.length - (x.rank - 1), at = bd! + lead;
    const lifted = reshape(x, [...new Array<number>(lead).fill(1), ...x.shape]);
    return [broadcastTo(lifted, withBatch(shape, at, size)), at];
  },
  kernels: {
    cpu,
    gpu: shader(([x], _attrs, out) => `function (X) {
  ${coords(out.shape)}
  return X[${broadcastIndex(x.shape, out.shape)}];
}`),
  },
});

/** Repeat `x` to `shape` by numpy broadcasting. `broadcastTo(tensor([1, 2]), [3, 2])` */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const s = checkShape('broadcastTo', shape);
  return sameShape(x.shape, s) ? x : bind(broadcastToP, [x], { shape: s });
}
