/**
 * mul: a * b with broadcasting; int32 wraps (Math.imul, exact where a * b passes 2^53), on bools it
 * is logical and. vjp: ct b and ct a, at the output's shape (backprop sums them back).
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';

export const mulP = defineBinary('mul', (a, b) => a * b, 'a * b', (ct, [a, b], _out, _attrs, need) => [
  need[0] ? mul(ct, b) : null,
  need[1] ? mul(ct, a) : null,
], { fInt: Math.imul });

/** Elementwise a * b, broadcasting. `mul(tensor([1, 2]), 3)` → [3, 6] */
export const mul = (a: TensorLike, b: TensorLike) => applyBinary(mulP, a, b);
