/** abs: |x| elementwise. vjp: ct sign(x). NOTE: the derivative at 0 is taken as 0. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { mul } from './mul.js';
import { sign } from './sign.js';

export const absP = defineUnary('abs', Math.abs, 'Math.abs(v)', (ct, [x]) => [mul(ct, sign(x))]);

/** Elementwise absolute value. `abs(tensor([-2, 3]))` → [2, 3] */
export const abs = (x: TensorLike) => applyUnary(absP, x);
