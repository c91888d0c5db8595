/**
 * The checkpoint manifest: a JSON description of a pytree whose tensors live in blob files. The tree
 * is encoded node by node (tensor, array, object, static value, random key), so a tree with
 * numbers (an optimizer's step count) or keys in it comes back as it went in. Decoding goes
 * through io-ts: what comes off the disk is untrusted until it has been checked, and a failure
 * becomes an Either's Left naming the JSON path that is wrong.
 */
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import * as t from 'io-ts';
import * as np from '../core/index.js';

/** One node of an encoded tree; tensors are indices into the manifest's `tensors`. */
export type Node =
  | { tensor: number }
  | { array: Node[] }
  | { object: [string, Node][] }
  | { value: null | boolean | number | string }
  | { number: 'NaN' | 'Infinity' | '-Infinity' }
  | { key: [number, number] }
  | { undefined: true };

const NodeC: t.Type<Node> = t.recursion('Node', () => t.union([
  t.type({ tensor: t.Int }),
  t.type({ array: t.array(NodeC) }),
  t.type({ object: t.array(t.tuple([t.string, NodeC])) }),
  t.type({ value: t.union([t.null, t.boolean, t.number, t.string]) }),
  t.type({ number: t.keyof({ NaN: null, Infinity: null, '-Infinity': null }) }),
  t.type({ key: t.tuple([t.Int, t.Int]) }),
  t.type({ undefined: t.literal(true) }),
]) as unknown as t.Type<Node>);

const DTypeC = t.keyof({ float32: null, float64: null, int32: null, bool: null });

const BYTES: Record<np.DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

const EntryC = t.type({
  /** blob file name inside the checkpoint directory: the sha256 of its bytes, hex, + '.bin' */
  file: t.refinement(t.string, (s) => /^[0-9a-f]{64}\.bin$/.test(s), 'BlobFileName'),
  dtype: DTypeC,
  shape: t.array(t.refinement(t.Int, (n) => n >= 0, 'NonNegativeInt')),
  bytes: t.Int,
});

/** The manifest's format tag; `version` moves when the layout changes. */
export const FORMAT = 'avid-fn/checkpoint';

/** The manifest's io-ts codec: a format tag, user metadata, the tree, and one entry per blob. */
export const ManifestC = t.type({
  format: t.literal(FORMAT),
  version: t.literal(1),
  metadata: t.UnknownRecord,
  tree: NodeC,
  tensors: t.array(EntryC),
});
/** A decoded, checked manifest. */
export type Manifest = t.TypeOf<typeof ManifestC>;

/** The most specific io-ts error as one line: where in the JSON, what was there, what was expected. */
function report(errors: t.Errors): string {
  const deepest = errors.reduce((a, b) => (b.context.length > a.context.length ? b : a));
  const path = deepest.context.map((c) => c.key).filter((k) => k !== '').join('.') || '(top level)';
  const expected = deepest.context[deepest.context.length - 1]?.type.name ?? '?';
  const shown = JSON.stringify(deepest.value);
  return `at ${path}: got ${shown === undefined ? 'nothing' : shown.length > 60 ? `${shown.slice(0, 60)}...` : shown}, expected ${expected}`;
}

/** Parse and check a manifest's text; Left is a one-line reason. Also checks what the types cannot say. */
export function decodeManifest(text: string): E.Either<string, Manifest> {
  return pipe(
    E.tryCatch(() => JSON.parse(text) as unknown, (e) => `not JSON (${(e as Error).message})`),
    E.chain((json) => pipe(ManifestC.decode(json), E.mapLeft(report))),
    E.chain(check),
  );
}

function check(m: Manifest): E.Either<string, Manifest> {
  for (const [i, e] of m.tensors.entries()) {
    const want = e.shape.reduce((a, b) => a * b, 1) * BYTES[e.dtype];
    if (e.bytes !== want) return E.left(`at tensors.${i}: ${e.bytes} bytes cannot hold shape [${e.shape.join(', ')}] ${e.dtype} (${want} bytes)`);
  }
  const seen = new Set<number>();
  const walk = (n: Node): string | undefined => {
    if ('tensor' in n) {
      if (n.tensor < 0 || n.tensor >= m.tensors.length) return `tree refers to tensor ${n.tensor} but the manifest lists ${m.tensors.length}`;
      seen.add(n.tensor);
    }
    if ('array' in n) for (const c of n.array) { const r = walk(c); if (r) return r; }
    if ('object' in n) for (const [, c] of n.object) { const r = walk(c); if (r) return r; }
    return undefined;
  };
  const bad = walk(m.tree);
  if (bad) return E.left(bad);
  if (seen.size !== m.tensors.length) return E.left(`the manifest lists ${m.tensors.length} tensors but the tree uses ${seen.size}`);
  return E.right(m);
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);

/** A child's path for error messages: `params.stem.conv.weight`, `layers[2]`. */
export const childPath = (path: string, k: string | number) =>
  (typeof k === 'number' ? `${path}[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`);

/** Encode a tree: its node description and its tensors (in node order) with their paths. */
export function encodeTree(tree: unknown): { node: Node; tensors: np.Tensor[]; paths: string[] } {
  const tensors: np.Tensor[] = [], paths: string[] = [];
  const enc = (x: unknown, path: string): Node => {
    if (x instanceof np.Tensor) { tensors.push(x); paths.push(path || '(root)'); return { tensor: tensors.length - 1 }; }
    if (Array.isArray(x)) return { array: x.map((c, i) => enc(c, childPath(path, i))) };
    if (isPlainObject(x)) return { object: Object.entries(x).map(([k, c]) => [k, enc(c, childPath(path, k))]) };
    if (x instanceof np.random.Key) return { key: [x.k0, x.k1] };
    if (x === undefined) return { undefined: true };
    if (typeof x === 'number' && !Number.isFinite(x)) return { number: String(x) as 'NaN' };
    if (x === null || typeof x === 'boolean' || typeof x === 'number' || typeof x === 'string') return { value: x };
    throw new Error(`checkpoint: cannot save ${path || 'the tree'}: a ${typeof x === 'object' ? (x as object).constructor?.name ?? 'object' : typeof x} is not a tensor, array, plain object, key or JSON value`);
  };
  return { node: enc(tree, ''), tensors, paths };
}

/** Rebuild a tree from its node description, calling `leaf(index, path)` for each tensor. */
export function decodeTree(node: Node, leaf: (i: number, path: string) => unknown, path = ''): unknown {
  if ('tensor' in node) return leaf(node.tensor, path || '(root)');
  if ('array' in node) return node.array.map((c, i) => decodeTree(c, leaf, childPath(path, i)));
  if ('object' in node) return Object.fromEntries(node.object.map(([k, c]) => [k, decodeTree(c, leaf, childPath(path, k))]));
  if ('key' in node) return new np.random.Key(node.key[0] >>> 0, node.key[1] >>> 0);
  if ('number' in node) return Number(node.number);
  if ('undefined' in node) return undefined;
  return node.value;
}
