/** tanh: hyperbolic tangent elementwise. vjp: ct (1 - tanh(x)^2), reusing the output. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

export const tanhP = defineUnary('tanh', Math.tanh, (ct, _x, y) => [mul(ct, sub(1, mul(y, y)))], { floatOnly: true });

/** Elementwise tanh. `tanh(tensor([0]))` → [0] */
export const tanh = (x: TensorLike) => applyUnary(tanhP, x);
