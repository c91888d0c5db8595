/**
 * concat: join tensors along an existing axis. vjp: slice the cotangent back into the pieces.
 * batch: every input's batch moved to the first batched input's batch axis (unbatched ones broadcast
 * there), then one concat along the shifted axis.
 */
import type { Kernel } from '../backend.js';
import { allocResult, promote, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, normAxis, OpError, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { atBatched, batchAt } from '../batching.js';
import { astype } from './cast.js';
import { slice } from './slice.js';
import { coords, dot, type GpuBuf, lit, MAX_KERNEL_INPUTS, names } from '../gpu/shader.js';
import { stridesOf } from '../shape.js';

type Attrs = { axis: number };

const cpu: Kernel<TypedArray, Attrs> = (xs, { axis }, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape));
  const outer = sizeOf(out.shape.slice(0, axis)), row = sizeOf(out.shape.slice(axis));
  let off = 0;
  for (const x of xs) {
    const w = sizeOf(x.shape.slice(axis));
    for (let o = 0; o < outer; o++) res.set(x.buf.subarray(o * w, (o + 1) * w), o * row + off);
    off += w;
  }
  return res;
};

/** A shader joining inputs of `shapes` along `axis` into `out`: each element reads the input its index falls in. */
function concatShader(shapes: readonly Shape[], axis: number, out: Shape): string {
  const c = names(out.length);
  let off = 0;
  const branches = shapes.map((x, i) => {
    const idx = c.map((n, d) => (d === axis ? `(${n} - ${lit(off)})` : n));
    off += x[axis];
    return `if (${c[axis]} < ${lit(off)}) { return X${i}[${dot(idx, stridesOf(x))}]; }`;
  });
  return `function (${shapes.map((_, i) => `X${i}`).join(', ')}) {
  ${coords(out)}
  ${branches.join('\n  ')}
  return 0.0;
}`;
}

export const concatP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'concat',
  infer(xs, { axis }) {
    const s0 = xs[0].shape;
    for (const x of xs) {
      if (x.shape.length !== s0.length || x.shape.some((d, i) => i !== axis && d !== s0[i])) {
        throw new OpError('concat', `shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ off axis ${axis}`);
      }
    }
    const shape = [...s0];
    shape[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
    return { shape, dtype: xs[0].dtype };
  },
  vjp(ct, xs, _out, { axis }) {
    let off = 0;
    return xs.map((x) => {
      const begin = x.shape.map((_, i) => (i === axis ? off : 0));
      off += x.shape[axis];
      return slice(ct, begin, x.shape);
    });
  },
  batch: (xs, bdims, { axis }, _out, size) => {
    const bd = bdims.find((b) => b !== null)!;
    return [bind(concatP, xs.map((x, i) => batchAt(x, bdims[i], size, bd)), { axis: atBatched(axis, bd) }), bd];
  },
  kernels: {
    cpu,
    gpu: (ctx, xs, { axis }, out) => {
      // a shader reads at most MAX_KERNEL_INPUTS textures: join that many at a time, then join the joins
      const joinedShape = (parts: readonly { shape: Shape }[]) => parts[0].shape.map((d, i) => (i === axis ? parts.reduce((a, x) => a + x.shape[axis], 0) : d));
      const join = (parts: { shape: Shape; buf: GpuBuf }[]): GpuBuf => {
        if (parts.length <= MAX_KERNEL_INPUTS) {
          const shape = joinedShape(parts);
          return ctx.run(concatShader(parts.map((x) => x.shape), axis, shape), parts.map((x) => x.buf), sizeOf(shape));
        }
        const joined: { shape: Shape; buf: GpuBuf; made?: boolean }[] = [];
        for (let i = 0; i < parts.length; i += MAX_KERNEL_INPUTS) {
          const group = parts.slice(i, i + MAX_KERNEL_INPUTS);
          joined.push(group.length === 1 ? group[0] : { shape: joinedShape(group), buf: join(group), made: true });
        }
        const res = join(joined);
        for (const j of joined) if (j.made) ctx.release(j.buf);
        return res;
      };
      return join(xs.map((x) => ({ shape: x.shape, buf: x.buf })));
    },
  },
});

/** Join along `axis` (default 0). `concat([tensor([1]), tensor([2, 3])])` → [1, 2, 3] */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new OpError('concat', 'needs at least one tensor');
  if (xs.some((x) => x.rank === 0)) throw new OpError('concat', 'cannot join scalars; use stack');
  const ax = normAxis('concat', axis, xs[0].rank);
  if (xs.length === 1) return xs[0];
  const dt = xs.map((x) => x.dtype).reduce(promote);
  return bind(concatP, xs.map((x) => astype(x, dt)), { axis: ax });
}
