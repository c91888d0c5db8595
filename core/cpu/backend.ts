/**
 * The CPU backend, the reference: buffers are plain typed arrays, kernels are plain functions.
 * Because tensors are immutable, a kernel may return one of its inputs' arrays (reshape does),
 * and `upload` keeps the array it is given: nobody writes to a buffer after it is made.
 */
import { type Backend, type Kernel, registerBackend } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { kernelFor } from '../primitive.js';

export const cpu: Backend<TypedArray> = {
  name: 'cpu',
  upload: (data) => data,
  read: (buf) => buf.slice(),
  kernel: (prim) => kernelFor('cpu', prim) as Kernel<TypedArray> | undefined,
};

registerBackend(cpu);
