/**
 * maximum: the larger of a and b, broadcasting; nan if either is nan.
 * NOTE: at a tie the cotangent goes to b, so relu(x) = maximum(x, 0) has derivative 0 at x = 0.
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { greater } from './compare.js';
import { where } from './where.js';

export const maximumP = defineBinary('maximum', (a, b) => (a > b || a !== a ? a : b), '(a > b || a != a) ? a : b', (ct, [a, b], _out, _attrs, need) => {
  const m = greater(a, b);
  return [need[0] ? where(m, ct, 0) : null, need[1] ? where(m, 0, ct) : null];
});

/** Elementwise maximum, broadcasting. `maximum(tensor([1, 5]), 3)` → [3, 5] */
export const maximum = (a: TensorLike, b: TensorLike) => applyBinary(maximumP, a, b);
