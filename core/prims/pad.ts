/**
 * pad: surround a tensor with a constant (0 by default), converted to the tensor's dtype as astype
 * converts (2 pads a bool with true, 2.9 an int32 with 2). vjp: slice the cotangent's interior.
 * batch: no padding along the batch axis.
 * On the GPU an int32 fill beyond ±2^24 is an OpError, as such a value is at upload (core/gpu/shader.ts).
 */
import type { Kernel } from '../backend.js';
import { alloc, castScalar, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { slice } from './slice.js';
import { copyStrided } from '../cpu/copy.js';
import { checkExactInt, coords, dot, lit, names, shader } from '../gpu/shader.js';

type Attrs = { pads: [number, number][]; value: number };

const cpu: Kernel<TypedArray, Attrs> = ([x], { pads, value }, out) => {
  const res = alloc(out.dtype, sizeOf(out.shape)), ost = stridesOf(out.shape);
  if (value !== 0) res.fill(value);
  copyStrided(x.buf, { offset: 0, strides: stridesOf(x.shape) }, res, { offset: pads.reduce((acc, [lo], d) => acc + lo * ost[d], 0), strides: ost }, x.shape);
  return res;
};

export const padP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'pad',
  infer: ([x], { pads }) => ({ shape: x.shape.map((d, i) => d + pads[i][0] + pads[i][1]), dtype: x.dtype }),
  vjp: (ct, [x], _out, { pads }) => [slice(ct, pads.map(([lo]) => lo), x.shape)],
  batch: ([x], [bd], { pads, value }) => [bind(padP, [x], { pads: withBatch<[number, number]>(pads, bd!, [0, 0]), value }), bd],
  kernels: {
    cpu,
    gpu: shader(([x], { pads, value }, out) => {
      if (x.dtype === 'int32') checkExactInt('pad', [value], 'int32 fill value');
      const st = stridesOf(x.shape), r = x.shape.length;
      const src = names(r).map((c, d) => `(${c} - ${lit(pads[d][0])})`);
      const inside = src.map((q, d) => `${q} >= 0.0 && ${q} < ${lit(x.shape[d])}`).join(' && ') || 'true';
      return `function (X) {
  ${coords(out.shape)}
  if (${inside}) { return X[${dot(src, st)}]; }
  return ${lit(value)};
}`;
    }),
  },
});

/** Pad each axis by `[before, after]` entries of `value`. `pad(tensor([1, 2]), [[1, 0]])` → [0, 1, 2] */
export function pad(x: Tensor, pads: readonly (readonly [number, number] | number[])[], value = 0): Tensor {
  if (pads.length !== x.rank || !pads.every((p) => p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0))) {
    throw new OpError('pad', `pads ${JSON.stringify(pads)} must be one [before, after] pair of non-negative integers per axis of ${fmt(x.shape)}`);
  }
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  return bind(padP, [x], { pads: pads.map(([a, b]) => [a, b] as [number, number]), value: castScalar(value, x.dtype) });
}
