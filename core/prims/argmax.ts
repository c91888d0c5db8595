/**
 * argmax: the index of the largest value along one axis (the first, at ties), as int32. No derivative.
 * batch: the same argmax along the shifted axis; the batch axis stays (no copy).
 */
import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxis, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { reduceAxes } from '../batching.js';
import { reshape } from './reshape.js';
import { coords, floorDiv, type GpuKernel, lit, splitReduction } from '../gpu/shader.js';

const cpu: Kernel<TypedArray, { axis: number }> = ([x], { axis }, out) => {
  const outer = sizeOf(x.shape.slice(0, axis)), n = x.shape[axis], inner = sizeOf(x.shape.slice(axis + 1));
  const res = new Int32Array(sizeOf(out.shape)), src = x.buf;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity, bi = 0;
      for (let j = 0, k = o * n * inner + i; j < n; j++, k += inner) {
        const v = src[k];
        if (v > best || (v !== v && best === best)) { best = v; bi = j; }
      }
      res[o * inner + i] = bi;
    }
  }
  return res;
};

/**
 * The GPU's argmax: a thread an output walks the axis, keeping the best index in s and the value it
 * holds in b (a nan, once seen, wins and stays). A long axis goes in two passes (splitReduction):
 * the first finds the best index in each of a runs of b positions (-1 for a run past the end), the
 * second the best among those, in order, so the first of equals still wins.
 */
const gpu: GpuKernel<{ axis: number }> = (ctx, [x], { axis }, out) => {
  const outer = sizeOf(x.shape.slice(0, axis)), n = x.shape[axis], inner = sizeOf(x.shape.slice(axis + 1));
  const sp = splitReduction([outer, n, inner], [1], 'padded');
  // positions from + 0 .. from + count - 1, each read as index q (skipped unless 0 <= q < n)
  const walk = (from: string, count: number, read: (p: string) => string) => `
  let b = (-1.0 / 0.0);
  let s = -1.0;
  for (let j = 0; j < ${count}; j++) {
    const p = ${from} + j;
    ${read('p')}
    if (q >= 0.0 && q < ${lit(n)}) {
      const v = X[base + q * ${lit(inner)}];
      if (s < 0.0 || v > b || (v != v && b == b)) { b = v; s = q; }
    }
  }
  return s;`;
  const split = (i: string, size: number) => `${floorDiv('o', i, size, outer * inner)}
  const base = o * ${lit(n * inner)} + (${i} - o * ${lit(size)});`;
  if (!sp) {
    return ctx.run(`function (X) {
  const i = this.thread.x;
  ${split('i', inner)}${walk('0.0', n, (p) => `const q = ${p};`)}
}`, [x.buf], sizeOf(out.shape));
  }
  // the first pass: thread (o, g, i) of [outer, a, inner] walks positions g b .. g b + b - 1
  const a = sp.shape[1], len = sp.shape[2];
  const part = ctx.run(`function (X) {
  ${coords([outer, a, inner], 'u')}
  const g = u1;
  const i = u0 * ${lit(inner)} + u2;
  ${split('i', inner)}${walk(`g * ${lit(len)}`, len, (p) => `const q = ${p};`)}
}`, [x.buf], outer * a * inner);
  // the second: output (o, i) reads its a partial indices (P is [outer, a, inner]) and the values there
  const res = ctx.run(`function (X, P) {
  const i = this.thread.x;
  ${split('i', inner)}
  const pbase = o * ${lit(a * inner)} + (i - o * ${lit(inner)});${walk('0.0', a, (p) => `const q = P[pbase + ${p} * ${lit(inner)}];`)}
}`, [x.buf, part], sizeOf(out.shape));
  ctx.release(part);
  return res;
};

export const argmaxP: Primitive<{ axis: number }> = definePrimitive<{ axis: number }>({
  name: 'argmax',
  infer([x], { axis }) {
    if (x.shape[axis] === 0) throw new OpError('argmax', `axis ${axis} has size 0`);
    return { shape: x.shape.filter((_, i) => i !== axis), dtype: 'int32' };
  },
  batch: ([x], [bd], { axis }) => {
    const r = reduceAxes([axis], bd!);
    return [bind(argmaxP, [x], { axis: r.axes[0] }), r.bdim];
  },
  kernels: {
    cpu,
    gpu,
  },
});

/** Index of the max along `axis` (of the flattened tensor by default). `argmax(tensor([1, 9, 3]))` → 1 */
export function argmax(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return bind(argmaxP, [reshape(x, [-1])], { axis: 0 });
  return bind(argmaxP, [x], { axis: normAxis('argmax', axis, x.rank) });
}
