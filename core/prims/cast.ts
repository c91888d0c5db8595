/**
 * cast: convert to another dtype. Floats to int32 truncate toward zero; anything to bool is `!= 0`.
 * vjp: cast the cotangent back to the input's dtype (no cotangent for integer or bool inputs).
 */
import { alloc, checkDtype, type DType, isFloat, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { shader } from '../gpu/shader.js';

export const castP = definePrimitive<{ dtype: DType }>({
  name: 'cast',
  infer: ([x], { dtype }) => ({ shape: x.shape, dtype }),
  vjp: (ct, [x]) => [isFloat(x.dtype) ? astype(ct, x.dtype) : null],
  kernels: {
    gpu: shader(([x], { dtype }) => `function (X) {
  const v = X[this.thread.x];
  return ${dtype === 'bool' ? '(v != 0.0) ? 1.0 : 0.0' : dtype === 'int32' && isFloat(x.dtype) ? 'Math.trunc(v)' : 'v'};
}`),
    cpu: ([x], { dtype }) => {
      const src = x.buf as TypedArray;
      const out = alloc(dtype, src.length);
      if (dtype === 'bool') for (let i = 0; i < src.length; i++) out[i] = src[i] !== 0 ? 1 : 0;
      else if (dtype === 'int32') for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
      else out.set(src);
      return out;
    },
  },
});

/** `x` as `dtype` (returns `x` itself if it already is). `astype(tensor([1.7]), 'int32')` → [1] */
export function astype(x: Tensor, dtype: DType): Tensor {
  checkDtype(dtype, 'astype');
  return x.dtype === dtype ? x : bind(castP, [x], { dtype });
}
