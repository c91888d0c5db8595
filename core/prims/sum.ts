/**
 * sum: add up values along axes (all by default). Floats accumulate in float64 and round once;
 * int and bool inputs sum to int32. vjp: broadcast the cotangent back over the summed axes.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { normAxes, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { broadcastTo } from './broadcastTo.js';
import { reshape } from './reshape.js';
import { coords, dot, lit, names, shader } from '../gpu/shader.js';
import { stridesOf } from '../shape.js';

type Attrs = { axes: number[] };

/** For each input axis, its stride in the reduced output (0 for reduced axes). */
export function reducedStrides(shape: Shape, axes: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) if (!axes.includes(i)) { st[i] = acc; acc *= shape[i]; }
  return st;
}

const REDUCE_SRC = `
  const r = shape.length, n = x.length;
  if (n === 0) return;
  if (r === 0) { const o = 0, v = x[0]; STEP; return; }
  const last = shape[r - 1], lo = ost[r - 1];
  const idx = new Int32Array(r);
  let base = 0, k = 0;
  for (let outer = n / last; outer > 0; outer--) {
    if (lo === 0) { const o = base; for (let j = 0; j < last; j++) { const v = x[k++]; STEP; } }
    else { for (let j = 0; j < last; j++) { const o = base + j * lo, v = x[k++]; STEP; } }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; base += ost[d];
      if (idx[d] < shape[d]) break;
      base -= ost[d] * shape[d]; idx[d] = 0;
    }
  }`;

/**
 * A reduction loop with `step` (a statement over the accumulator array `acc`, output index `o` and
 * value `v`) compiled into it: walk `x` once in row-major order, folding each element into its output,
 * contiguous reads and no call per element.
 */
export function makeReducer(step: string): (x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array) => void {
  const loop = new Function('x', 'shape', 'ost', 'acc', REDUCE_SRC.replaceAll('STEP', step)) as
    (x: TypedArray, shape: Shape, ost: number[], acc: Float64Array) => void;
  return (x, shape, axes, acc) => loop(x, shape, reducedStrides(shape, axes), acc);
}

const sumInto = makeReducer('acc[o] += v');

const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
  const acc = new Float64Array(sizeOf(out.shape));
  const r = x.shape.length;
  const trailing = axes.length > 0 && axes.every((a, i) => a === r - axes.length + i);
  if (trailing) {
    // the common case: summing contiguous trailing axes is one tight loop per output
    const m = sizeOf(x.shape.slice(r - axes.length)), src = x.buf;
    for (let o = 0, k = 0; o < acc.length; o++) { let s = 0; for (let j = 0; j < m; j++) s += src[k++]; acc[o] = s; }
  } else {
    sumInto(x.buf, x.shape, axes, acc);
  }
  const res = alloc(out.dtype, acc.length);
  res.set(acc);
  return res;
};

/**
 * A GPU reduction: each output element loops over its reduced positions (nested loops with literal
 * bounds, one per reduced axis), folding values with `step` (statements over `v` and accumulator `s`).
 */
export function reduceShader(shape: Shape, axes: readonly number[], init: string, step: string, result = 's'): string {
  const st = stridesOf(shape);
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const keptShape = kept.map((d) => shape[d]);
  const base = dot(names(kept.length), kept.map((d) => st[d]));
  const idx = [base, ...axes.map((a, j) => `k${j} * ${lit(st[a])}`)].join(' + ');
  const open = axes.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ');
  return `function (X) {
  ${coords(keptShape)}
  let s = ${init};
  ${open}
    const v = X[${idx}];
    ${step}
  ${'}'.repeat(axes.length)}
  return ${result};
}`;
}

export const sumP = definePrimitive<Attrs>({
  name: 'sum',
  infer: ([x], { axes }) => ({
    shape: x.shape.filter((_, i) => !axes.includes(i)),
    dtype: x.dtype === 'bool' ? 'int32' : x.dtype,
  }),
  vjp: (ct, [x], _out, { axes }) => [broadcastTo(reshape(ct, keepDimsShape(x.shape, axes)), x.shape)],
  kernels: { cpu, gpu: shader(([x], { axes }) => reduceShader(x.shape, axes, '0.0', 's += v;')) },
});

/** `shape` with 1 in place of each reduced axis. */
export const keepDimsShape = (shape: Shape, axes: readonly number[]): number[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** Sum over `axis` (all axes by default). `sum(tensor([[1, 2], [3, 4]]), 0)` → [4, 6] */
export function sum(x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor {
  const axes = normAxes('sum', axis, x.rank);
  const y = axes.length ? bind(sumP, [x], { axes }) : x;
  return opts.keepdims ? reshape(y, keepDimsShape(x.shape, axes)) : y;
}
