/**
 * `unbroadcast`: the one place where a broadcast input's cotangent is summed back to its own shape
 * (tinygrad's rule: broadcasting is undone once, in the autodiff pass, never inside each op's kernel).
 */
import { sameShape, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { reshape } from './reshape.js';
import { sum } from './sum.js';

/** Sum `ct` (of the broadcast shape) back to `shape`. */
export function unbroadcast(ct: Tensor, shape: Shape): Tensor {
  if (sameShape(ct.shape, shape)) return ct;
  const lead = ct.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < ct.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && ct.shape[i] !== 1)) axes.push(i);
  }
  return reshape(axes.length ? sum(ct, axes) : ct, shape);
}
