/**
 * min: the smallest value along axes (all by default); nan if any value there is nan. Its own
 * reduction, not -max(-x), which is wrong for bools and wraps at the int32 minimum.
 * vjp and batch: as max's (max.ts's defineExtremum holds both rules).
 */
import type { Tensor } from '../tensor.js';
import { defineExtremum, reduceBy } from './max.js';

export const minP = defineExtremum('min', Infinity, 'if (v < s || v !== v) s = v', 'if (v < s || v != v) { s = v; }');

/** Min over `axis` (all by default). `min(tensor([[1, 5], [3, 4]]), 1)` → [1, 3] */
export const min = (x: Tensor, axis?: number | readonly number[], opts: { keepdims?: boolean } = {}): Tensor => reduceBy(minP, 'min', x, axis, opts);
