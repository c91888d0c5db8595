/**
 * cast: convert to another dtype. Floats to int32 truncate toward zero and saturate at the int32
 * limits, nan giving 0 (as XLA; numpy leaves these undefined); anything to bool is `!= 0`.
 * vjp: cast the cotangent back to the input's dtype (no cotangent for integer or bool inputs).
 */
import { allocResult, checkDtype, type DType, isFloat, toInt32, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { elementwiseShader } from '../gpu/shader.js';
import { substitute } from './_elementwise.js';

// float32 has no 2^31 - 1: the literal rounds to 2^31, and the backend's int32 read saturates it back
const GPU_TO_INT32 = '(v != v) ? 0.0 : Math.min(Math.max(Math.trunc(v), -2147483648.0), 2147483647.0)';

export const castP = definePrimitive<{ dtype: DType }>({
  name: 'cast',
  infer: ([x], { dtype }) => ({ shape: x.shape, dtype }),
  vjp: (ct, [x]) => [isFloat(x.dtype) ? astype(ct, x.dtype) : null],
  kernels: {
    gpu: elementwiseShader(([x], [from], { dtype }) => substitute(gpuCast(from, dtype), { v: x })),
    cpu: ([x], { dtype }) => {
      const src = x.buf as TypedArray;
      const out = allocResult(dtype, src.length);
      if (dtype === 'bool') for (let i = 0; i < src.length; i++) out[i] = src[i] !== 0 ? 1 : 0;
      else if (dtype === 'int32' && isFloat(x.dtype)) for (let i = 0; i < src.length; i++) out[i] = toInt32(src[i]);
      else out.set(src);
      return out;
    },
  },
  elementwise: {
    cpu: ([from], { dtype }) => (dtype === 'bool' ? (v) => +(v !== 0) : dtype === 'int32' && isFloat(from) ? toInt32 : (v) => v),
    gpu: ([x], [from], { dtype }) => substitute(gpuCast(from, dtype), { v: x }),
  },
});

const gpuCast = (from: DType, to: DType): string => (to === 'bool' ? '(v != 0.0) ? 1.0 : 0.0' : to === 'int32' && isFloat(from) ? GPU_TO_INT32 : 'v');

/** `x` as `dtype` (returns `x` itself if it already is). `astype(tensor([1.7]), 'int32')` → [1] */
export function astype(x: Tensor, dtype: DType): Tensor {
  checkDtype(dtype, 'astype');
  return x.dtype === dtype ? x : bind(castP, [x], { dtype });
}
