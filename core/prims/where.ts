/**
 * where: pick a where cond is true, else b, broadcasting all three. vjp: ct goes to a where cond
 * holds and to b elsewhere; cond gets none.
 */
import type { Kernel } from '../backend.js';
import { allocResult, promote, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { broadcastShapes, OpError, sizeOf } from '../shape.js';
import { loop } from '../cpu/loops.js';
import { bind } from '../trace.js';
import { elementwisePlan, lift, type TensorLike } from './_elementwise.js';
import { astype } from './cast.js';
import type { Tensor } from '../tensor.js';
import { elementwiseShader } from '../gpu/shader.js';

/**
 * Pick by bit masks instead of a branch: each element is one or two 32-bit words (a float64 two),
 * and out = (a & m) | (b & ~m), with m all ones where cond is nonzero ((c + 255) >> 8 is 1 for any
 * byte but 0). Exact for every value (nan, -0, inf), and on a mask with no pattern (relu's, half
 * true) about 3x faster than `c ? a : b`, whose branch the CPU mispredicts half the time.
 */
const selects = [1, 2].map((w) => {
  const words = (name: string, role: 'in' | 'out') => ({ name, role, width: w });
  const picks = Array.from({ length: w }, (_, q) => `y${q} = (a${q} & m) | (b${q} & ~m);`).join(' ');
  return loop({ name: `where ${w}`, operands: ['c', words('a', 'in'), words('b', 'in'), words('y', 'out')], body: `const m = -((c + 255) >> 8); ${picks}` });
});

/** A typed array's bytes as 32-bit words (bool stays bytes: one byte is its whole element). */
const words = (x: TypedArray): Int32Array | Uint8Array =>
  x instanceof Uint8Array ? x : new Int32Array(x.buffer, x.byteOffset, x.byteLength >> 2);

const cpu: Kernel<TypedArray, {}> = ([c, a, b], _attrs, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape));
  selects[out.dtype === 'float64' ? 1 : 0](elementwisePlan(out.shape, [c.shape, a.shape, b.shape]), [c.buf, words(a.buf), words(b.buf), words(res)]);
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
    need[1] ? where(c, ct, 0) : null,
    need[2] ? where(c, 0, ct) : null,
  ],
  kernels: {
    cpu,
    gpu: elementwiseShader(([c, a, b]) => `(${c} != 0.0) ? ${a} : ${b}`),
  },
  elementwise: { cpu: () => (c, a, b) => (c ? a : b), gpu: ([c, a, b]) => `(${c} != 0.0) ? ${a} : ${b}` },
});

/** a where cond, else b (broadcasting). `where(greater(x, 0), x, 0)` is relu. */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  let [c, x, y] = lift('where', [cond, a, b]);
  if (typeof cond === 'boolean') c = astype(c, 'bool');
  const dt = promote(x.dtype, y.dtype);
  return bind(whereP, [c, astype(x, dt), astype(y, dt)], {});
}
