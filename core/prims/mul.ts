/**
 * mul: a * b with broadcasting; int32 wraps (Math.imul, exact where a * b passes 2^53), on bools it
 * is logical and. vjp: ct b and ct a, summed back to each input's shape.
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { unbroadcast } from './_unbroadcast.js';

export const mulP = defineBinary('mul', (a, b) => a * b, 'a * b', (ct, [a, b], _out, _attrs, need) => [
  need[0] ? unbroadcast(mul(ct, b), a.shape) : null,
  need[1] ? unbroadcast(mul(ct, a), b.shape) : null,
], { fInt: Math.imul });

/** Elementwise a * b, broadcasting. `mul(tensor([1, 2]), 3)` → [3, 6] */
export const mul = (a: TensorLike, b: TensorLike) => applyBinary(mulP, a, b);
