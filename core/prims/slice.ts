/**
 * slice: a contiguous box `begin .. begin + size` of a tensor. vjp: pad the cotangent back with zeros.
 * batch: the whole batch axis is taken along with the box.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { pad } from './pad.js';
import { copyStrided } from '../cpu/copy.js';
import { coords, dot, names, shader } from '../gpu/shader.js';

type Attrs = { begin: number[]; size: number[] };

const cpu: Kernel<TypedArray, Attrs> = ([x], { begin }, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape)), st = stridesOf(x.shape);
  copyStrided(x.buf, { offset: begin.reduce((acc, b, d) => acc + b * st[d], 0), strides: st }, res, { offset: 0, strides: stridesOf(out.shape) }, out.shape);
  return res;
};

export const sliceP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'slice',
  infer: ([x], { size }) => ({ shape: size, dtype: x.dtype }),
  vjp: (ct, [x], _out, { begin, size }) => [pad(ct, begin.map((b, d) => [b, x.shape[d] - b - size[d]]))],
  batch: ([x], [bd], { begin, size }, _out, n) => [bind(sliceP, [x], { begin: withBatch(begin, bd!, 0), size: withBatch(size, bd!, n) }), bd],
  kernels: {
    cpu,
    gpu: shader(([x], { begin }, out) => {
      const st = stridesOf(x.shape);
      return `function (X) {
  ${coords(out.shape)}
  return X[${dot(names(out.shape.length), st, begin.reduce((acc, b, d) => acc + b * st[d], 0))}];
}`;
    }),
  },
});

/**
 * The box starting at `begin` with extent `size` (-1 = to the end). Negative begins count from the end.
 * `slice(x, [0, 1], [-1, 2])` takes columns 1..2 of every row.
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new OpError('slice', `begin ${fmt(begin)}${size ? ` and size ${fmt(size)}` : ''} must have one entry per axis of ${fmt(x.shape)}`);
  }
  const b = begin.map((v, d) => (v < 0 ? v + x.shape[d] : v));
  const s = b.map((v, d) => (size === undefined || size[d] === -1 ? x.shape[d] - v : size[d]));
  b.forEach((v, d) => {
    if (!Number.isInteger(v) || !Number.isInteger(s[d]) || v < 0 || s[d] < 0 || v + s[d] > x.shape[d]) {
      throw new OpError('slice', `begin ${fmt(begin)} size ${fmt(size ?? [])} is out of bounds for shape ${fmt(x.shape)} (axis ${d})`);
    }
  });
  if (s.every((v, d) => v === x.shape[d])) return x;
  return bind(sliceP, [x], { begin: b, size: s });
}
