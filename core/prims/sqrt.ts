/** sqrt: square root elementwise. vjp: ct / (2 sqrt(x)), reusing the output. NOTE: infinite at 0. */
import { applyUnary, defineUnary, type TensorLike } from './_elementwise.js';
import { div } from './div.js';
import { mul } from './mul.js';

export const sqrtP = defineUnary('sqrt', Math.sqrt, 'Math.sqrt(v)', (ct, _x, y) => [div(ct, mul(y, 2))], { floatOnly: true });

/** Elementwise square root. `sqrt(tensor([4, 9]))` → [2, 3] */
export const sqrt = (x: TensorLike) => applyUnary(sqrtP, x);
