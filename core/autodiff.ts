/**
 * Reverse-mode autodiff in JAX's vocabulary, as plain functions: `vjp` returns the output and a
 * pullback; `grad` and `valueAndGrad` are built on it; `jvp` (forward mode) is the transpose of the
 * pullback, which is linear in its cotangent. There is no `.grad` field and no `backward()`: the trace
 * lives only while `vjp` runs `f`, and the pullback is a closure over it.
 *
 * The pullback walks the recorded calls in reverse, applying each primitive's vjp rule. Those rules
 * are written with public ops, so when an outer `vjp` is watching, the pullback is itself recorded:
 * grad of grad needs no extra machinery.
 */
import type { DType } from './dtype.js';
import { isFloat } from './dtype.js';
import { flatten, unflatten, type TreeDef } from './pytree.js';
import { broadcastsTo, fmt, OpError, sameShape, type Shape } from './shape.js';
import { unbroadcast } from './prims/_unbroadcast.js';
import { Tensor } from './tensor.js';
import { checkAval, topTrace, VjpTrace, withNewTrace } from './trace.js';
import { add } from './prims/add.js';
import { zeros } from './creation.js';
import type { Primitive } from './primitive.js';
import { withScope } from './memory.js';
import { setBackwardOf } from './nans.js';

/** Tensors of `trace` reachable from `outs`, in topological order (inputs first). */
function toposort(outs: Tensor[], trace: VjpTrace): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = outs.filter((t) => t.trace === trace).map((t) => [t, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0 && seen.has(t)) { stack.pop(); continue; }
    seen.add(t);
    const ins = t.recipe?.inputs ?? [];
    let next = i;
    while (next < ins.length && (ins[next].trace !== trace || seen.has(ins[next]))) next++;
    if (next < ins.length) { top[1] = next + 1; stack.push([ins[next], 0]); }
    else { stack.pop(); order.push(t); }
  }
  return order;
}

/**
 * Accumulate cotangents backwards from `seeds` to the traced inputs. A vjp rule may hand back a
 * cotangent at the broadcast (output) shape; it is summed back to its input's shape here, once.
 */
function backprop(trace: VjpTrace, outs: Tensor[], seeds: Tensor[]): Map<Tensor, Tensor> {
  const cts = new Map<Tensor, Tensor>();
  const accum = (t: Tensor, ct: Tensor) => {
    const prev = cts.get(t);
    cts.set(t, prev ? add(prev, ct) : ct);
  };
  outs.forEach((o, i) => { if (o.trace === trace) accum(o, seeds[i]); });
  const order = toposort(outs, trace);
  for (let j = order.length - 1; j >= 0; j--) {
    const t = order[j], r = t.recipe;
    const ct = cts.get(t);
    if (!r || !ct) continue;
    cts.delete(t); // free as we go: only the traced inputs' cotangents are kept
    if (!r.prim.vjp) continue;
    const need = r.inputs.map((x) => x.trace === trace && isFloat(x.dtype));
    if (!need.some(Boolean)) continue;
    const was = setBackwardOf(r.prim.name); // for NaN debug mode's message
    let gs: (Tensor | null)[];
    try { gs = r.prim.vjp(ct, r.primals, t.primal!, r.attrs, need); } finally { setBackwardOf(was); }
    gs.forEach((g, i) => {
      if (!g || !need[i]) return;
      // the one place where broadcasting is undone: a rule may return its cotangent at the output's shape
      const shape = r.primals[i].shape;
      if (!sameShape(g.shape, shape) && broadcastsTo(shape, g.shape)) g = unbroadcast(g, shape);
      checkAval(`${r.prim.name} (vjp rule)`, g, r.primals[i], `cotangent for input ${i}`);
      accum(r.inputs[i], g);
    });
  }
  return cts;
}

/**
 * The output of `f(...args)` and a pullback from output cotangents to argument cotangents.
 * `args` and the output may be pytrees. Arguments' non-float tensors get zero cotangents.
 * `const [y, pb] = vjp(x => mul(x, x), tensor(3)); pb(tensor(1))` → [tensor(6)]
 */
export function vjp<Args extends unknown[], Out>(f: (...args: Args) => Out, ...args: Args): [Out, (ct: Out) => Args] {
  return withNewTrace((trace) => {
    const [leaves, argDef] = flatten(args);
    const inputs = leaves.map((x) => Tensor.tracer(trace, x));
    const out = f(...unflatten<Args>(argDef, inputs));
    const [outLeaves, outDef] = flatten(out);
    const primalOut = unflatten<Out>(outDef, outLeaves.map((o) => (o.trace === trace ? o.primal! : o)));
    const pullback = (ct: Out): Args => {
      const [ctLeaves, ctDef] = flatten(ct);
      if (ctLeaves.length !== outLeaves.length || !sameDef(ctDef, outDef)) {
        throw new OpError('vjp', `the cotangent's structure does not match the output's (${ctLeaves.length} vs ${outLeaves.length} tensors)`);
      }
      ctLeaves.forEach((c, i) => checkAval('vjp', c, outLeaves[i], `cotangent ${i}`));
      const cts = backprop(trace, outLeaves, ctLeaves);
      return unflatten<Args>(argDef, inputs.map((x, i) => cts.get(x) ?? zeros(leaves[i].shape, leaves[i].dtype, leaves[i])));
    };
    return [primalOut, pullback];
  });
}

function sameDef(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'array' || a.kind === 'object') {
    const bc = (b as typeof a).children;
    return a.children.length === bc.length && a.children.every((c, i) => sameDef(c, bc[i]));
  }
  return true;
}

export interface GradOptions {
  /** Which positional arguments to differentiate: one index (the result is that gradient) or a list. */
  argnums?: number | readonly number[];
  /** `f` returns `[loss, aux]`; aux comes back as values (not differentiated). */
  hasAux?: boolean;
}

function checkScalarLoss(where: string, y: unknown): Tensor {
  if (!(y instanceof Tensor)) throw new OpError(where, `the function must return a scalar tensor, got ${typeof y}`);
  if (y.size !== 1) {
    throw new OpError(where, `the function must return a scalar, got shape ${fmt(y.shape)}; reduce it first, e.g. with sum or mean`);
  }
  if (!isFloat(y.dtype)) throw new OpError(where, `the function must return a float scalar, got ${y.dtype}`);
  return y;
}

/**
 * `f` and its gradient with respect to the `argnums` arguments (default 0), in one pass.
 * `valueAndGrad(x => sum(mul(x, x)))(tensor([1, 2]))` → [tensor(5), tensor([2, 4])]
 */
export function valueAndGrad<Args extends unknown[]>(f: (...args: Args) => unknown, opts: GradOptions = {}, name = 'valueAndGrad') {
  const { argnums = 0, hasAux = false } = opts;
  const where = hasAux ? `${name} (hasAux)` : name;
  return (...args: Args): [any, any] => withScope(() => {
    const nums = typeof argnums === 'number' ? [argnums] : [...argnums];
    for (const n of nums) if (!Number.isInteger(n) || n < 0 || n >= args.length) throw new OpError(where, `argnums ${JSON.stringify(argnums)} out of range for ${args.length} arguments`);
    const chosen = nums.map((n) => args[n]);
    const g = (...xs: unknown[]) => {
      const full = [...args] as unknown[];
      nums.forEach((n, i) => { full[n] = xs[i]; });
      const out = f(...(full as Args));
      if (hasAux) {
        if (!Array.isArray(out) || out.length !== 2) throw new OpError(where, 'with hasAux the function must return [loss, aux]');
        return [checkScalarLoss(where, out[0]), out[1]];
      }
      return checkScalarLoss(where, out);
    };
    let aux: unknown;
    const [y, pb] = vjp((...xs: unknown[]) => {
      const r = g(...xs);
      if (hasAux) { aux = (r as unknown[])[1]; return (r as unknown[])[0]; }
      return r;
    }, ...chosen);
    // aux was made inside the trace: hand back its values, not tracers of a trace that has ended
    if (hasAux) aux = unwrapLevel(aux, y as Tensor);
    const loss = y as Tensor;
    const grads = pb(onesLike(loss));
    const result = typeof argnums === 'number' ? grads[0] : grads;
    return [hasAux ? [loss, aux] : loss, result] as [any, any];
  });
}

/**
 * The gradient of a scalar-valued `f` with respect to argument `argnums` (default 0).
 * `grad(x => sum(mul(x, x)))(tensor([1, 2]))` → tensor([2, 4])
 */
export function grad<Args extends unknown[]>(f: (...args: Args) => unknown, opts: GradOptions = {}) {
  const vg = valueAndGrad(f, opts, 'grad');
  return (...args: Args): any => {
    const [v, g] = vg(...args);
    return opts.hasAux ? [g, (v as unknown[])[1]] : g;
  };
}

/**
 * `tree` with every tracer one level above `like` replaced by its primal: what the values are once
 * the trace that made them has ended.
 */
function unwrapLevel<T>(tree: T, like: Tensor): T {
  const level = (like.trace?.level ?? 0) + 1;
  const [leaves, def] = flatten(tree);
  return unflatten(def, leaves.map((t) => {
    let x = t;
    while (x.trace && x.trace.level >= level) x = x.primal!;
    return x;
  }));
}

const onesLike = (t: Tensor): Tensor => add(zeros(t.shape, t.dtype, t), 1);

/**
 * Forward mode: `f(...primals)` and the directional derivative along `tangents` (pytrees matching
 * primals). Computed as the transpose of the pullback, which is linear in its cotangent.
 * `jvp(x => mul(x, x), [tensor(3)], [tensor(1)])` → [tensor(9), tensor(6)]
 */
export function jvp<Out>(f: (...args: any[]) => Out, primals: readonly unknown[], tangents: readonly unknown[]): [Out, Out] {
  const [out, pb] = vjp(f, ...primals);
  const [outLeaves, outDef] = flatten(out);
  const zeroCt = unflatten<Out>(outDef, outLeaves.map((o) => zeros(o.shape, o.dtype, o)));
  const [, pbT] = vjp((ct: Out) => pb(ct), zeroCt);
  const [tangentOut] = pbT(tangents as any);
  return [out, tangentOut];
}

/**
 * A function with a hand-written derivative. `fwd(...args)` returns `[out, residuals]`; `bwd(residuals,
 * ct, need)` returns one cotangent per argument (null for none; `need[i]` says whether argument i is
 * being differentiated, so the others' work may be skipped). `f` alone runs when nothing is traced.
 * NOTE: a second derivative differentiates through `bwd` (and `fwd`'s residuals), not through `f`.
 */
export function customVjp<Args extends Tensor[], R>(
  f: (...args: Args) => Tensor,
  fwd: (...args: Args) => [Tensor, R],
  bwd: (res: R, ct: Tensor, need: readonly boolean[]) => (Tensor | null)[],
): (...args: Args) => Tensor {
  const call = (...args: Args): Tensor => {
    const top = topTrace(args);
    // untraced, or under vmap or jit: f's own ops are batched or recorded (an outer vjp then sees them)
    if (!(top instanceof VjpTrace)) return f(...args);
    const primals = args.map((t) => (t.trace === top ? t.primal! : t)) as Args;
    const [outPrimal, res] = fwd(...primals); // one level down: outer traces record fwd's ops
    const prim: Primitive<{}> = {
      name: `customVjp(${f.name || 'f'})`,
      infer: () => outPrimal,
      vjp: (ct, _primals, _out, _attrs, need) => bwd(res, ct, need),
      kernels: {},
    };
    return Tensor.tracer(top, outPrimal, { prim, attrs: {}, inputs: args, primals });
  };
  return call;
}

/**
 * `x` as a constant: no cotangent flows back through it, at any level of nesting.
 * `grad(x => mul(stopGradient(x), x))(tensor(3))` → tensor(3)
 */
export function stopGradient<T>(x: T): T {
  const [leaves, def] = flatten(x);
  return unflatten(def, leaves.map(stopTensor));
}

/** `t` without its vjp levels; vmap and jit tracers stay (their values are what is kept). */
function stopTensor(t: Tensor): Tensor {
  if (!t.trace) return t;
  if (t.trace instanceof VjpTrace) return stopTensor(t.primal!);
  if (t.bdim !== undefined) return Tensor.batched(t.trace, stopTensor(t.primal!), t.bdim);
  return t;
}

export type { DType, Shape };
