/**
 * sub: a - b with broadcasting; int32 wraps. Two bools are refused, as in numpy (a number minus a mask
 * is int32 arithmetic). vjp: ct and -ct, at the output's shape (backprop sums them back).
 */
import { applyBinary, defineBinary, type TensorLike } from './_elementwise.js';
import { neg } from './neg.js';

export const subP = defineBinary('sub', (a, b) => a - b, 'a - b',
  (ct, [a, b], _out, _attrs, need) => [need[0] ? ct : null, need[1] ? neg(ct) : null],
  { noBool: 'for xor use logicalNot(equal(a, b)), for arithmetic astype(x, \'int32\')' });

/** Elementwise a - b, broadcasting. `sub(tensor([1, 2]), 1)` → [0, 1] */
export const sub = (a: TensorLike, b: TensorLike) => applyBinary(subP, a, b);
