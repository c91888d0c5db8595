/**
 * sum: add up values along axes (all by default). Floats accumulate in float64 and round once;
 * int and bool inputs sum to int32. vjp: broadcast the cotangent back over the summed axes.
 * batch: the same sum over the shifted axes; the batch axis stays (no copy).
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxes, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { reduceAxes } from '../batching.js';
import { astype } from './cast.js';
import { broadcastTo } from './broadcastTo.js';
import { reshape } from './reshape.js';
import { type Bound, boundCheck, coords, dot, type GpuBuf, type GpuContext, type GpuKernel, lit, names, splitReduction, splitStrides } from '../gpu/shader.js';
import { stridesOf } from '../shape.js';
import { loop, reducePlan } from '../cpu/loops.js';

type Attrs = { axes: number[] };

/**
 * A reduction's CPU loop: `step`, a statement folding the value `v` into its output's accumulator
 * `s`, compiled into a walk over x in row-major order (core/cpu/loops.ts). When the last collapsed
 * axis is reduced, `s` stays in a register along the run; when it is kept, a run of outputs is updated.
 */
export const reduceLoop = (name: string, step: string): ((x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array) => void) => {
  const run = loop({ name, operands: ['v', 's+='], body: `${step};` });
  return (x, shape, axes, acc) => run(reducePlan(shape, axes, 1, 1), [x, acc]);
};

const sumInto = reduceLoop('sum', 's += v');

const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
  const acc = new Float64Array(sizeOf(out.shape));
  sumInto(x.buf, x.shape, axes, acc);
  const res = alloc(out.dtype, acc.length);
  res.set(acc);
  return res;
};

/**
 * A GPU reduction: each output element loops over its reduced positions (nested loops with literal
 * bounds, one per reduced axis), folding values with `step` (statements over `v` and accumulator `s`),
 * skipping the positions a padded split adds (`bound`, splitReduction). `st`: x's strides, where x's
 * shape is not `shape` but split to it (splitStrides).
 */
export function reduceShader(shape: Shape, axes: readonly number[], init: string, step: string, result = 's', bound?: Bound, st = stridesOf(shape)): string {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const keptShape = kept.map((d) => shape[d]), keptNames = names(kept.length);
  const base = dot(keptNames, kept.map((d) => st[d]));
  const idx = [base, ...axes.map((a, j) => `k${j} * ${lit(st[a])}`)].join(' + ');
  const open = axes.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ');
  const body = `const v = X[${idx}];
    ${step}`;
  return `function (X) {
  ${coords(keptShape)}
  let s = ${init};
  ${open}
    ${bound ? `if (${boundCheck(bound, shape, (d) => (axes.includes(d) ? `k${axes.indexOf(d)}` : keptNames[kept.indexOf(d)]))}) { ${body} }` : body}
  ${'}'.repeat(axes.length)}
  return ${result};
}`;
}

/**
 * Reduce `buf` (of `shape`) over `axes` into `size` values on the GPU with reduceShader's `init` and
 * `step`, in passes where one thread per output would walk too far alone (splitReduction): each folds
 * the inner reduced axes into partials, and the partials are reduced the same way, until one pass
 * does. `step` must fold partials as it folds values (a sum, a max).
 */
export function reduceRuns(ctx: GpuContext, buf: GpuBuf, shape: Shape, axes: readonly number[], init: string, step: string, size: number): GpuBuf {
  const sp = splitReduction(shape, axes, 'padded');
  if (!sp) return ctx.run(reduceShader(shape, axes, init, step), [buf], size);
  const part = ctx.run(reduceShader(sp.shape, sp.inner, init, step, 's', sp.bound, splitStrides(stridesOf(shape), shape, sp.shape)), [buf], sizeOf(sp.mid));
  const res = reduceRuns(ctx, part, sp.mid, sp.midOuter, init, step, size);
  ctx.release(part);
  return res;
}

/** A GPU reduction kernel from reduceShader's `init` and `step` (reduceRuns). */
export const reduceGpu = (init: string, step: string): GpuKernel<Attrs> => (ctx, [x], { axes }, out) =>
  reduceRuns(ctx, x.buf, x.shape, axes, init, step, sizeOf(out.shape));

export const sumP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'sum',
  infer: ([x], { axes }) => ({
    shape: x.shape.filter((_, i) => !axes.includes(i)),
    dtype: x.dtype === 'bool' ? 'int32' : x.dtype,
  }),
  vjp: (ct, [x], _out, { axes }) => [broadcastTo(reshape(ct, keepDimsShape(x.shape, axes)), x.shape)],
  batch: ([x], [bd], { axes }) => {
    const r = reduceAxes(axes, bd!);
    return [bind(sumP, [x], { axes: r.axes }), r.bdim];
  },
  kernels: { cpu, gpu: reduceGpu('0.0', 's += v;') },
});

/** `shape` with 1 in place of each reduced axis. */
export const keepDimsShape = (shape: Shape, axes: readonly number[]): number[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** Sum over `axis` (all axes by default); bools sum to int32, even over no axes. `sum(tensor([[1, 2], [3, 4]]), 0)` → [4, 6] */
export function sum(x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor {
  const axes = normAxes('sum', axis, x.rank);
  const y = axes.length ? bind(sumP, [x], { axes }) : x.dtype === 'bool' ? astype(x, 'int32') : x;
  return opts.keepdims ? reshape(y, keepDimsShape(x.shape, axes)) : y;
}
