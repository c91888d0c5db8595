/** tanh: hyperbolic tangent elementwise. vjp: ct (1 - tanh(x)^2), reusing the output. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

/**
 * GLSL ES 1.0 has no tanh, and the textbook (e^2x - 1) / (e^2x + 1) overflows to nan for |x| > 44.
 * NOTE: for |x| < 0.1 a Taylor polynomial avoids the cancellation in 1 - e^-2|x|; beyond, the
 * stable form sign(x) (1 - t) / (1 + t) with t = e^-2|x| never overflows.
 */
const GPU_TANH = `(v != v) ? v : (Math.abs(v) < 0.1 ? v * (1.0 - v * v * (1.0 / 3.0 - v * v * (2.0 / 15.0 - v * v * 17.0 / 315.0)))
  : Math.sign(v) * (1.0 - Math.exp(-2.0 * Math.abs(v))) / (1.0 + Math.exp(-2.0 * Math.abs(v))))`;

export const tanhP = defineUnary('tanh', Math.tanh, GPU_TANH, (ct, _x, y) => [mul(ct, sub(1, mul(y, y)))], { floatOnly: true });

/** Elementwise tanh. `tanh(tensor([0]))` → [0] */
export const tanh = (x: TensorLike) => applyUnary(tanhP, x);
