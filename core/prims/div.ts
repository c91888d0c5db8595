/**
 * div: a / b with broadcasting; integer inputs give float32 (true division, as numpy).
 * vjp: ct / b and -ct a / b^2 = -ct out / b.
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { astype } from './cast.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { isTensor } from '../tensor.js';
import { isFloat } from '../dtype.js';

export const divP = defineBinary('div', (a, b) => a / b, 'a / b', (ct, [a, b], out, _attrs, need) => [
  need[0] ? div(ct, b) : null,
  need[1] ? neg(mul(ct, div(out, b))) : null,
]);

/** Elementwise a / b, broadcasting. `div(tensor([1, 2]), 2)` → [0.5, 1] */
export function div(a: TensorLike, b: TensorLike) {
  const toFloat = (x: TensorLike) => (isTensor(x) && !isFloat(x.dtype) ? astype(x, 'float32') : x);
  return applyBinary(divP, toFloat(a), toFloat(b));
}
