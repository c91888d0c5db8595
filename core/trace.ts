/**
 * Tracing: how an op call is handled while a transformation (vjp, vmap, jit) is watching.
 *
 * Every op funnels into `bind(prim, inputs, attrs)`. The shape rule runs first, on the avals the user
 * sees. If no input is being traced, the backend kernel runs. Otherwise the innermost trace among the
 * inputs (the highest level) handles the call: a VjpTrace computes the output from the *primals* one
 * level down and returns a tracer that remembers the call for the pullback; a BatchTrace (vmap) applies
 * the primitive's batching rule to the batched values; a JitTrace records the call into a program.
 * Levels keep nested transformations apart (grad of grad, vmap of grad, no perturbation confusion), as
 * in autodidax: a tracer's value one level down may itself be a tracer of an outer trace.
 */
import type { Aval, Backend, Kernel } from './backend.js';
import { getBackend } from './backend.js';
import { Tensor } from './tensor.js';
import { OpError, fmt } from './shape.js';
import type { Primitive } from './primitive.js';
import { checkFinite, debugNansOn } from './nans.js';

/** A transformation watching a function: it decides what `bind` does with its tracers. */
export abstract class Trace {
  constructor(readonly level: number) {}
  /** Apply `prim` to `inputs` (some are this trace's tracers); `out` is the aval the shape rule gave. */
  abstract process(prim: Primitive<any>, inputs: readonly Tensor[], attrs: any, out: Aval): Tensor;
}

/** Reverse mode: record each call, computed one level down, for the pullback. */
export class VjpTrace extends Trace {
  process(prim: Primitive<any>, inputs: readonly Tensor[], attrs: any): Tensor {
    const primals = inputs.map((t) => (t.trace === this ? t.primal! : t));
    const outPrimal = bind(prim, primals, attrs);
    return Tensor.tracer(this, outPrimal, { prim, attrs, inputs, primals });
  }
}

/** How a tracer was made: the recorded call, kept for the pullback. */
export interface Recipe {
  readonly prim: Primitive<any>;
  readonly attrs: any;
  readonly inputs: readonly Tensor[];
  readonly primals: readonly Tensor[];
}

let depth = 0;

/** How many traces are active (0 outside any transformation). */
export const traceDepth = (): number => depth;

/** Run `body` with a trace made by `make` one level above every active one. */
export function withTrace<R extends Trace, T>(make: (level: number) => R, body: (trace: R) => T): T {
  const trace = make(++depth);
  try { return body(trace); } finally { depth--; }
}

/** Run `body` with a fresh VjpTrace one level above every active one. */
export const withNewTrace = <T>(body: (trace: VjpTrace) => T): T => withTrace((level) => new VjpTrace(level), body);

/** The innermost trace among `inputs`, if any. */
export function topTrace(inputs: readonly Tensor[]): Trace | undefined {
  let top: Trace | undefined;
  for (const t of inputs) if (t.trace && (!top || t.trace.level > top.level)) top = t.trace;
  return top;
}

/** Apply a primitive: check shapes, then run its kernel or record it on the innermost trace. */
export function bind<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const out = prim.infer(inputs, attrs);
  const top = topTrace(inputs);
  return top ? top.process(prim, inputs, attrs, out) : run(prim, inputs, attrs, out);
}

/**
 * Run a primitive's kernel on concrete inputs whose output aval is `out`; `kernel`: one to run
 * instead of the backend's (a jitted step's, as the backend specialised it).
 */
export function run<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A, out: Aval, kernel?: Kernel): Tensor {
  const [backend, buf] = launch(prim, inputs, attrs, out, kernel);
  const result = Tensor.fromBuffer(backend, buf, out.shape, out.dtype);
  if (debugNansOn) checkFinite(prim.name, inputs, attrs, result);
  return result;
}

/**
 * Run a kernel that writes several results (one of jit's sibling-fused groups: its kernel returns
 * an array of buffers), whose avals are `outs`; `kernel` as for run.
 */
export function runMany<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A, outs: readonly Aval[], kernel?: Kernel): Tensor[] {
  const [backend, bufs] = launch(prim, inputs, attrs, outs[0], kernel);
  return (bufs as unknown[]).map((buf, i) => {
    const result = Tensor.fromBuffer(backend, buf, outs[i].shape, outs[i].dtype);
    if (debugNansOn) checkFinite(prim.name, inputs, attrs, result);
    return result;
  });
}

/** Check the inputs share a backend, run the kernel (profiled when asked) and return its buffer(s). */
function launch<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A, out: Aval, special?: Kernel): [Backend, unknown] {
  const backend = inputs.length ? inputs[0].backend! : getBackend();
  for (const t of inputs) {
    if (t.backend !== backend) {
      throw new OpError(prim.name, `inputs live on different backends (${inputs.map((i) => i.backend!.name).join(', ')}); ` +
        `move them with toBackend(x, '${backend.name}') first`);
    }
  }
  const kernel = special ?? backend.kernel(prim.name);
  if (!kernel) throw new OpError(prim.name, `no kernel for backend '${backend.name}'`);
  const t0 = profile ? performance.now() : 0;
  const buf = kernel(inputs.map((t) => ({ buf: t.buf, shape: t.shape, dtype: t.dtype })), attrs, out);
  if (profile) {
    const row = profile.get(prim.name) ?? { calls: 0, ms: 0 };
    row.calls++;
    row.ms += performance.now() - t0;
    profile.set(prim.name, row);
  }
  return [backend, buf];
}

export function checkAval(op: string, got: Aval, want: Aval, what: string): void {
  if (got.dtype !== want.dtype || got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    throw new OpError(op, `${what} has shape ${fmt(got.shape)} ${got.dtype}, expected ${fmt(want.shape)} ${want.dtype}`);
  }
}

let profile: Map<string, { calls: number; ms: number }> | undefined;

/**
 * Run `body` and report the time spent in each primitive's kernels (calls and milliseconds), slowest
 * first. On the GPU, kernel launches are asynchronous: times there are launch times unless something
 * reads values back. `profileKernels(() => step(state, batch))`
 */
export function profileKernels<T>(body: () => T): { result: T; table: { prim: string; calls: number; ms: number }[] } {
  const outer = profile;
  profile = new Map();
  try {
    const result = body();
    const table = [...profile.entries()].map(([prim, r]) => ({ prim, ...r })).sort((a, b) => b.ms - a.ms);
    return { result, table };
  } finally {
    profile = outer;
  }
}
