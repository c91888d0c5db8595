/**
 * Memory at API boundaries. A backend that owns device memory (the GPU) frees, when a boundary
 * returns, every buffer made inside it that the returned value does not reach: the intermediates of a
 * forward and backward pass go as soon as `grad` returns, instead of waiting for the garbage collector.
 * Users never call this; grad, valueAndGrad and the optimizers do. Values the user holds stay valid,
 * because they were either made before the boundary or are part of what it returned.
 * NOTE: a tensor made inside the boundary and smuggled out some other way (a closure, a global) is
 * released; reading it afterwards raises an error that says so.
 */
import { backendNames, getBackend } from './backend.js';
import { flatten } from './pytree.js';
import { traceDepth } from './trace.js';

/** Run `body` as an API boundary: free what it made that its result does not reach. */
export function withScope<T>(body: () => T): T {
  // inside an outer vjp every intermediate may still be needed by the outer pullback
  if (traceDepth() > 0) return body();
  const scoped = backendNames().map((n) => getBackend(n)).filter((b) => b.beginScope && b.endScope);
  for (const b of scoped) b.beginScope!();
  let result: T;
  try {
    result = body();
  } catch (e) {
    for (const b of scoped) b.endScope!([]);
    throw e;
  }
  const keep = flatten(result)[0].map((t) => t.concrete());
  for (const b of scoped) b.endScope!(keep.filter((t) => t.backend === b).map((t) => t.buf));
  return result;
}
