/** sign: -1, 0 or 1 elementwise (nan stays nan, -0 gives +0 as numpy). Piecewise constant: no cotangent flows through it. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';

export const signP = defineUnary('sign', (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x), '(v != v) ? v : Math.sign(v) + 0.0');

/** Elementwise sign. `sign(tensor([-2, 0, 3]))` → [-1, 0, 1] */
export const sign = (x: TensorLike) => applyUnary(signP, x);
