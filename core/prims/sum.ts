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

/**
 * The axes of `shape` in as few as possible: size-1 axes dropped, neighbours merged when both are
 * reduced or both kept. A sum over [0, 2, 3] of [B, C, H, W] becomes [B, C, H * W] with the first
 * and last reduced: runs of H * W values that all fold into one output.
 */
export function collapseReduced(shape: Shape, axes: readonly number[]): { shape: number[]; axes: number[] } {
  const dims: number[] = [], red: boolean[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const r = axes.includes(i);
    if (dims.length && red[red.length - 1] === r) dims[dims.length - 1] *= d;
    else { dims.push(d); red.push(r); }
  });
  if (!dims.length) { dims.push(1); red.push(false); }
  return { shape: dims, axes: red.flatMap((r, i) => (r ? [i] : [])) };
}

/**
 * Walk x once in row-major order, run by run along the (collapsed) last axis. If that axis is
 * reduced, a run folds into one accumulator `s` held in a register and stored once; if it is
 * kept, each value folds into its own output along a run of outputs. An odometer over the other
 * axes moves the output offset (`ost`: 0 along reduced axes).
 */
const REDUCE_SRC = `
  const r = shape.length, n = x.length;
  if (n === 0) return;
  const last = shape[r - 1], lo = ost[r - 1];
  const idx = new Int32Array(r);
  let base = 0;
  for (let k = 0; k < n; k += last) {
    if (lo === 0) { let s = acc[base]; for (let j = 0; j < last; j++) { const v = x[k + j]; STEP; } acc[base] = s; }
    else { for (let j = 0; j < last; j++) { const o = base + j; let s = acc[o]; const v = x[k + j]; STEP; acc[o] = s; } }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; base += ost[d];
      if (idx[d] < shape[d]) break;
      base -= ost[d] * shape[d]; idx[d] = 0;
    }
  }`;

/**
 * A reduction loop with `step` (a statement folding the value `v` into the accumulator `s`)
 * compiled into it: contiguous reads and no call per element. `acc` holds the outputs (row-major
 * over the kept axes) and their initial values. One copy per input array kind, with its own source
 * text (see perDtype in _elementwise.ts), so each sees a single typed-array kind.
 */
export function makeReducer(step: string): (x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array) => void {
  const loops = new Map<string, Function>();
  return (x, shape, axes, acc) => {
    const kind = x.constructor.name;
    let loop = loops.get(kind);
    if (!loop) { loop = new Function('x', 'shape', 'ost', 'acc', `/* ${step} ${kind} */` + REDUCE_SRC.replaceAll('STEP', step)); loops.set(kind, loop); }
    const c = collapseReduced(shape, axes);
    loop(x, c.shape, reducedStrides(c.shape, c.axes), acc);
  };
}

const sumInto = makeReducer('s += v');

const cpu: Kernel<TypedArray, Attrs> = ([x], { axes }, out) => {
  const acc = new Float64Array(sizeOf(out.shape));
  sumInto(x.buf, x.shape, axes, acc);
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
  kernels: { cpu, gpu: shader(([x], { axes }) => reduceShader(x.shape, axes, '0.0', 's += v;')) },
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
