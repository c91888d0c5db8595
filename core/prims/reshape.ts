/**
 * reshape: the same values in row-major order under a new shape. On the CPU it shares the input's
 * array (tensors are immutable, so sharing is safe and free). vjp: reshape back.
 * batch: the batch first (a copy unless it is there already), then [size, ...shape].
 */
import { definePrimitive } from '../primitive.js';
import { OpError, fmt, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { moveAxis } from '../batching.js';

export const reshapeP = definePrimitive<{ shape: Shape }>({
  name: 'reshape',
  infer: ([x], { shape }) => ({ shape, dtype: x.dtype }),
  vjp: (ct, [x]) => [reshape(ct, x.shape)],
  batch: ([x], [bd], { shape }, _out, size) => [reshape(moveAxis(x, bd!, 0), [size, ...shape]), 0],
  kernels: { cpu: ([x]) => x.buf, gpu: (_ctx, [x]) => x.buf },
});

/** `x` with a new shape of the same size; one entry may be -1. `reshape(arange(6), [2, -1])` */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const hole = s.indexOf(-1);
  if (hole >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== hole));
    if (s.lastIndexOf(-1) !== hole || rest === 0 || x.size % rest !== 0) {
      throw new OpError('reshape', `cannot reshape ${fmt(x.shape)} (size ${x.size}) into ${fmt(shape)}`);
    }
    s[hole] = x.size / rest;
  }
  if (!s.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(s) !== x.size) {
    throw new OpError('reshape', `cannot reshape ${fmt(x.shape)} (size ${x.size}) into ${fmt(shape)}`);
  }
  if (s.length === x.shape.length && s.every((d, i) => d === x.shape[i])) return x;
  return bind(reshapeP, [x], { shape: s });
}
