/**
 * add: a + b with broadcasting; int32 wraps, and on bools it is logical or (numpy's). vjp: ct to both,
 * summed back to each input's shape.
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { unbroadcast } from './_unbroadcast.js';

export const addP = defineBinary('add', (a, b) => a + b, 'a + b',
  (ct, [a, b], _out, _attrs, need) => [need[0] ? unbroadcast(ct, a.shape) : null, need[1] ? unbroadcast(ct, b.shape) : null]);

/** Elementwise a + b, broadcasting. `add(tensor([1, 2]), 10)` → [11, 12] */
export const add = (a: TensorLike, b: TensorLike) => applyBinary(addP, a, b);
