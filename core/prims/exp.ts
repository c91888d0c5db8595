/** exp: e^x elementwise. vjp: ct * e^x, reusing the output. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { mul } from './mul.js';

export const expP = defineUnary('exp', Math.exp, 'Math.exp(v)', (ct, _x, y) => [mul(ct, y)], { floatOnly: true });

/** Elementwise e^x. `exp(tensor([0, 1]))` → [1, 2.7183] */
export const exp = (x: TensorLike) => applyUnary(expP, x);
