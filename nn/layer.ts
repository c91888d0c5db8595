/**
 * Layers as (init, apply) pairs, stax-style, with explicit state (haiku/equinox-style):
 *   init(key, inputShape, {dtype}) -> {params, state, outputShape}
 *   apply(params, state, x, {train, key}) -> {y, state}
 * Params and state are plain pytrees of tensors, so grad, optimizers and checkpoints see them as data.
 * Combinators build layers from layers: serial, parallel, fanOut, residual. Give them a record
 * instead of an array and the params read by name: `serial({stem, block1})` has params {stem, block1}.
 */
import * as np from '../core/index.js';

/** A shape with the batch axis first; the batch may be -1 (unknown) at init. */
export type Shape = readonly number[];
/** The shape of a layer's input or output: one shape, or an array or record of them. */
export type Shapes = Shape | readonly Shapes[] | { readonly [k: string]: Shapes };
/** A layer's input or output: one tensor, or an array or record of them (a pytree). */
export type Value = np.Tensor | readonly Value[] | { readonly [k: string]: Value };
/** A pytree of tensors. Typed loosely on purpose: layers know their own structure. */
export type Tree = any;

/** Options every layer's init takes. */
export interface InitOptions {
  /** Dtype of the params and state (default float32; float64 for gradient checks). */
  dtype?: 'float32' | 'float64';
}

/** Options every layer's apply takes: the mode, and randomness. */
export interface ApplyOptions {
  /** Training mode: BatchNorm uses and updates batch statistics, Dropout drops. */
  train: boolean;
  /** Randomness for this call (Dropout); combinators fold in each child's index. */
  key?: np.Key;
  /**
   * Overrides every BatchNorm's running-average momentum for this call (training mode). Momentum
   * 1 / (k + 1) on the k-th of a series of batches (k from 0) makes the running statistics the plain
   * mean over the series, the initial ones forgotten: "precise BN" (avid/evaluate.ts recalibrate).
   * A float64 scalar tensor gives the same statistics as the number, and a jitted caller passes one
   * so that a new value does not trace again.
   */
  momentum?: number | np.Tensor;
}

/** One row of a summary: a sub-layer, its output shape and parameter count, and its own parts. */
export interface Part {
  path: string;
  name: string;
  outputShape: Shapes;
  params: number;
  parts?: Part[];
}

/** What init returns: the params and state pytrees and the output shape. */
export interface Init {
  params: Tree;
  state: Tree;
  outputShape: Shapes;
  /** Sub-layers, for `summary`; combinators fill it in, leaf layers leave it out. */
  parts?: Part[];
}

/** A layer: a name and an (init, apply) pair of pure functions. */
export interface Layer {
  /** What `summary` prints, e.g. `Conv3d(16, k=[1,3,3], s=[1,2,2])`. */
  readonly name: string;
  init(key: np.Key, inputShape: Shapes, opts?: InitOptions): Init;
  apply(params: Tree, state: Tree, x: Value, opts: ApplyOptions): { y: Value; state: Tree };
}

/** Layers as an ordered array or a record of named layers. */
export type Children = readonly Layer[] | { readonly [name: string]: Layer };

/** Number of scalars in the tensors of a tree. `paramCount(params)` */
export const paramCount = (tree: Tree): number => np.treeLeaves(tree).reduce((n, t) => n + t.size, 0);

/** `x` as one tensor, or an error saying which layer wanted one. */
export function asTensor(layer: string, x: Value): np.Tensor {
  if (!(x instanceof np.Tensor)) throw new Error(`${layer}: expected one tensor as input, got ${Array.isArray(x) ? `an array of ${x.length}` : 'a record'}`);
  return x;
}

/** `s` as one shape, or an error saying which layer wanted one. */
export function asShape(layer: string, s: Shapes): Shape {
  if (!isShape(s)) throw new Error(`${layer}: expected one input shape, got ${JSON.stringify(s)}`);
  return s;
}

/** Whether `s` is one shape (an array of numbers) rather than an array or record of shapes. */
export const isShape = (s: Shapes): s is Shape => Array.isArray(s) && s.every((d) => typeof d === 'number');

/**
 * The shape `f` gives an input of shape `s`, from core's shape rules alone (np.evalShape: nothing is
 * computed); an unknown batch (-1) stays unknown. Errors name the layer and the input shape.
 * `outputShapeOf('Relu', np.relu, [-1, 3])` → [-1, 3]
 */
export function outputShapeOf(name: string, f: (x: np.Tensor) => np.Tensor, s: Shape, dtype: np.DType = 'float32'): Shape {
  const unknown = s[0] === -1;
  let out: Shape;
  try {
    out = np.evalShape(f, { shape: unknown ? [1, ...s.slice(1)] : s, dtype }).shape;
  } catch (e) {
    throw new Error(`${name}: input shape [${s.join(', ')}]: ${(e as Error).message}`);
  }
  return unknown && out.length ? [-1, ...out.slice(1)] : out;
}

/** A layer without params or state: `y = f(x)`; init finds the output shape by `outputShapeOf`. `stateless('Relu', np.relu)` */
export function stateless(name: string, f: (x: np.Tensor, opts: ApplyOptions) => np.Tensor): Layer {
  return {
    name,
    init: (_key, s, { dtype = 'float32' } = {}) => ({ params: {}, state: {}, outputShape: outputShapeOf(name, (x) => f(x, { train: false }), asShape(name, s), dtype) }),
    apply: (_p, state, x, opts) => ({ y: f(asTensor(name, x), opts), state }),
  };
}

// ---- the children of a combinator: arrays or records, treated alike ----

function entries(op: string, children: Children): [string, Layer][] {
  if (Array.isArray(children)) return children.map((l, i) => [String(i), l]);
  const es = Object.entries(children as Record<string, Layer>);
  const bad = es.find(([k]) => /^(0|[1-9]\d*)$/.test(k));
  if (bad) throw new Error(`${op}: child name '${bad[0]}' is an integer, which JS objects reorder; use an array or a name like 'b${bad[0]}'`);
  return es;
}

/** Rebuild the children's container (array or record) from per-child values in entry order. */
function rebuild<T>(children: Children, values: T[]): any {
  if (Array.isArray(children)) return values;
  return Object.fromEntries(Object.keys(children).map((k, i) => [k, values[i]]));
}

/** The `name` entry of an array or record built like `children`, or an error. */
function pick(op: string, what: string, tree: any, children: Children, name: string, i: number): any {
  if (Array.isArray(children)) {
    if (!Array.isArray(tree) || tree.length !== children.length) throw new Error(`${op}: ${what} must be an array of ${children.length}, got ${describe(tree)}`);
    return tree[i];
  }
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree) || !(name in tree)) {
    throw new Error(`${op}: ${what} must be a record with key '${name}', got ${describe(tree)}`);
  }
  return tree[name];
}

const describe = (v: unknown): string =>
  v instanceof np.Tensor ? `a tensor [${v.shape.join(', ')}]` : Array.isArray(v) ? `an array of ${v.length}` :
    v && typeof v === 'object' ? `a record {${Object.keys(v).join(', ')}}` : String(v);

const childKey = (key: np.Key | undefined, i: number) => (key ? np.random.foldIn(key, i) : undefined);
const part = (path: string, layer: Layer, r: Init): Part => ({ path, name: layer.name, outputShape: r.outputShape, params: paramCount(r.params), parts: r.parts });
/** `serial(conv, bn, relu)` for a few named children, else `serial(10)`. */
function listName(op: string, es: [string, Layer][], named: boolean): string {
  const names = es.map(([k]) => k).join(', ');
  return `${op}(${named && names.length <= 32 ? names : es.length})`;
}

// ---- combinators ----

/**
 * Layers one after another. An array gives array params; a record gives params by name.
 * `serial({conv: Conv2d(16, 3), bn: BatchNorm(), relu: Relu()})`
 */
export function serial(children: Children): Layer {
  const es = entries('serial', children), named = !Array.isArray(children);
  return {
    name: listName('serial', es, named),
    init(key, inputShape, opts) {
      const keys = np.random.split(key, Math.max(es.length, 1));
      let s = inputShape;
      const rs = es.map(([, l], i) => {
        const r = l.init(keys[i], s, opts);
        s = r.outputShape;
        return r;
      });
      return {
        params: rebuild(children, rs.map((r) => r.params)),
        state: rebuild(children, rs.map((r) => r.state)),
        outputShape: s,
        parts: rs.map((r, i) => part(es[i][0], es[i][1], r)),
      };
    },
    apply(params, state, x, opts) {
      const states: Tree[] = [];
      let y = x;
      es.forEach(([name, l], i) => {
        const r = l.apply(pick('serial', 'params', params, children, name, i), pick('serial', 'state', state, children, name, i), y, { ...opts, key: childKey(opts.key, i) });
        y = r.y;
        states.push(r.state);
      });
      return { y, state: rebuild(children, states) };
    },
  };
}

/**
 * Each layer on its own input: an array of layers takes an array of inputs, a record a record.
 * `parallel([Dense(8), Dense(4)])` maps [x1, x2] to [y1, y2].
 */
export function parallel(children: Children): Layer {
  const es = entries('parallel', children), named = !Array.isArray(children);
  return {
    name: listName('parallel', es, named),
    init(key, inputShape, opts) {
      const keys = np.random.split(key, Math.max(es.length, 1));
      const rs = es.map(([name, l], i) => l.init(keys[i], pick('parallel', 'input shape', inputShape, children, name, i), opts));
      return {
        params: rebuild(children, rs.map((r) => r.params)),
        state: rebuild(children, rs.map((r) => r.state)),
        outputShape: rebuild(children, rs.map((r) => r.outputShape)),
        parts: rs.map((r, i) => part(es[i][0], es[i][1], r)),
      };
    },
    apply(params, state, x, opts) {
      const rs = es.map(([name, l], i) => l.apply(pick('parallel', 'params', params, children, name, i), pick('parallel', 'state', state, children, name, i),
        pick('parallel', 'input', x, children, name, i), { ...opts, key: childKey(opts.key, i) }));
      return { y: rebuild(children, rs.map((r) => r.y)), state: rebuild(children, rs.map((r) => r.state)) };
    },
  };
}

/**
 * Every layer on the same input; the outputs as an array or record.
 * `fanOut({video: videoHead, audio: audioHead})` maps x to {video, audio}.
 */
export function fanOut(children: Children): Layer {
  const es = entries('fanOut', children), named = !Array.isArray(children);
  const inner = parallel(children);
  const copies = (v: unknown) => rebuild(children, es.map(() => v));
  return {
    name: listName('fanOut', es, named),
    init: (key, inputShape, opts) => inner.init(key, copies(inputShape), opts),
    apply: (params, state, x, opts) => inner.apply(params, state, copies(x), opts),
  };
}

/** The identity layer. `residual(path, Identity())` */
export const Identity = (): Layer => ({
  name: 'Identity',
  init: (_key, s) => ({ params: {}, state: {}, outputShape: s }),
  apply: (_p, state, x) => ({ y: x, state }),
});

const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * path(x) + shortcut(x) (shortcut defaults to the identity); params {path, shortcut}.
 * `residual(serial([Conv2d(8, 3, {padding: 1}), Relu()]))`
 */
export function residual(path: Layer, shortcut: Layer = Identity()): Layer {
  const name = 'residual';
  return {
    name,
    init(key, inputShape, opts) {
      const [k1, k2] = np.random.split(key);
      const p = path.init(k1, inputShape, opts), s = shortcut.init(k2, inputShape, opts);
      const ps = asShape(`${name} (path output)`, p.outputShape), ss = asShape(`${name} (shortcut output)`, s.outputShape);
      if (!sameShape(ps, ss)) throw new Error(`${name}: path gives [${ps.join(', ')}] but shortcut gives [${ss.join(', ')}]; give the shortcut a projection (e.g. a 1x1 strided conv)`);
      return {
        params: { path: p.params, shortcut: s.params },
        state: { path: p.state, shortcut: s.state },
        outputShape: ps,
        parts: [part('path', path, p), part('shortcut', shortcut, s)],
      };
    },
    apply(params, state, x, opts) {
      const p = path.apply(params.path, state.path, x, { ...opts, key: childKey(opts.key, 0) });
      const s = shortcut.apply(params.shortcut, state.shortcut, x, { ...opts, key: childKey(opts.key, 1) });
      return { y: np.add(asTensor(name, p.y), asTensor(name, s.y)), state: { path: p.state, shortcut: s.state } };
    },
  };
}

/** Sum of an array or record of tensors of one shape (after fanOut or parallel). `serial([fanOut([a, b]), FanInSum()])` */
export const FanInSum = (): Layer => ({
  name: 'FanInSum',
  init(_key, s) {
    const shapes = Object.values(s as object) as Shapes[];
    if (shapes.length === 0 || !shapes.every(isShape)) throw new Error(`FanInSum: expected an array or record of shapes, got ${JSON.stringify(s)}`);
    const first = shapes[0] as Shape;
    if (!shapes.every((t) => sameShape(t as Shape, first))) throw new Error(`FanInSum: shapes differ: ${JSON.stringify(s)}`);
    return { params: {}, state: {}, outputShape: first };
  },
  apply: (_p, state, x) => ({ y: (Object.values(x) as np.Tensor[]).reduce((a, b) => np.add(a, b)), state }),
});

/** Concatenation of an array or record of tensors along `axis` (default 1, the channels). `FanInConcat()` */
export const FanInConcat = (axis = 1): Layer => ({
  name: `FanInConcat(${axis})`,
  init(_key, s) {
    const shapes = Object.values(s as object) as Shapes[];
    if (shapes.length === 0 || !shapes.every(isShape)) throw new Error(`FanInConcat: expected an array or record of shapes, got ${JSON.stringify(s)}`);
    const first = shapes[0] as Shape, a = axis < 0 ? axis + first.length : axis;
    const out = [...first];
    out[a] = (shapes as Shape[]).reduce((n, t) => n + t[a], 0);
    return { params: {}, state: {}, outputShape: out };
  },
  apply: (_p, state, x) => ({ y: np.concat(Object.values(x) as np.Tensor[], axis), state }),
});
