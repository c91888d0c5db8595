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
import { lit, shader } from '../gpu/shader.js';

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
    gpu: shader(([x], { axis }) => {
      // best index in s; the value it holds in b (a nan, once seen, wins and stays)
      const inner = sizeOf(x.shape.slice(axis + 1)), n = x.shape[axis];
      return `function (X) {
  const i = this.thread.x;
  const o = Math.floor((i + 0.5) / ${lit(inner)});
  const base = o * ${lit(n * inner)} + (i - o * ${lit(inner)});
  let b = (-1.0 / 0.0);
  let s = 0.0;
  for (let j = 0; j < ${n}; j++) {
    const v = X[base + j * ${lit(inner)}];
    if (v > b || (v != v && b == b)) { b = v; s = j; }
  }
  return s;
}`;
    }),
  },
});

/** Index of the max along `axis` (of the flattened tensor by default). `argmax(tensor([1, 9, 3]))` → 1 */
export function argmax(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return bind(argmaxP, [reshape(x, [-1])], { axis: 0 });
  return bind(argmaxP, [x], { axis: normAxis('argmax', axis, x.rank) });
}
