/**
 * add: a + b with broadcasting; int32 wraps, and on bools it is logical or (numpy's). vjp: ct to both,
 * at the output's shape (backprop sums each back to its input's shape, in one place).
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';

export const addP = defineBinary('add', (a, b) => a + b, 'a + b',
  (ct, [a, b], _out, _attrs, need) => [need[0] ? ct : null, need[1] ? ct : null]);

/** Elementwise a + b, broadcasting. `add(tensor([1, 2]), 10)` → [11, 12] */
export const add = (a: TensorLike, b: TensorLike) => applyBinary(addP, a, b);
