/**
 * where: pick a where cond is true, else b, broadcasting all three. vjp: ct goes to a where cond
 * holds and to b elsewhere; cond gets none.
 */
import type { Kernel } from '../backend.js';
import { alloc, promote, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, OpError, sizeOf } from '../shape.js';
import { bind } from '../trace.js';
import { lift, type TensorLike } from './_elementwise.js';
import { unbroadcast } from './_unbroadcast.js';
import { astype } from './cast.js';
import type { Tensor } from '../tensor.js';
import { broadcastIndex, coords, shader } from '../gpu/shader.js';

const cpu: Kernel<TypedArray, {}> = ([c, a, b], _attrs, out) => {
  const res = alloc(out.dtype, sizeOf(out.shape));
  const n = res.length;
  if (n === 0) return res;
  const [sc, sa, sb] = [c, a, b].map((t) => broadcastStrides(t.shape, out.shape));
  const C = c.buf, A = a.buf, B = b.buf, shape = out.shape;
  const r = shape.length;
  if (r === 0) { res[0] = C[0] ? A[0] : B[0]; return res; }
  const last = shape[r - 1], lc = sc[r - 1], la = sa[r - 1], lb = sb[r - 1];
  const idx = new Int32Array(r);
  let ic = 0, ia = 0, ib = 0, k = 0;
  for (let o = n / last; o > 0; o--) {
    for (let j = 0; j < last; j++) res[k++] = C[ic + j * lc] ? A[ia + j * la] : B[ib + j * lb];
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; ic += sc[d]; ia += sa[d]; ib += sb[d];
      if (idx[d] < shape[d]) break;
      ic -= sc[d] * shape[d]; ia -= sa[d] * shape[d]; ib -= sb[d] * shape[d]; idx[d] = 0;
    }
  }
  return res;
};

export const whereP = definePrimitive<{}>({
  name: 'where',
  infer([c, a, b]) {
    if (c.dtype !== 'bool') throw new OpError('where', `condition must be bool, got ${c.dtype}; compare first, e.g. greater(x, 0)`);
    if (a.dtype !== b.dtype) throw new OpError('where', `branches have different dtypes: ${a.dtype} and ${b.dtype}`);
    return { shape: broadcastShapes('where', c.shape, a.shape, b.shape), dtype: a.dtype };
  },
  vjp: (ct, [c, a, b], _out, _attrs, need) => [
    null,
    need[1] ? unbroadcast(where(c, ct, 0), a.shape) : null,
    need[2] ? unbroadcast(where(c, 0, ct), b.shape) : null,
  ],
  kernels: {
    cpu,
    gpu: shader(([c, a, b], _attrs, out) => `function (C, A, B) {
  ${coords(out.shape)}
  return C[${broadcastIndex(c.shape, out.shape)}] != 0.0 ? A[${broadcastIndex(a.shape, out.shape)}] : B[${broadcastIndex(b.shape, out.shape)}];
}`),
  },
});

/** a where cond, else b (broadcasting). `where(greater(x, 0), x, 0)` is relu. */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  let [c, x, y] = lift('where', [cond, a, b]);
  if (typeof cond === 'boolean') c = astype(c, 'bool');
  const dt = promote(x.dtype, y.dtype);
  return bind(whereP, [c, astype(x, dt), astype(y, dt)], {});
}
