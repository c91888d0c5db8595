/** minimum: the smaller of a and b, broadcasting; nan if either is nan. NOTE: at a tie the cotangent goes to b. */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { less } from './compare.js';
import { where } from './where.js';

export const minimumP = defineBinary('minimum', (a, b) => (a < b || a !== a ? a : b), '(a < b || a != a) ? a : b', (ct, [a, b], _out, _attrs, need) => {
  const m = less(a, b);
  return [need[0] ? where(m, ct, 0) : null, need[1] ? where(m, 0, ct) : null];
});

/** Elementwise minimum, broadcasting. `minimum(tensor([1, 5]), 3)` → [1, 3] */
export const minimum = (a: TensorLike, b: TensorLike) => applyBinary(minimumP, a, b);
