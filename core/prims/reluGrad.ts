/**
 * reluGrad: g where x > 0, else 0 (nan x gives 0): relu's pullback, in one pass over x and g.
 * Linear in g, piecewise constant in x: vjp gives g's cotangent as reluGrad(x, ct), x none.
 *
 * Why a primitive: as where(greater(x, 0), g, 0) it writes a bool mask and reads it back, two
 * passes and two fresh buffers per relu of the network.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { fmt, OpError, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { elementwiseShader } from '../gpu/shader.js';

/**
 * On float32, with no branch (relu's sign is a coin flip the CPU cannot predict): g's bits and'ed
 * with -(x > 0), all ones or all zeros. Exact for every g (nan, inf, -0).
 */
function maskF32(x: Float32Array, g: Float32Array, out: Float32Array): void {
  const G = new Int32Array(g.buffer, g.byteOffset, g.length), O = new Int32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < x.length; i++) O[i] = G[i] & -(x[i] > 0);
}

const cpu: Kernel<TypedArray, {}> = ([x, g], _attrs, out) => {
  const res = allocResult(out.dtype, x.buf.length);
  if (x.buf instanceof Float32Array) { maskF32(x.buf, g.buf as Float32Array, res as Float32Array); return res; }
  const X = x.buf, G = g.buf;
  for (let i = 0; i < X.length; i++) res[i] = X[i] > 0 ? G[i] : 0;
  return res;
};

export const reluGradP = definePrimitive<{}>({
  name: 'reluGrad',
  infer([x, g]) {
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new OpError('reluGrad', `needs a float tensor, got ${x.dtype}`);
    if (g.dtype !== x.dtype || !sameShape(g.shape, x.shape)) throw new OpError('reluGrad', `the cotangent must be like x (${fmt(x.shape)} ${x.dtype}), got ${fmt(g.shape)} ${g.dtype}`);
    return { shape: x.shape, dtype: x.dtype };
  },
  vjp: (ct, [x]) => [null, reluGrad(x, ct)],
  kernels: {
    cpu,
    gpu: elementwiseShader(([x, g]) => `(${x} > 0.0) ? ${g} : 0.0`),
  },
  elementwise: { cpu: () => (x, g) => (x > 0 ? g : 0), gpu: ([x, g]) => `(${x} > 0.0) ? ${g} : 0.0`, sameShape: true },
});

/** g where x > 0, else 0: relu's pullback. `reluGrad(tensor([-1, 2]), tensor([5, 6]))` → [0, 6] */
export const reluGrad = (x: Tensor, g: Tensor): Tensor => bind(reluGradP, [x, g], {});
