/**
 * max: the largest value along axes (all by default); nan if any value there is nan.
 * vjp: the cotangent is shared equally among the positions that attain the max.
 * NOTE: sharing ties (rather than picking one) makes the rule symmetric and grad-of-grad friendly.
 * min.ts defines min with the same machinery (`defineExtremum`), so both have their rules here.
 * batch: the same reduction over the shifted axes; the batch axis stays (no copy).
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxes, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { reduceAxes } from '../batching.js';
import { broadcastTo } from './broadcastTo.js';
import { astype } from './cast.js';
import { equal } from './compare.js';
import { div } from './div.js';
import { reshape } from './reshape.js';
import { keepDimsShape, reduceLoop, sum } from './sum.js';
import { where } from './where.js';
import { reduceGpu } from './sum.js';

type Attrs = { axes: number[] };

/**
 * A reduction keeping one of the values (max or min): `init` is its identity (-inf or inf), `step`
 * folds `v` into `s` (on the CPU and, as `gpuStep`, in a shader). Values pass through float64
 * accumulators, which hold every int32 and bool exactly.
 */
export function defineExtremum(name: string, init: number, step: string, gpuStep: string): Primitive<Attrs> {
  const into = reduceLoop(name, step);
  const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
    const acc = new Float64Array(sizeOf(out.shape)).fill(init);
    into(x.buf, x.shape, axes, acc);
    const res = alloc(out.dtype, acc.length);
    res.set(acc);
    return res;
  };
  const p: Primitive<Attrs> = definePrimitive<Attrs>({
    name,
    infer([x], { axes }) {
      for (const a of axes) if (x.shape[a] === 0) throw new OpError(name, `cannot take the ${name} over axis ${a} of size 0`);
      return { shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype };
    },
    vjp: (ct, [x], out, { axes }) => {
      const keep = keepDimsShape(x.shape, axes);
      const hit = equal(x, reshape(out, keep));
      const count = sum(astype(hit, ct.dtype), axes, { keepdims: true });
      return [where(hit, broadcastTo(div(reshape(ct, keep), count), x.shape), 0)];
    },
    batch: ([x], [bd], { axes }) => {
      const r = reduceAxes(axes, bd!);
      return [bind(p, [x], { axes: r.axes }), r.bdim];
    },
    kernels: { cpu, gpu: reduceGpu(init > 0 ? '(1.0 / 0.0)' : '(-1.0 / 0.0)', gpuStep) },
  });
  return p;
}

/** Apply a reduction primitive `p` over `axis` (all by default), as the public op `op`. */
export function reduceBy(p: Primitive<Attrs>, op: string, x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor {
  const axes = normAxes(op, axis, x.rank);
  const y = axes.length ? bind(p, [x], { axes }) : x;
  return opts.keepdims ? reshape(y, keepDimsShape(x.shape, axes)) : y;
}

// a nan, once stored, stays: `v > nan` is false and only another nan passes `v !== v`
export const maxP = defineExtremum('max', -Infinity, 'if (v > s || v !== v) s = v', 'if (v > s || v != v) { s = v; }');

/** Max over `axis` (all by default). `max(tensor([[1, 5], [3, 4]]), 1)` → [5, 4] */
export const max = (x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor => reduceBy(maxP, 'max', x, axis, opts);
