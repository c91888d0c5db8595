/** sign: -1, 0 or 1 elementwise (nan stays nan). Piecewise constant: no cotangent flows through it. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';

export const signP = defineUnary('sign', (x) => (x > 0 ? 1 : x < 0 ? -1 : x), '(v != v) ? v : Math.sign(v)');

/** Elementwise sign. `sign(tensor([-2, 0, 3]))` → [-1, 0, 1] */
export const sign = (x: TensorLike) => applyUnary(signP, x);
