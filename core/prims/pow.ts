/**
 * pow: a^b with broadcasting. vjp: ct b a^(b-1) and ct a^b log(a).
 * NOTE: the b-cotangent uses log(a), defined only for a > 0; where a <= 0 it is taken as 0 (as JAX
 * does at a = 0). The a-cotangent is 0 where b = 0, so pow(0, 0) has a finite gradient.
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { unbroadcast } from './_unbroadcast.js';
import { equal, greater } from './compare.js';
import { log } from './log.js';
import { mul } from './mul.js';
import { sub } from './sub.js';
import { where } from './where.js';

/**
 * GLSL's pow is undefined for a < 0 and for a = 0 with b <= 0; spell out IEEE pow's answers there:
 * a negative base with an integer exponent keeps the exponent's parity as its sign, 0^0 = 1, 0^-b = inf.
 */
const GPU_POW = `(b == 0.0) ? 1.0
  : (a != a || b != b) ? a + b
  : (a == 0.0) ? (b == 0.0 ? 1.0 : (b < 0.0 ? (1.0 / 0.0) : 0.0))
  : (a < 0.0 && Math.floor(b) == b) ? (Math.abs(b - 2.0 * Math.floor(b / 2.0)) > 0.5 ? -Math.pow(-a, b) : Math.pow(-a, b))
  : Math.pow(a, b)`;

export const powP = defineBinary('pow', Math.pow, GPU_POW, (ct, [a, b], out, _attrs, need) => [
  need[0] ? unbroadcast(mul(ct, where(equal(b, 0), 0, mul(b, pow(a, sub(b, 1))))), a.shape) : null,
  need[1] ? unbroadcast(mul(ct, where(greater(a, 0), mul(out, log(where(greater(a, 0), a, 1))), 0)), b.shape) : null,
]);

/** Elementwise a^b, broadcasting. `pow(tensor([2, 3]), 2)` → [4, 9] */
export const pow = (a: TensorLike, b: TensorLike) => applyBinary(powP, a, b);
