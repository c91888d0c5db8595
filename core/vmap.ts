/**
 * vmap: write a function for one example, run it on a batch. A BatchTrace wraps each batched argument
 * in a tracer that looks like one example (its shape without the batch axis); every primitive applied
 * to such tracers runs its batching rule (core/batching.ts) on the whole batch at once. Composes with
 * grad both ways: `vmap(grad(loss), {inAxes: [null, 0]})` gives per-example gradients.
 *
 * jacrev, jacfwd and hessian are built on it: a Jacobian is a vjp (or jvp) vmapped over a basis.
 */
import type { Aval } from './backend.js';
import { type BatchRule, checkBatched, elementwiseRule, loopRule, moveAxis } from './batching.js';
import { eye } from './creation.js';
import type { Primitive } from './primitive.js';
import { flatten, unflatten } from './pytree.js';
import { fmt, OpError } from './shape.js';
import { Tensor } from './tensor.js';
import { Trace, withTrace } from './trace.js';
import { vjp, jvp } from './autodiff.js';
import { reshape } from './prims/reshape.js';
import { broadcastTo } from './prims/broadcastTo.js';

class BatchTrace extends Trace {
  constructor(level: number, readonly size: number) { super(level); }

  process(prim: Primitive<any>, inputs: readonly Tensor[], attrs: any, out: Aval): Tensor {
    const vals = inputs.map((t) => (t.trace === this ? t.primal! : t));
    const bdims = inputs.map((t) => (t.trace === this ? t.bdim! : null));
    const rule: BatchRule = prim.batch ?? (prim.elementwise ? elementwiseRule(prim) : loopRule(prim));
    const [y, bd] = rule(vals, bdims, attrs, out, this.size);
    checkBatched(prim.name, y, bd, out, this.size);
    return bd === null ? y : Tensor.batched(this, y, bd);
  }
}

/** Where vmap finds the batch in each argument: one axis for all, or one entry per argument (null: not batched). */
export type InAxes = number | readonly (number | null)[];

export interface VmapOptions {
  /** The batch axis of each positional argument (applies to every tensor in it); default 0. */
  inAxes?: InAxes;
  /** Where the batch goes in the outputs: one axis for all, or one per top-level output of an array; default 0. */
  outAxes?: number | readonly number[];
}

/**
 * `f` mapped over a batch axis of its arguments. The batched arguments must agree on the batch size.
 * `vmap((x) => np.sum(np.mul(x, x)))(np.ones([3, 4]))` → [4, 4, 4];
 * `vmap(grad(loss), {inAxes: [null, 0]})(params, batch)` → one gradient per example.
 */
export function vmap<Args extends unknown[], Out>(f: (...args: Args) => Out, opts: VmapOptions = {}): (...args: Args) => Out {
  return (...args: Args): Out => {
    const inAxes = opts.inAxes ?? 0;
    if (Array.isArray(inAxes) && inAxes.length !== args.length) {
      throw new OpError('vmap', `inAxes has ${inAxes.length} entries for ${args.length} arguments`);
    }
    const axisOf = (i: number): number | null => (typeof inAxes === 'number' ? inAxes : (inAxes as (number | null)[])[i]);
    const sizes: string[] = [];
    let size = -1;
    const plan = args.map((a, i) => {
      const ax = axisOf(i);
      const [leaves, def] = flatten(a);
      const axes = leaves.map((t, j) => {
        if (ax === null) return null;
        if (!Number.isInteger(ax) || ax < -t.rank || ax >= t.rank) {
          throw new OpError('vmap', `inAxes ${ax} is out of range for argument ${i}${leaves.length > 1 ? ` (tensor ${j})` : ''} of shape ${fmt(t.shape)}`);
        }
        const a0 = ax < 0 ? ax + t.rank : ax;
        sizes.push(`argument ${i}${leaves.length > 1 ? ` tensor ${j}` : ''} has ${t.shape[a0]} along axis ${a0}`);
        if (size >= 0 && t.shape[a0] !== size) throw new OpError('vmap', `batch sizes differ: ${sizes.join(', ')}`);
        size = t.shape[a0];
        return a0;
      });
      return { leaves, def, axes };
    });
    if (size < 0) throw new OpError('vmap', 'no argument is batched: give at least one tensor a batch axis in inAxes');
    return withTrace((level) => new BatchTrace(level, size), (trace) => {
      const inner = plan.map(({ leaves, def, axes }) =>
        unflatten(def, leaves.map((t, j) => (axes[j] === null ? t : Tensor.batched(trace, t, axes[j]!)))));
      const out = f(...(inner as Args));
      const outAxes = opts.outAxes ?? 0;
      const place = (y: Tensor, ax: number): Tensor => {
        const r = y.rank + 1;
        if (!Number.isInteger(ax) || ax < -r || ax >= r) throw new OpError('vmap', `outAxes ${ax} is out of range for an output of shape ${fmt(y.shape)}`);
        const a = ax < 0 ? ax + r : ax;
        if (y.trace === trace) return moveAxis(y.primal!, y.bdim!, a);
        if (y.trace && y.trace.level > trace.level) throw new OpError('vmap', 'a tracer of an inner transformation escaped from it');
        // the same for every example: broadcast it along the batch
        const shape = [...y.shape.slice(0, a), 1, ...y.shape.slice(a)];
        return broadcastTo(reshape(y, shape), shape.map((d, i) => (i === a ? size : d)));
      };
      if (typeof outAxes === 'number') {
        const [leaves, def] = flatten(out);
        return unflatten<Out>(def, leaves.map((y) => place(y, outAxes)));
      }
      if (!Array.isArray(out) || out.length !== outAxes.length) {
        throw new OpError('vmap', `outAxes has ${outAxes.length} entries but the function returned ${Array.isArray(out) ? `${out.length} outputs` : 'no array'}`);
      }
      return out.map((o, k) => {
        const [leaves, def] = flatten(o);
        return unflatten(def, leaves.map((y) => place(y, outAxes[k])));
      }) as Out;
    });
  };
}

function single(where: string, x: unknown, what: string): Tensor {
  if (!(x instanceof Tensor)) throw new OpError(where, `${what} must be one tensor`);
  return x;
}

/** The rows of an identity matrix shaped as `n` tensors of `shape`, batched along axis 0. */
const basis = (like: Tensor): Tensor => reshape(eye(like.size, like.dtype), [like.size, ...like.shape]);

/**
 * The Jacobian of `f` at `x` by reverse mode: one vjp per output element, vmapped. Shape:
 * [...out.shape, ...x.shape]. Cheaper than jacfwd when the output is smaller than the input.
 * `jacrev((x) => np.mul(x, x))(np.tensor([1, 2]))` → [[2, 0], [0, 4]]
 */
export function jacrev(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => {
    const [y, pb] = vjp(f, single('jacrev', x, 'the argument'));
    single('jacrev', y, 'the output');
    const rows = vmap((ct: Tensor) => pb(ct)[0])(basis(y)); // [y.size, ...x.shape]
    return reshape(rows, [...y.shape, ...x.shape]);
  };
}

/**
 * The Jacobian of `f` at `x` by forward mode: one jvp per input element, vmapped. Shape:
 * [...out.shape, ...x.shape]. Cheaper than jacrev when the input is smaller than the output.
 * `jacfwd((x) => np.mul(x, x))(np.tensor([1, 2]))` → [[2, 0], [0, 4]]
 */
export function jacfwd(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => {
    single('jacfwd', x, 'the argument');
    const cols = vmap((t: Tensor) => single('jacfwd', jvp(f, [x], [t])[1], 'the output'))(basis(x)); // [x.size, ...y.shape]
    const yRank = cols.rank - 1;
    return reshape(moveAxis(cols, 0, yRank), [...cols.shape.slice(1), ...x.shape]);
  };
}

/**
 * The Hessian of a scalar-valued `f` at `x`: jacfwd of jacrev. Shape [...x.shape, ...x.shape].
 * `hessian((x) => np.sum(np.mul(x, np.mul(x, x))))(np.tensor([1, 2]))` → [[6, 0], [0, 12]]
 */
export function hessian(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => {
    const g = (z: Tensor) => reshape(jacrev(f)(z), z.shape); // a scalar output: the gradient's shape
    return jacfwd(g)(x);
  };
}
