/**
 * pow: a^b with broadcasting. As numpy (and C): 1^b = 1 for any b, nan included, and (-1)^±inf = 1.
 * int32 powers wrap as repeated int32 multiplication; a negative int32 exponent is an OpError (numpy:
 * "Integers to negative integer powers are not allowed"). vjp: ct b a^(b-1) and ct a^b log(a).
 * NOTE: the b-cotangent uses log(a), defined only for a > 0; where a <= 0 it is taken as 0 (as JAX
 * does at a = 0). The a-cotangent is 0 where b = 0, so pow(0, 0) has a finite gradient.
 */
import { isFloat } from '../dtype.js';
import { OpError, sizeOf } from '../shape.js';
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { equal, greater } from './compare.js';
import { log } from './log.js';
import { mul } from './mul.js';
import { sub } from './sub.js';
import { where } from './where.js';

/**
 * GLSL's pow is undefined for a < 0 and for a = 0 with b <= 0; spell out IEEE pow's answers there:
 * a negative base with an integer exponent keeps the exponent's parity as its sign, 0^0 = 1, 0^-b = inf,
 * (-inf)^b for a fraction b is 0 below 0 and inf above.
 */
const GPU_POW = `(b == 0.0 || a == 1.0 || (a == -1.0 && Math.abs(b) == (1.0 / 0.0))) ? 1.0
  : (a != a || b != b) ? a + b
  : (a == 0.0) ? (b == 0.0 ? 1.0 : (b < 0.0 ? (1.0 / 0.0) : 0.0))
  : (a < 0.0 && Math.floor(b) == b) ? (Math.abs(b - 2.0 * Math.floor(b / 2.0)) > 0.5 ? -Math.pow(-a, b) : Math.pow(-a, b))
  : (a == -(1.0 / 0.0)) ? (b < 0.0 ? 0.0 : (1.0 / 0.0))
  : Math.pow(a, b)`;

/** a^(2^k) as a product of squares: exact in float32 while it is within 2^24. */
const square = (k: number): string => (k === 0 ? 'a' : `(${square(k - 1)} * ${square(k - 1)})`);
/**
 * int32 pow on the GPU by squaring over the exponent's five low bits: exact while the result is within
 * 2^24 (GLSL's pow is exp2(b log2 a), a few ulps off: 5^9 gave 1953124.25). |a| <= 1, and exponents
 * above 31 (beyond 2^24 unless |a| <= 1), take the float expression.
 */
const GPU_POW_INT = `(b > 31.0 || Math.abs(a) <= 1.0) ? (${GPU_POW})
  : ${[0, 1, 2, 3, 4].map((k) => `(Math.floor(b / ${2 ** k}.0) - 2.0 * Math.floor(b / ${2 ** (k + 1)}.0) > 0.5 ? ${square(k)} : 1.0)`).join('\n  * ')}`;

/** IEEE pow where Math.pow differs from C's pow (and numpy): 1^nan = 1, (-1)^±inf = 1. */
const fpow = (a: number, b: number): number => (a === 1 || (a === -1 && (b === Infinity || b === -Infinity)) ? 1 : Math.pow(a, b));

const negativePower = (b: number) => new OpError('pow', `integers to negative integer powers are not allowed (exponent ${b}); cast to float first`);

/** a^b in int32 arithmetic, by squaring with wrapping multiplies. */
function ipow(a: number, b: number): number {
  if (b < 0) throw negativePower(b);
  let r = 1;
  for (; b > 0; b = Math.floor(b / 2)) {
    if (b % 2) r = Math.imul(r, a);
    a = Math.imul(a, a);
  }
  return r;
}

export const powP = defineBinary('pow', fpow, GPU_POW, (ct, [a, b], out, _attrs, need) => [
  need[0] ? mul(ct, where(equal(b, 0), 0, mul(b, pow(a, sub(b, 1))))) : null,
  need[1] ? mul(ct, where(greater(a, 0), mul(out, log(where(greater(a, 0), a, 1))), 0)) : null,
], {
  fInt: ipow,
  gpuInt: GPU_POW_INT,
  // the GPU's shader computes int32 pow in float: refuse negative exponents as ipow does, on the host
  gpuCheck: (ctx, [, b], out) => {
    if (isFloat(b.dtype) || sizeOf(out.shape) === 0) return;
    const e = ctx.read(b.buf).find((v) => v < 0);
    if (e !== undefined) throw negativePower(e);
  },
});

/** Elementwise a^b, broadcasting. `pow(tensor([2, 3]), 2)` → [4, 9] */
export const pow = (a: TensorLike, b: TensorLike) => applyBinary(powP, a, b);
