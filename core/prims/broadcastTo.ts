/**
 * broadcastTo: repeat a tensor along new or size-1 axes (numpy rules). vjp: the cotangent as it is (backprop's unbroadcast sums it back to x's shape).
 * batch: leading 1s give the example the target's rank, then broadcast with the batch kept in place.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, checkShape, fmt, OpError, sameShape, type Shape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { reshape } from './reshape.js';
import { copyStrided } from '../cpu/copy.js';
import { broadcastIndex, coords, shader } from '../gpu/shader.js';

const cpu: Kernel<TypedArray, { shape: Shape }> = ([x], _attrs, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape));
  if (x.buf.length === 1) return res.fill(x.buf[0] as never);
  copyStrided(x.buf, { offset: 0, strides: broadcastStrides(x.shape, out.shape) }, res, { offset: 0, strides: stridesOf(out.shape) }, out.shape);
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
