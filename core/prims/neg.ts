/** neg: -x elementwise. vjp: -ct. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';

export const negP = defineUnary('neg', (x) => -x, '-v', (ct) => [neg(ct)]);

/** Elementwise negation. `neg(tensor([1, -2]))` → [-1, 2] */
export const neg = (x: TensorLike) => applyUnary(negP, x);
