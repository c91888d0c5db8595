/**
 * jit: trace a function once per kind of argument, then run the recorded program.
 *
 * A JitTrace gives the function tracers that have only an aval; every primitive applied to them is
 * recorded as an equation (`c = mul(a, b)`) instead of run. Tensors made inside from numbers become
 * the program's constants. The program is cached by the arguments' avals, their pytree structure and
 * static leaves (numbers, strings: a new value traces again), and the backend. Before it runs, chains
 * of elementwise equations whose intermediates nothing else reads are fused into one kernel each
 * (core/fusion.ts), so a training step's elementwise tail costs one pass over memory, not ten; a
 * relu joins the BatchNorm before it, and its pullback the BatchNorm pullback's two kernels after
 * it. On the GPU, where a launch costs more than a pass over memory, sibling groups of one shape
 * merge into kernels that write several results (Adam's moments and update of a param: one kernel).
 * On the CPU a program recycles the arrays of the values it drops (BufferPool), so a jitted
 * training step maps no fresh memory after its first call. Seeing the whole program is what lets jit
 * do these; eager code, one op at a time, cannot.
 *
 * Composes with the other transformations: `jit(grad(f))` records the forward and backward passes
 * together (the usual way to jit a training step), and under an outer grad or vmap a jitted function
 * replays its equations one by one, so the outer transformation sees every primitive.
 */
import type { Aval, Backend, Kernel } from './backend.js';
import { getBackend } from './backend.js';
import { fusedPrimitive, fusedSumPrimitive, type FusedOp, literal, type View } from './fusion.js';
import { withScope } from './memory.js';
import { dtypeOfArray, type Recycler, withRecycler, type DType, type TypedArray } from './dtype.js';
import type { Primitive } from './primitive.js';
import { flatten, unflatten, type TreeDef } from './pytree.js';
import { Key, tracedKey } from './random.js';
import { broadcastsTo, fmt, OpError, sizeOf, stridesOf } from './shape.js';
import { Tensor } from './tensor.js';
import { bind, run, runMany, Trace, withTrace } from './trace.js';
import { MAX_KERNEL_INPUTS } from './gpu/shader.js';

class JitTrace extends Trace {
  readonly eqns: { prim: Primitive<any>; attrs: any; inputs: readonly Tensor[]; out: Tensor }[] = [];
  constructor(level: number, readonly backend: Backend) { super(level); }

  process(prim: Primitive<any>, inputs: readonly Tensor[], attrs: any, out: Aval): Tensor {
    for (const t of inputs) {
      if (t.trace && t.trace !== this) {
        throw new OpError(prim.name, 'inside jit, an input is being traced by an outer grad or vmap (the function closes over it); ' +
          'pass it to the jitted function as an argument instead');
      }
      if (!t.trace && t.backend !== this.backend) {
        throw new OpError(prim.name, `inside jit on the ${this.backend.name} backend, a constant lives on ${t.backend!.name}`);
      }
    }
    const y = Tensor.staged(this, out.shape, out.dtype, this.backend);
    this.eqns.push({ prim, attrs, inputs, out: y });
    return y;
  }
}

/**
 * One step of a program: a primitive (perhaps a fused group) reading and writing variables by number;
 * `more`: the further variables a sibling-fused group writes (its kernel returns one buffer each).
 */
export interface Step {
  readonly prim: Primitive<any>; readonly attrs: any; readonly ins: readonly number[]; readonly out: number;
  readonly fused?: readonly string[]; readonly more?: readonly number[];
}

/**
 * A traced function: variables 0..nIn-1 are the arguments' tensors, then the constants, then one per
 * step. `toString()` prints it with fused groups marked.
 */
export class Program {
  constructor(
    readonly nIn: number,
    readonly consts: readonly Tensor[],
    readonly avals: readonly Aval[],
    /** the equations as traced (what an outer transformation replays) */
    readonly eqns: readonly Step[],
    /** the equations after fusion (what runs) */
    readonly steps: readonly Step[],
    readonly outs: readonly number[],
    readonly outDef: TreeDef,
    /** the backend it was traced for, and runs on */
    readonly backend: Backend,
  ) {}

  /** Scratch arrays kept between calls on the CPU (about the intermediates' size; see execute). */
  readonly pool = new BufferPool();

  /**
   * Each step's kernel as the backend specialises it to the step (Backend.specialise: the GPU
   * replays the launches its first call made), null where it does not; made on the step's first run.
   */
  readonly kernels: (Kernel | null | undefined)[] = [];

  /** For each step, the variables it reads for the last time (never arguments, constants or outputs). */
  get lastUses(): number[][] {
    if (!this.drops) {
      const last = new Map<number, number>();
      this.steps.forEach((s, j) => { for (const v of s.ins) last.set(v, j); });
      const keep = new Set(this.outs);
      this.drops = this.steps.map(() => []);
      for (const [v, j] of last) if (v >= this.nIn + this.consts.length && !keep.has(v)) this.drops[j].push(v);
    }
    return this.drops;
  }
  private drops?: number[][];

  /** How many kernels a call launches, and how many equations were traced. */
  get stats(): { eqns: number; kernels: number; fused: number } {
    return { eqns: this.eqns.length, kernels: this.steps.length, fused: this.steps.filter((s) => s.fused).length };
  }

  toString(): string {
    const name = (v: number) => `${v < this.nIn ? 'in' : v < this.nIn + this.consts.length ? 'k' : 'v'}${v}`;
    const ty = (v: number) => `${this.avals[v].dtype}${fmt(this.avals[v].shape)}`;
    const lines = [`program(${Array.from({ length: this.nIn }, (_, i) => `${name(i)}: ${ty(i)}`).join(', ')})` +
      (this.consts.length ? ` constants ${this.consts.map((_, i) => `${name(this.nIn + i)}: ${ty(this.nIn + i)}`).join(', ')}` : '')];
    for (const s of this.steps) {
      const attrs = s.fused ? '' : Object.keys(s.attrs ?? {}).length ? ` ${JSON.stringify(s.attrs)}` : '';
      const op = s.fused ? `fused[${s.fused.join(' ')}]` : s.prim.name;
      lines.push(`  ${[s.out, ...s.more ?? []].map((v) => `${name(v)}: ${ty(v)}`).join(', ')} = ${op}(${s.ins.map(name).join(', ')})${attrs}`);
    }
    lines.push(`  return ${this.outs.map(name).join(', ')}`);
    const { eqns, kernels, fused } = this.stats;
    lines.push(`  (${eqns} equations, ${kernels} kernels, ${fused} of them fused)`);
    return lines.join('\n');
  }
}

export interface JitOptions {
  /** Fuse elementwise chains (default true; false runs the traced equations as they are). */
  fuse?: boolean;
  /**
   * The most results a fused kernel writes: sibling groups of one shape (Adam's moments and update)
   * merge up to this. Default: the backend's `maxFusedOutputs` (its render targets on the GPU, at most 8; 1 on the CPU).
   */
  maxOutputs?: number;
}

/**
 * A jitted function: call it like `f`; `.program(...args)` shows what runs for such arguments, and
 * `.traces` counts the programs traced so far (one per kind of argument: more means retracing).
 */
export type Jitted<Args extends unknown[], Out> = ((...args: Args) => Out) & { program(...args: Args): Program; readonly traces: number };

/**
 * `f` traced once per kind of argument and run as a recorded, fused program. `f` must be pure: it
 * may not read tensor values (`item()`, `dataSync()`: a ConcretizationError), and JS numbers among
 * the arguments are baked in (each new value traces again; pass a changing number as a tensor).
 * Random keys among the arguments do not trace again: inside, they may be split and passed on, but
 * drawing from one raises (bits come from the host; draw outside and pass the tensors in).
 * `const step = jit((x) => np.tanh(np.add(np.mul(x, 2), 1))); step(np.ones([1000]))`
 */
export function jit<Args extends unknown[], Out>(f: (...args: Args) => Out, opts: JitOptions = {}): Jitted<Args, Out> {
  const cache = new Map<string, Program>();
  let warned = false, last: TreeDef | undefined, streak: { path: string; values: number[] } | undefined;
  const programFor = (args: Args): [Program, Tensor[]] => {
    const [leaves, def] = flatten(args);
    const backend = leaves.length ? backendOf(leaves[0]) : getBackend();
    const key = JSON.stringify([backend.name, defKey(def), leaves.map((t) => [t.dtype, t.shape])]);
    let prog = cache.get(key);
    if (!prog) {
      prog = trace(f, leaves, def, backend, opts.fuse ?? true, opts.maxOutputs);
      cache.set(key, prog);
      // a number that changes on every call traces every call: say which, once it has happened 3 times
      const changed = last && changedNumber(last, def, 'args');
      streak = !changed ? undefined : { path: changed.path, values: [...(streak?.path === changed.path ? streak.values : [changed.was]), changed.now] };
      last = def;
      const name = `jit(${f.name || 'f'})`;
      if (!warned && streak && streak.values.length > 3) {
        warned = true;
        console.warn(`${name} traced again on each of the last ${streak.values.length - 1} calls because the number ${streak.path} changed (${streak.values.join(' → ')}): ` +
          'numbers among the arguments are static, each value is a new program. Pass it as a tensor; an optimizer\'s state holds its step count, ' +
          'so call opt.update outside jit (it runs as a jitted program itself) and jit the gradient');
      } else if (!warned && cache.size > 32) {
        warned = true;
        console.warn(`${name} has traced ${cache.size} kinds of arguments; numbers among them are static, so a value that changes every call (a step count, a learning rate) traces every call: pass it as a tensor`);
      }
    }
    return [prog, leaves];
  };
  const call = (...args: Args): Out => {
    const [prog, leaves] = programFor(args);
    if (leaves.some((t) => t.trace)) return replay(prog, leaves);
    return withScope(() => execute(prog, leaves));
  };
  return Object.defineProperties(Object.assign(call, { program: (...args: Args) => programFor(args)[0] }), {
    traces: { get: () => cache.size },
  }) as Jitted<Args, Out>;
}

/**
 * The avals `f` would return for arguments of these avals, found by running only the shape rules
 * (nothing is computed). Arguments may be tensors or `{shape, dtype}` avals, in any pytree.
 * `evalShape((x) => np.matmul(x, x), {shape: [3, 3], dtype: 'float32'})` → {shape: [3, 3], dtype: 'float32'}
 */
export function evalShape(f: (...args: any[]) => unknown, ...args: unknown[]): any {
  const backend = getBackend();
  const isAval = (x: unknown): x is Aval => typeof x === 'object' && x !== null && !(x instanceof Tensor) &&
    Array.isArray((x as Aval).shape) && typeof (x as Aval).dtype === 'string';
  return withTrace((level) => new JitTrace(level, backend), (tr) => {
    // tensors and avals become jit tracers; arrays and plain objects are walked; anything else stays
    const stage = (x: unknown): unknown =>
      x instanceof Tensor || isAval(x) ? Tensor.staged(tr, x.shape, x.dtype, backend)
        : Array.isArray(x) ? x.map(stage)
          : typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype
            ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, stage(v)])) : x;
    const [leaves, def] = flatten(f(...(args.map(stage) as unknown[])));
    return unflatten(def, leaves.map((t) => ({ shape: [...t.shape], dtype: t.dtype })));
  });
}

/** The backend holding `t`'s values (or, for a jit tracer, the one its program runs on). */
function backendOf(t: Tensor): Backend {
  let x = t;
  while (x.primal) x = x.primal;
  return x.backend ?? getBackend();
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;
/**
 * A static leaf in a cache key: numbers, strings, booleans, null and undefined by value (NaN and -0
 * kept apart); anything else (a function, a class instance) by identity, since two of them that print
 * alike may still behave differently.
 */
function staticKey(v: unknown): unknown {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return [typeof v, v ?? null];
  if (typeof v === 'number') return ['number', Object.is(v, -0) ? '-0' : String(v)];
  if (typeof v === 'bigint' || typeof v === 'symbol') return [typeof v, String(v)];
  // every key is alike to a program: the function gets a stand-in that refuses to be drawn from
  if (v instanceof Key) return 'Key';
  let id = identities.get(v as object);
  if (id === undefined) identities.set(v as object, (id = ++nextIdentity));
  return ['ref', id];
}

/**
 * Where `b` differs from `a` only by the value of one static number: its path (as `args[1].step`)
 * and both values. Anything else (structure, other static values) is not such a change.
 */
function changedNumber(a: TreeDef, b: TreeDef, path: string): { path: string; was: number; now: number } | undefined {
  let found: { path: string; was: number; now: number } | undefined, other = false;
  const walk = (x: TreeDef, y: TreeDef, at: string): void => {
    if (other) return;
    if (x.kind !== y.kind) { other = true; return; }
    if (x.kind === 'static' && y.kind === 'static') {
      if (Object.is(x.value, y.value)) return;
      if (typeof x.value === 'number' && typeof y.value === 'number' && !found) found = { path: at, was: x.value, now: y.value };
      else other = true;
    } else if (x.kind === 'array' && y.kind === 'array') {
      if (x.children.length !== y.children.length) other = true;
      else x.children.forEach((c, i) => walk(c, y.children[i], `${at}[${i}]`));
    } else if (x.kind === 'object' && y.kind === 'object') {
      if (x.keys.join() !== y.keys.join()) other = true;
      else x.children.forEach((c, i) => walk(c, y.children[i], `${at}.${x.keys[i]}`));
    } else if (x.kind === 'node' && y.kind === 'node') walk(x.child, y.child, at);
  };
  walk(a, b, path);
  return other ? undefined : found;
}

/** `d` with each random key replaced by a stand-in that raises when used (random.tracedKey). */
const traceKeys = (d: TreeDef): TreeDef => {
  switch (d.kind) {
    case 'leaf': return d;
    case 'static': return d.value instanceof Key ? { kind: 'static', value: tracedKey() } : d;
    case 'array': return { kind: 'array', children: d.children.map(traceKeys) };
    case 'object': return { kind: 'object', keys: d.keys, children: d.children.map(traceKeys) };
    case 'node': return { ...d, child: traceKeys(d.child) };
  }
};

/** Whether a random key is among `d`'s static leaves. */
const holdsKey = (d: TreeDef): boolean =>
  d.kind === 'static' ? d.value instanceof Key : d.kind === 'node' ? holdsKey(d.child) : d.kind === 'leaf' ? false : d.children.some(holdsKey);

/** The pytree structure as a cache key: static leaves by value, registered nodes by their children. */
const defKey = (d: TreeDef): unknown => {
  switch (d.kind) {
    case 'leaf': return 'T';
    case 'static': return { s: staticKey(d.value) };
    case 'array': return d.children.map(defKey);
    case 'object': return { k: d.keys, c: d.children.map(defKey) };
    case 'node': return { n: defKey(d.child) };
  }
};

function trace(f: (...args: any[]) => unknown, leaves: readonly Tensor[], def: TreeDef, backend: Backend, fuse: boolean, maxOutputs?: number): Program {
  return withTrace((level) => new JitTrace(level, backend), (tr) => {
    const ins = leaves.map((t) => Tensor.staged(tr, t.shape, t.dtype, backend));
    const out = f(...unflatten<unknown[]>(traceKeys(def), ins));
    const [outLeaves, outDef] = flatten(out);
    if (holdsKey(outDef)) throw new OpError('jit', 'a jitted function cannot return a random key: split keys outside it');
    // number the variables: arguments, then constants (concrete tensors read by the program), then equations
    const ids = new Map<Tensor, number>();
    ins.forEach((t, i) => ids.set(t, i));
    const consts: Tensor[] = [];
    for (const t of [...tr.eqns.flatMap((e) => e.inputs), ...outLeaves]) {
      if (!t.trace && !ids.has(t)) { ids.set(t, ins.length + consts.length); consts.push(t); }
    }
    const base = ins.length + consts.length;
    tr.eqns.forEach((e, j) => ids.set(e.out, base + j));
    const idOf = (t: Tensor): number => {
      const v = ids.get(t);
      if (v === undefined) throw new OpError('jit', 'the function returned a tensor traced by another transformation (one that has ended, or an outer one)');
      return v;
    };
    const eqns: Step[] = tr.eqns.map((e, j) => ({ prim: e.prim, attrs: e.attrs, ins: e.inputs.map(idOf), out: base + j }));
    const outs = outLeaves.map(idOf);
    const nIn = ins.length;
    const avals: Aval[] = [...ins, ...consts, ...tr.eqns.map((e) => e.out)].map((t) => ({ shape: t.shape, dtype: t.dtype }));
    for (const c of consts) backend.pin?.(c.buf);
    const live = deadCodeElim(eqns, outs);
    // a 0-d constant's value where the host still has it (a GPU upload keeps its data), for a fused
    // GPU kernel to write as a literal instead of a texture every thread reads; never a readback,
    // which would wait for the GPU at every trace
    const scalar = (v: number): (() => number) | undefined => {
      const host = v >= nIn && consts[v - nIn]?.shape.length === 0 ? (consts[v - nIn].buf as { host?: ArrayLike<number> }).host : undefined;
      return host ? () => host[0] : undefined;
    };
    const most = Math.max(1, Math.min(8, maxOutputs ?? backend.maxFusedOutputs ?? 1));
    return new Program(nIn, consts, avals, live, fuse ? fusePrologues(fuseSteps(fuseEpilogues(live, outs), outs, avals, scalar, most), outs) : live, outs, outDef, backend);
  });
}

/** The equations (or steps) the outputs need, in order. */
function deadCodeElim(eqns: readonly Step[], outs: readonly number[]): Step[] {
  const need = new Set(outs);
  const keep: Step[] = [];
  for (let j = eqns.length - 1; j >= 0; j--) {
    if (!need.has(eqns[j].out) && !eqns[j].more?.some((v) => need.has(v))) continue;
    keep.push(eqns[j]);
    for (const v of eqns[j].ins) need.add(v);
  }
  return keep.reverse();
}

/**
 * Kernels that can apply their only reader to each result before storing it, by (kernel, reader):
 * the attrs that ask for it. BatchNorm then ReLU, the network's commonest pair, writes one tensor
 * instead of two. (The merged step only runs; replay and outer transformations see the equations.)
 */
const epilogues: Record<string, Record<string, (attrs: any) => any>> = {
  batchNormTrain: { relu: (attrs) => ({ ...attrs, relu: true }) },
};

/** Merge each reader in `epilogues` into the kernel that produced its input, where nothing else reads that. */
function fuseEpilogues(eqns: readonly Step[], outs: readonly number[]): Step[] {
  const readers = new Map<number, number>();
  for (const e of eqns) for (const v of new Set(e.ins)) readers.set(v, (readers.get(v) ?? 0) + 1);
  const at = new Map<number, number>(eqns.map((e, j) => [e.out, j]));
  const steps: (Step | undefined)[] = [...eqns];
  eqns.forEach((e, j) => {
    const p = at.get(e.ins[0]), merge = p === undefined ? undefined : epilogues[eqns[p].prim.name]?.[e.prim.name];
    if (!merge || e.ins.length !== 1 || readers.get(e.ins[0]) !== 1 || outs.includes(e.ins[0]) || steps[p!] !== eqns[p!]) return;
    const k = eqns[p!];
    steps[p!] = { prim: k.prim, attrs: merge(k.attrs), ins: k.ins, out: e.out, fused: [k.prim.name, e.prim.name] };
    steps[j] = undefined;
  });
  return steps.filter((s): s is Step => !!s);
}

/**
 * Kernels that can take a reluGrad's result as its two inputs instead, computing it as they read, by
 * reader: where that result goes. A BatchNorm then ReLU's pullback reads it twice (the parameters'
 * sums, then x's cotangent); handed the relu's output and the incoming cotangent, neither pass needs
 * the masked cotangent written.
 */
const prologues: Record<string, Record<string, number>> = {
  reluGrad: { batchNormParamGrad: 1, batchNormGrad: 2 },
};

/**
 * Run each (unfused) step in `prologues` inside its readers when they all can take it: each reads
 * the step's second input in its place and its first as one more input, with the `mask` attr.
 */
function fusePrologues(steps: readonly Step[], outs: readonly number[]): Step[] {
  const readers = new Map<number, number[]>();
  steps.forEach((e, j) => { for (const v of new Set(e.ins)) readers.set(v, [...(readers.get(v) ?? []), j]); });
  const next: (Step | undefined)[] = [...steps];
  steps.forEach((e, j) => {
    const into = prologues[e.prim.name], rs = readers.get(e.out) ?? [];
    if (!into || e.fused || outs.includes(e.out) || !rs.length) return;
    const fits = (r: Step) => into[r.prim.name] !== undefined && !r.attrs.mask && r.ins.filter((v) => v === e.out).length === 1 && r.ins[into[r.prim.name]] === e.out;
    if (!rs.every((k) => fits(next[k]!))) return;
    for (const k of rs) {
      const r = next[k]!;
      const ins = r.ins.map((v) => (v === e.out ? e.ins[1] : v));
      next[k] = { prim: r.prim, attrs: { ...r.attrs, mask: true }, ins: [...ins, e.ins[0]], out: r.out, fused: [e.prim.name, r.prim.name] };
    }
    next[j] = undefined;
  });
  return next.filter((s): s is Step => !!s);
}

/**
 * The most tensors a fused kernel reads: a GPU shader's texture inputs (core/gpu/shader.ts's
 * MAX_KERNEL_INPUTS). Unbounded, nn.nonFinite's probe in a jitted training step, a chain of adds
 * over every gradient's sum, fused into one kernel of 98 inputs, which the GPU computed as 0.
 */
export const MAX_FUSED_INPUTS = MAX_KERNEL_INPUTS;

/**
 * Group elementwise equations into fused kernels: walking back from each elementwise equation not yet
 * grouped, take in the producer of an operand when that producer is elementwise, every reader of its
 * result is in the group (and it is not an output), and its shape broadcasts to the group's (a small
 * operand such as a per-channel scale is then recomputed per element: cheaper than a kernel and a
 * buffer), unless the group would then read more than MAX_FUSED_INPUTS tensors. A group of one stays
 * the primitive it was. Then groups that only a sum reads run inside it, sibling groups merge into
 * kernels of up to `most` results (siblings), and slices that fused kernels read are read in place
 * (readThrough) instead of copied.
 */
function fuseSteps(eqns: readonly Step[], outs: readonly number[], avals: readonly Aval[], scalar: (v: number) => (() => number) | undefined, most: number): Step[] {
  const readers = new Map<number, number[]>();
  eqns.forEach((e, j) => { for (const v of new Set(e.ins)) readers.set(v, [...(readers.get(v) ?? []), j]); });
  const isOut = new Set(outs);
  const producer = new Map<number, number>(eqns.map((e, j) => [e.out, j]));
  const fusible = (e: Step) => !!e.prim.elementwise && sizeOf(avals[e.out].shape) > 0 &&
    (e.prim.elementwise.fusible?.(e.ins.map((v) => avals[v].dtype)) ?? true);
  const group = new Array<number>(eqns.length).fill(-1);
  const members: number[][] = [];
  const views = readThrough(eqns, avals);
  // a broadcastTo that a fused kernel reads is read as its source, broadcast as every input is
  const broadcasts = new Map<number, number>();
  for (const e of eqns) if (e.prim.name === 'broadcastTo') broadcasts.set(e.out, broadcasts.get(e.ins[0]) ?? e.ins[0]);
  const ctx: FuseContext = { avals, scalar, views, broadcasts };
  /**
   * How many distinct tensors the equations `ms` read from outside themselves; `textures`: leaving out
   * the constants a fused elementwise kernel writes in as literals (a fused sum binds every input).
   */
  const inputsOf = (ms: readonly number[], textures = false) => {
    const made = new Set(ms.map((m) => eqns[m].out));
    return new Set(ms.flatMap((m) => eqns[m].ins.filter((v) => !made.has(v) && !(textures && literal(scalar(v)) !== undefined)))).size;
  };
  for (let j = eqns.length - 1; j >= 0; j--) {
    if (group[j] >= 0 || !fusible(eqns[j])) continue;
    const g = members.length, root = avals[eqns[j].out];
    const mine = [j];
    group[j] = g;
    // grow until nothing more joins: a producer joins once every reader of its result is in the group
    for (let grew = true; grew;) {
      grew = false;
      for (const m of [...mine]) {
        for (const v of eqns[m].ins) {
          const p = producer.get(v);
          if (p === undefined || group[p] >= 0 || !fusible(eqns[p]) || isOut.has(v)) continue;
          if (!readers.get(v)!.every((r) => group[r] === g) || !broadcastsTo(avals[v].shape, root.shape)) continue;
          if (inputsOf([...mine, p]) > MAX_FUSED_INPUTS) continue;
          group[p] = g;
          mine.push(p);
          grew = true;
        }
      }
    }
    members.push(mine.sort((a, b) => a - b));
  }
  // a group (or a lone elementwise op) whose result only a sum reads runs inside that sum
  const groupOfSum = new Map<number, number>(), sumAt = new Map<number, number>();
  eqns.forEach((e, j) => {
    const p = e.prim.name === 'sum' ? producer.get(e.ins[0]) : undefined;
    if (p === undefined || group[p] < 0 || isOut.has(e.ins[0]) || readers.get(e.ins[0])!.length !== 1) return;
    groupOfSum.set(j, group[p]);
    sumAt.set(group[p], j);
  });
  const root = members.map((ms) => ms[ms.length - 1]);
  // (a merged kernel counts only the textures it binds: Adam's b1, 1 - b1, ... for each param, all
  // literals, had kept two params' updates apart)
  const clusters = most > 1 ? siblings(eqns, members, group, readers, producer, isOut, avals, sumAt, most, (ms) => inputsOf(ms, true), views) : members.map((_, g) => [g]);
  const clusterOf = new Array<number[]>(members.length);
  for (const c of clusters) for (const g of c) clusterOf[g] = c;
  const steps: Step[] = [];
  for (let j = 0; j < eqns.length; j++) {
    const g = group[j], into = groupOfSum.get(j);
    if (into !== undefined) { steps.push(fusedStep(members[into].map((k) => eqns[k]), { ...ctx, views: new Map() }, { sum: eqns[j] })); continue; }
    if (sumAt.has(g)) continue; // runs inside its sum
    if (g < 0) { steps.push(eqns[j]); continue; }
    const c = clusterOf[g];
    if (root[c[c.length - 1]] !== j) continue; // emit the group (or its cluster) where its last member ran
    if (c.length === 1) {
      // a lone op stays the primitive it was, unless it reads a slice or a broadcast through
      const lone = members[g].length === 1 && !eqns[j].ins.some((v) => views.has(v) || broadcasts.has(v));
      steps.push(lone ? eqns[j] : fusedStep(members[g].map((k) => eqns[k]), ctx));
      continue;
    }
    // a cluster writes its groups' results that something outside it reads
    const inside = new Set(c.flatMap((h) => members[h]));
    const results = c.map((h) => eqns[root[h]].out).filter((v) => isOut.has(v) || (readers.get(v) ?? []).some((r) => !inside.has(r)));
    steps.push(fusedStep([...inside].sort((a, b) => a - b).map((k) => eqns[k]), ctx, { results }));
  }
  // the slices (and reshapes) that every reader now reads through are gone
  return deadCodeElim(steps, outs);
}

/**
 * Slices a fused kernel reads in place: each slice's result, and each reshape of one that only drops
 * or adds axes of 1 (BatchNorm's [2, C] moments sliced into a mean and a variance of [C]), as the
 * sliced tensor and a View of it. Its fused readers then need no copy of it made.
 */
function readThrough(eqns: readonly Step[], avals: readonly Aval[]): Map<number, { src: number; view: View }> {
  const views = new Map<number, { src: number; view: View }>();
  for (const e of eqns) {
    if (e.prim.name === 'slice' && !views.has(e.ins[0])) {
      const st = stridesOf(avals[e.ins[0]].shape);
      views.set(e.out, { src: e.ins[0], view: { offset: (e.attrs.begin as number[]).reduce((a, b, d) => a + b * st[d], 0), strides: st } });
    } else if (e.prim.name === 'reshape' && views.has(e.ins[0])) {
      const { src, view } = views.get(e.ins[0])!;
      const kept = avals[e.ins[0]].shape.flatMap((n, d) => (n === 1 ? [] : [[n, view.strides[d]]]));
      const to = avals[e.out].shape;
      if (kept.map(([n]) => n).join() !== to.filter((n) => n !== 1).join()) continue;
      let k = 0;
      views.set(e.out, { src, view: { offset: view.offset, strides: to.map((n) => (n === 1 ? 0 : kept[k++][1])) } });
    }
  }
  return views;
}

/**
 * Sibling fusion: groups of one output shape merged into kernels that write several results (at
 * most `most`), as XLA's multi-output fusion. Walking the groups in program order, a group joins
 * an earlier cluster when it is related to it (reads one of its results, or a tensor it reads), the
 * merged kernel reads at most MAX_FUSED_INPUTS tensors and writes at most `most` results, and every
 * other reader of the cluster's results runs after the group: the merged kernel runs where the
 * cluster's last group did. A result only the cluster reads is never written. Adam's update of one
 * param (the L2-decayed gradient, both moments, the new param) becomes one kernel instead of four.
 */
function siblings(eqns: readonly Step[], members: readonly number[][], group: readonly number[], readers: ReadonlyMap<number, number[]>, producer: ReadonlyMap<number, number>,
  isOut: ReadonlySet<number>, avals: readonly Aval[], sumAt: ReadonlyMap<number, number>, most: number, inputsOf: (ms: readonly number[]) => number,
  views: ReadonlyMap<number, { src: number }>): number[][] {
  const root = members.map((ms) => ms[ms.length - 1]);
  const outOf = (g: number) => eqns[root[g]].out;
  // where each group runs now (a cluster's groups, where its last one was), and so each equation
  const emit = root.map((r, g) => sumAt.get(g) ?? r);
  const at = (k: number) => (group[k] < 0 ? k : emit[group[k]]);
  // what a group reads: its inputs, and the tensors it reads slices of; and who else reads slices of a tensor
  const inputs = (g: number) => new Set(members[g].flatMap((m) => eqns[m].ins.flatMap((v) => (views.has(v) ? [v, views.get(v)!.src] : [v]))));
  const sliceReaders = new Map<number, number[]>();
  eqns.forEach((e, k) => { for (const v of e.ins) if (views.has(v)) sliceReaders.set(views.get(v)!.src, [...sliceReaders.get(views.get(v)!.src) ?? [], k]); });
  const clusters: number[][] = [], clusterOf = new Array<number>(members.length).fill(-1);
  const clusterAt = (k: number | undefined) => (k === undefined || group[k] < 0 ? -1 : clusterOf[group[k]]);
  for (const g of members.map((_, g) => g).filter((g) => !sumAt.has(g)).sort((a, b) => root[a] - root[b])) {
    const shape = avals[outOf(g)].shape.join('x'), mine = inputs(g);
    // the related clusters: those that make a tensor g reads, or read one too; the latest first
    const near = new Set<number>();
    for (const v of mine) for (const k of [producer.get(v), ...readers.get(v) ?? [], ...sliceReaders.get(v) ?? []]) if (clusterAt(k) >= 0) near.add(clusterAt(k));
    const fits = (c: number[]) => {
      if (avals[outOf(c[0])].shape.join('x') !== shape) return false;
      const all = [...c, g], inside = new Set(all.flatMap((h) => members[h]));
      if (inputsOf([...inside]) > MAX_FUSED_INPUTS) return false;
      const outside = (h: number) => (readers.get(outOf(h)) ?? []).filter((r) => !inside.has(r));
      if (all.filter((h) => isOut.has(outOf(h)) || outside(h).length).length > most) return false;
      return c.every((h) => outside(h).every((r) => at(r) > root[g]));
    };
    const c = [...near].sort((a, b) => emit[clusters[b][0]] - emit[clusters[a][0]]).find((i) => fits(clusters[i]));
    if (c === undefined) {
      clusterOf[g] = clusters.length;
      clusters.push([g]);
    } else {
      clusterOf[g] = c;
      clusters[c].push(g);
      for (const h of clusters[c]) emit[h] = root[g];
    }
  }
  // then whole clusters of one shape merge, on the same terms but related or not, as XLA's horizontal
  // fusion: two params' Adam updates are related only by the step size their last groups read (by
  // then each param's first group has begun a cluster), two BatchNorms' running statistics not at all
  const merged: number[][] = [], byShape = new Map<string, number[][]>();
  for (const b of clusters.sort((x, y) => emit[x[0]] - emit[y[0]])) {
    const shape = avals[outOf(b[0])].shape.join('x');
    const fits = (a: number[]) => {
      const all = [...a, ...b], inside = new Set(all.flatMap((h) => members[h]));
      if (inputsOf([...inside]) > MAX_FUSED_INPUTS) return false;
      const outside = (h: number) => (readers.get(outOf(h)) ?? []).filter((r) => !inside.has(r));
      if (all.filter((h) => isOut.has(outOf(h)) || outside(h).length).length > most) return false;
      return a.every((h) => outside(h).every((r) => at(r) > emit[b[0]]));
    };
    // the latest first
    const a = [...byShape.get(shape) ?? []].reverse().find(fits);
    if (a) {
      a.push(...b);
      for (const h of a) emit[h] = emit[b[b.length - 1]];
    } else merged.push(b);
    byShape.set(shape, [...(byShape.get(shape) ?? []).filter((c) => c !== a), a ?? b]);
  }
  return merged;
}

/** What fusedStep needs of the program: the avals, the constants' values, the slices and broadcasts read through. */
interface FuseContext {
  readonly avals: readonly Aval[];
  readonly scalar: (v: number) => (() => number) | undefined;
  readonly views: ReadonlyMap<number, { src: number; view: View }>;
  readonly broadcasts: ReadonlyMap<number, number>;
}

/**
 * One step for `group` (equations in order), or for the group summed by `sum` when given; `results`:
 * the variables it writes, when more than the last equation's (a sibling cluster's). An input that is
 * a slice read through is the sliced tensor, with its View.
 */
function fusedStep(group: readonly Step[], { avals, scalar, views, broadcasts }: FuseContext, { sum, results }: { sum?: Step; results?: readonly number[] } = {}): Step {
  const inside = new Map<number, number>(group.map((e, j) => [e.out, j]));
  const ins: number[] = [], inViews: (View | undefined)[] = [], avalsIn: Aval[] = [], keys: string[] = [];
  const ops: FusedOp[] = group.map((e) => ({
    prim: e.prim,
    attrs: e.attrs,
    args: e.ins.map((u) => {
      const j = inside.get(u);
      if (j !== undefined) return { op: j };
      const v = broadcasts.get(u) ?? u;
      const through = views.get(v), key = through ? `${through.src}@${through.view.offset}:${through.view.strides.join()}:${avals[v].shape.join()}` : String(v);
      let i = keys.indexOf(key);
      if (i < 0) {
        i = keys.length;
        keys.push(key);
        ins.push(through?.src ?? v);
        inViews.push(through?.view);
        avalsIn.push(avals[v]);
      }
      return { input: i };
    }),
    inDtypes: e.ins.map((v) => avals[v].dtype),
    out: avals[e.out],
  }));
  const out = group[group.length - 1].out;
  if (sum) {
    const prim = fusedSumPrimitive(ops, avalsIn, avals[out].shape, sum.attrs.axes, avals[sum.out]);
    return { prim, attrs: {}, ins, out: sum.out, fused: [...group.map((e) => e.prim.name), 'sum'] };
  }
  const constants = ins.map((v, i) => (inViews[i] ? undefined : scalar(v)));
  const fused = group.map((e) => e.prim.name);
  if (results && results.length > 1) {
    const prim = fusedPrimitive(ops, avalsIn, avals[results[0]], { constants, results: results.map((v) => inside.get(v)!), views: inViews });
    return { prim, attrs: {}, ins, out: results[0], more: results.slice(1), fused };
  }
  const prim = fusedPrimitive(ops, avalsIn, avals[out], { constants, views: inViews });
  return { prim, attrs: {}, ins, out, fused };
}

/**
 * Run the program's (fused) steps on concrete tensors. A value is dropped after its last reader, so
 * a forward pass holds no more than eager code would (the GC, or the GPU's reference counts, free it).
 * On the CPU a dropped value's array goes to the program's pool, and a later kernel of this call or
 * the next one that allocates the same dtype and length gets it back (zeroed, unless the kernel
 * writes every element: dtype.ts allocResult): a training step then
 * maps no new memory after its first call, where eager code allocates (and the GC frees) every
 * intermediate anew. An array is pooled only when no live value shares it (reshape returns its
 * input's array), and never when an argument, a constant or an output holds it.
 */
function execute(prog: Program, args: readonly Tensor[]): any {
  const env = new Array<Tensor | undefined>(prog.avals.length);
  args.forEach((t, i) => { env[i] = t; });
  prog.consts.forEach((t, i) => { env[prog.nIn + i] = t; });
  const drops = prog.lastUses, pool = prog.pool;
  // how many live values hold each array made in this call (a reshape and its input share one)
  const holders = new Map<ArrayBufferLike, number>();
  const own = (buf: unknown): ArrayBufferLike | undefined =>
    ArrayBuffer.isView(buf) && buf.buffer instanceof ArrayBuffer ? buf.buffer : undefined;
  // arguments' and constants' arrays are never pooled, nor one a value shares with them (an argument
  // may well be an earlier call's output, whose array this pool made)
  const outside = new Set(env.slice(0, prog.nIn + prog.consts.length).map((t) => own(t!.buf)));
  withRecycler(pool, () => prog.steps.forEach((s, j) => {
    const ins = s.ins.map((v) => env[v]!);
    const kernel = prog.kernels[j] === undefined ? (prog.kernels[j] = prog.backend.specialise?.(s.prim.name) ?? null) : prog.kernels[j];
    const ys = s.more ? runMany(s.prim, ins, s.attrs, [s.out, ...s.more].map((v) => prog.avals[v]), kernel ?? undefined)
      : [run(s.prim, ins, s.attrs, prog.avals[s.out], kernel ?? undefined)];
    [s.out, ...s.more ?? []].forEach((v, i) => {
      env[v] = ys[i];
      const a = own(ys[i].buf);
      if (a && !outside.has(a)) holders.set(a, (holders.get(a) ?? 0) + 1);
    });
    for (const v of drops[j]) {
      const buf = env[v]!.buf as TypedArray, b = own(buf);
      env[v] = undefined;
      if (!b || outside.has(b)) continue;
      const n = holders.get(b)! - 1;
      holders.set(b, n);
      if (n === 0) pool.give(buf);
    }
  }));
  return unflatten(prog.outDef, prog.outs.map((v) => env[v]));
}

/**
 * Arrays a program has finished with, by dtype and length, for its kernels to reuse. It takes back
 * only arrays that `alloc` made for it (a kernel's own array, a view, one made elsewhere, never), so
 * it holds at most what one call allocates.
 */
export class BufferPool implements Recycler {
  private readonly free = new Map<string, TypedArray[]>();
  private readonly mine = new WeakSet<TypedArray>();
  /** How many bytes the pool holds now. */
  bytes = 0;
  /**
   * For specs: hand arrays back filled with nan (7 for integers) instead of as they were left, so
   * that a kernel which asks for a whole result (`allocResult`) and leaves an element unwritten
   * shows up as a wrong value rather than as a stale one that happens to be right.
   */
  poison = false;
  take(dtype: DType, n: number): TypedArray | undefined {
    const buf = this.free.get(`${dtype}:${n}`)?.pop();
    if (buf) this.bytes -= buf.byteLength;
    if (buf && this.poison) buf.fill(dtype === 'float32' || dtype === 'float64' ? NaN : 7);
    return buf;
  }
  made(buf: TypedArray): void { this.mine.add(buf); }
  give(buf: TypedArray): void {
    if (!this.mine.has(buf)) return;
    const key = `${dtypeOfArray(buf)}:${buf.length}`;
    const list = this.free.get(key) ?? [];
    list.push(buf);
    this.free.set(key, list);
    this.bytes += buf.byteLength;
  }
}

/** Under an outer transformation: bind each traced equation, so grad or vmap sees every primitive. */
function replay(prog: Program, args: readonly Tensor[]): any {
  const env = new Array<Tensor>(prog.avals.length);
  args.forEach((t, i) => { env[i] = t; });
  prog.consts.forEach((t, i) => { env[prog.nIn + i] = t; });
  for (const s of prog.eqns) env[s.out] = bind(s.prim, s.ins.map((v) => env[v]), s.attrs);
  return unflatten(prog.outDef, prog.outs.map((v) => env[v]));
}
