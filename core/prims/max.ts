/**
 * max: the largest value along axes (all by default); nan if any value there is nan.
 * vjp: the cotangent is shared equally among the positions that attain the max.
 * NOTE: sharing ties (rather than picking one) makes the rule symmetric and grad-of-grad friendly.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { normAxes, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { broadcastTo } from './broadcastTo.js';
import { astype } from './cast.js';
import { equal } from './compare.js';
import { div } from './div.js';
import { reshape } from './reshape.js';
import { keepDimsShape, makeReducer, sum } from './sum.js';
import { where } from './where.js';
import { shader } from '../gpu/shader.js';
import { reduceShader } from './sum.js';

type Attrs = { axes: number[] };

// a nan, once stored, stays: `v > nan` is false and only another nan passes `v !== v`
const maxInto = makeReducer('if (v > s || v !== v) s = v');

const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
  const acc = new Float64Array(sizeOf(out.shape)).fill(-Infinity);
  maxInto(x.buf, x.shape, axes, acc);
  const res = alloc(out.dtype, acc.length);
  res.set(acc);
  return res;
};

export const maxP = definePrimitive<Attrs>({
  name: 'max',
  infer([x], { axes }) {
    for (const a of axes) if (x.shape[a] === 0) throw new OpError('max', `cannot take the max over axis ${a} of size 0`);
    return { shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype };
  },
  vjp: (ct, [x], out, { axes }) => {
    const keep = keepDimsShape(x.shape, axes);
    const hit = equal(x, reshape(out, keep));
    const count = sum(astype(hit, ct.dtype), axes, { keepdims: true });
    return [where(hit, broadcastTo(div(reshape(ct, keep), count), x.shape), 0)];
  },
  kernels: { cpu, gpu: shader(([x], { axes }) => reduceShader(x.shape, axes, '(-1.0 / 0.0)', 'if (v > s || v != v) { s = v; }')) },
});

/** Max over `axis` (all by default). `max(tensor([[1, 5], [3, 4]]), 1)` → [5, 4] */
export function max(x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor {
  const axes = normAxes('max', axis, x.rank);
  const y = axes.length ? bind(maxP, [x], { axes }) : x;
  return opts.keepdims ? reshape(y, keepDimsShape(x.shape, axes)) : y;
}
