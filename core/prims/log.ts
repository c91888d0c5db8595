/**
 * log: natural logarithm elementwise. vjp: ct / x.
 * NOTE: log(0) = -inf and log(x < 0) = nan, as in IEEE arithmetic; the gradient at 0 is inf.
 */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { div } from './div.js';

export const logP = defineUnary('log', Math.log, 'Math.log(v)', (ct, [x]) => [div(ct, x)], { floatOnly: true });

/** Elementwise natural log. `log(tensor([1, Math.E]))` → [0, 1] */
export const log = (x: TensorLike) => applyUnary(logP, x);
