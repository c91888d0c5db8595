/**
 * moments: the mean and the biased variance along axes, in one primitive, stacked as [2, ...kept]
 * (mean at 0, variance at 1); `moments(x, axes)` hands them back as two tensors, as tf.nn.moments.
 * Floats accumulate in float64: the mean first, then the squared deviations from that float64 mean
 * (two reading passes, no E[x^2] - E[x]^2 cancellation), rounded once.
 * vjp: x gets dmean / n + dvar * 2 (x - mean) / n, the mean read from the output.
 * batch: the same over the shifted axes; the batch axis stays among the kept ones (no copy).
 *
 * Why a primitive: BatchNorm needs both statistics of every activation. Composed as mean, sub, mul
 * and mean again they take four passes over x with two full-size temporaries, and the pullback of
 * that composition as many again; here it is two passes forward and three back.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxes, OpError, type Shape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { reduceAxes } from '../batching.js';
import { type Bound, boundCheck, coords, splitStrides, dot, type GpuKernel, lit, splitReduction, twoPasses } from '../gpu/shader.js';
import { add } from './add.js';
import { div } from './div.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';
import { slice } from './slice.js';
import { sub } from './sub.js';
import { keepDimsShape } from './sum.js';
import { channelMoments } from './_channels.js';

type Attrs = { axes: number[] };

const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
  const res = alloc(out.dtype, sizeOf(out.shape));
  res.set(channelMoments(x.buf, x.shape, axes));
  return res;
};

/**
 * A shader for [2, ...kept]: each output element loops over its reduced positions, once for the
 * mean and, for the variance, once more. With `partials` (a first pass's [2, ...shape] of means and
 * variances) it combines them instead: the mean of the means, and the mean of (variance + squared
 * distance of the partial's mean from the mean), which is the variance of the union (Chan et al.'s
 * parallel update), each partial weighted by its count. Counts are equal but where a padded split
 * (splitReduction's `bound`) makes the last run short: the first pass then skips the positions past
 * the end, and the second (`runs`) weighs the run at position j along `axis` by how many of its `len`
 * positions lie before `n`. `st`: x's strides, where x's shape is not `shape` but split to it
 * (splitStrides).
 */
function momentsShader(shape: Shape, axes: readonly number[], { partials = false, bound, runs, st = stridesOf(shape) }:
  { partials?: boolean; bound?: Bound; runs?: { axis: number; len: number; n: number }; st?: readonly number[] } = {}): string {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const at = (d: number) => (axes.includes(d) ? `k${axes.indexOf(d)}` : `c${kept.indexOf(d) + 1}`);
  const idx = [dot(kept.map(at), kept.map((d) => st[d])), ...axes.map((a, j) => `k${j} * ${lit(st[a])}`)].join(' + ');
  const open = axes.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ');
  const close = '}'.repeat(axes.length);
  const w = bound ? `(${boundCheck(bound, shape, at)} ? 1.0 : 0.0)`
    : runs ? `Math.max(Math.min(${lit(runs.n)} - ${at(runs.axis)} * ${lit(runs.len)}, ${lit(runs.len)}), 0.0)` : undefined;
  // each position's (or partial's) weight w, and their total n; without weights, the count as a literal
  const weighed = (stmt: string) => (w ? `const w = ${w}; if (w > 0.0) { ${stmt} }` : stmt);
  const n = w ? 'n' : lit(sizeOf(axes.map((a) => shape[a])));
  const spread = partials ? `const d = X[${idx}] - m; q += ${w ? 'w * ' : ''}(X[${lit(sizeOf(shape))} + ${idx}] + d * d);` : `const d = X[${idx}] - m; q += ${w ? 'w * ' : ''}d * d;`;
  return `function (X) {
  ${coords([2, ...kept.map((d) => shape[d])])}
  let s = 0.0;${w ? '\n  let n = 0.0;' : ''}
  ${open} ${weighed(w ? `s += w * X[${idx}]; n += w;` : `s += X[${idx}];`)} ${close}
  const m = s / ${n};
  if (c0 < 0.5) { return m; }
  let q = 0.0;
  ${open} ${weighed(spread)} ${close}
  return q / ${n};
}`;
}

/** moments on the GPU, in two passes where one thread per statistic would walk too far (splitReduction). */
const gpu: GpuKernel<Attrs> = (ctx, [x], { axes }, out) => {
  const sp = splitReduction(x.shape, axes, 'padded');
  if (!sp) return ctx.run(momentsShader(x.shape, axes), [x.buf], sizeOf(out.shape));
  const b = sp.bound, runs = b && { axis: b.axis - sp.inner.filter((d) => d < b.axis).length, len: sp.shape[b.axis + 1], n: b.n };
  return twoPasses(ctx, momentsShader(sp.shape, sp.inner, { bound: b, st: splitStrides(stridesOf(x.shape), x.shape, sp.shape) }), [x.buf], 2 * sizeOf(sp.mid), momentsShader(sp.mid, sp.midOuter, { partials: true, runs }), sizeOf(out.shape));
};

export const momentsP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'moments',
  infer([x], { axes }) {
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new OpError('moments', `needs a float tensor, got ${x.dtype}; cast it with astype(x, 'float32')`);
    return { shape: [2, ...x.shape.filter((_, i) => !axes.includes(i))], dtype: x.dtype };
  },
  vjp: (ct, [x], out, { axes }) => {
    const keep = keepDimsShape(x.shape, axes), n = sizeOf(axes.map((a) => x.shape[a]));
    const [dmean, dvar] = splitMoments(ct, keep), [mean] = splitMoments(out, keep);
    return [add(mul(sub(x, mean), mul(dvar, 2 / n)), div(dmean, n))];
  },
  batch: ([x], [bd], { axes }) => {
    const r = reduceAxes(axes, bd!);
    return [bind(momentsP, [x], { axes: r.axes }), 1 + r.bdim]; // [2, ...kept]
  },
  kernels: { cpu, gpu },
});

/** The two stacked statistics [2, ...kept] as tensors of shape `shape` (e.g. keepDimsShape's). */
export function splitMoments(m: Tensor, shape: readonly number[]): [Tensor, Tensor] {
  const size = [1, ...m.shape.slice(1)];
  return [0, 1].map((i) => reshape(slice(m, [i, ...size.slice(1).map(() => 0)], size), shape)) as [Tensor, Tensor];
}

/**
 * The moments primitive's own output, [2, ...kept]: the mean, then the biased variance, over `axes`
 * (BatchNorm's statistics, as the BatchNorm primitives take them).
 */
export const stackedMoments = (x: Tensor, axes: readonly number[]): Tensor =>
  bind(momentsP, [x], { axes: normAxes('moments', axes, x.rank) });

/**
 * Mean and biased variance over `axis` (all axes by default), in one primitive.
 * `const [mean, variance] = moments(x, [0, 2, 3], {keepdims: true})`
 */
export function moments(x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): [Tensor, Tensor] {
  const axes = normAxes('moments', axis, x.rank);
  const kept = x.shape.filter((_, i) => !axes.includes(i));
  return splitMoments(bind(momentsP, [x], { axes }), opts.keepdims ? keepDimsShape(x.shape, axes) : kept);
}
