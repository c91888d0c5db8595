/** neg: -x elementwise (int32 wraps: -(-2^31) is -2^31). Bools are refused, as in numpy. vjp: -ct. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';

export const negP = defineUnary('neg', (x) => -x, '-v', (ct) => [neg(ct)], { noBool: 'use logicalNot(x) to flip a mask' });

/** Elementwise negation. `neg(tensor([1, -2]))` → [-1, 2] */
export const neg = (x: TensorLike) => applyUnary(negP, x);
