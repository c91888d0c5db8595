/**
 * Pytrees: nested plain objects and arrays whose leaves are tensors (JAX's word). Params, gradients,
 * optimizer state and batches are all pytrees, and every transformation works leaf by leaf.
 * Anything that is not a plain object, an array or a tensor (numbers, strings, keys, null) is a static
 * leaf: carried through unchanged, never differentiated.
 *
 * A value of another shape joins in by answering `[PYTREE]()` with its children (a pytree) and how to
 * rebuild itself from them, as JAX's registered nodes do: a memory bank, whose rows live in a
 * persistent tree of host arrays, flattens to one [N, D] tensor, so checkpoints and treeMap handle it
 * like any other state. `plain(tree)` replaces such nodes by their children (what a checkpoint
 * stores); `rebuild(template, plainTree)` puts them back.
 */
import { Tensor, isTensor } from './tensor.js';

export type PyTree = Tensor | readonly PyTree[] | { readonly [k: string]: PyTree } | unknown;

/** The method by which a value that is not a plain object joins the pytrees. */
export const PYTREE: unique symbol = Symbol.for('avid-fn.pytree');

/** A value with its own pytree form: `[PYTREE]()` gives its children and how to rebuild it from them. */
export interface PyTreeNode {
  [PYTREE](): { children: PyTree; rebuild: (children: any) => unknown };
}

const isNode = (x: unknown): x is PyTreeNode => typeof x === 'object' && x !== null && typeof (x as Partial<PyTreeNode>)[PYTREE] === 'function';

/** The shape of a tree with its tensors taken out. */
export type TreeDef =
  | { kind: 'leaf' }
  | { kind: 'static'; value: unknown }
  | { kind: 'array'; children: TreeDef[] }
  | { kind: 'object'; keys: string[]; children: TreeDef[] }
  | { kind: 'node'; child: TreeDef; rebuild: (children: any) => unknown };

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);

/** Tensors of a tree in a fixed order (object keys sorted), and how to put them back. */
export function flatten(tree: unknown): [Tensor[], TreeDef] {
  const leaves: Tensor[] = [];
  const walk = (t: unknown): TreeDef => {
    if (isTensor(t)) { leaves.push(t); return { kind: 'leaf' }; }
    if (isNode(t)) { const { children, rebuild } = t[PYTREE](); return { kind: 'node', child: walk(children), rebuild }; }
    if (Array.isArray(t)) return { kind: 'array', children: t.map(walk) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t).sort();
      return { kind: 'object', keys, children: keys.map((k) => walk(t[k])) };
    }
    return { kind: 'static', value: t };
  };
  const def = walk(tree);
  return [leaves, def];
}

/** Rebuild a tree of `def`'s shape from `leaves` (in flatten's order). */
export function unflatten<T = any>(def: TreeDef, leaves: readonly unknown[]): T {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf': return leaves[i++];
      case 'static': return d.value;
      case 'array': return d.children.map(build);
      case 'object': return Object.fromEntries(d.keys.map((k, j) => [k, build(d.children[j])]));
      case 'node': return d.rebuild(build(d.child));
    }
  };
  const out = build(def);
  if (i !== leaves.length) throw new Error(`unflatten: tree has ${i} leaves, got ${leaves.length}`);
  return out as T;
}

/** Apply `f` to every tensor of a tree. `treeMap(params, (p) => mul(p, 0.5))` */
export function treeMap<T>(tree: T, f: (x: Tensor, i: number) => unknown): T {
  const [leaves, def] = flatten(tree);
  return unflatten(def, leaves.map(f));
}

/** Apply `f` to matching tensors of several trees of one structure. `treeZip([p, g], (p, g) => sub(p, g))` */
export function treeZip<T>(trees: readonly unknown[], f: (...xs: Tensor[]) => unknown): T {
  const flat = trees.map(flatten);
  const [l0, d0] = flat[0];
  flat.forEach(([l], j) => {
    if (l.length !== l0.length) throw new Error(`treeZip: tree ${j} has ${l.length} tensors, tree 0 has ${l0.length}`);
  });
  return unflatten(d0, l0.map((_, i) => f(...flat.map(([l]) => l[i]))));
}

/** The tensors of a tree in flatten's order. */
export const treeLeaves = (tree: unknown): Tensor[] => flatten(tree)[0];

export { Tensor };

/** The tree with every `[PYTREE]` node replaced by its children, recursively: nothing but arrays, plain objects and leaves. */
export function plain(tree: unknown): unknown {
  if (isTensor(tree)) return tree;
  if (isNode(tree)) return plain(tree[PYTREE]().children);
  if (Array.isArray(tree)) return tree.map(plain);
  if (isPlainObject(tree)) return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, plain(v)]));
  return tree;
}

/**
 * The inverse of `plain`: `p` (a plain tree, e.g. loaded from a checkpoint) with the nodes of
 * `template` rebuilt where the template has them. Everything else, static values included, is `p`'s.
 */
export function rebuild<T>(template: T, p: unknown): T {
  const go = (t: unknown, x: unknown): unknown => {
    if (isNode(t)) { const { children, rebuild: make } = t[PYTREE](); return make(go(children, x)); }
    if (Array.isArray(t) && Array.isArray(x)) return x.map((c, i) => go(t[i], c));
    if (isPlainObject(t) && isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, c]) => [k, go(t[k], c)]));
    return x;
  };
  return go(template, p) as T;
}
