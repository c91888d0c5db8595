/**
 * The memory bank: one slow-moving unit vector per training instance, as an immutable value.
 *
 * AVID keeps N x 128 rows and, after each step, moves the batch's rows toward the new embeddings.
 * A new bank per step must not cost a copy of all N rows, so rows live in a persistent radix tree
 * (as Clojure's vectors do): leaves hold 4 rows, inner nodes 64 children, and an update copies only
 * the leaves it touches and the nodes on their paths, O(batch x dim + batch x depth). The old bank is
 * untouched and still valid. Banks live in host memory; lookups return tensors on the current backend.
 * As a pytree a bank is its rows, one [n, dim] tensor, so a checkpoint of any state holding banks
 * saves and restores them with no special case, and a bank passed to a jitted function arrives
 * there as its rows on the device: lookups inside are then a gather (read-only: updates happen
 * outside, on the host).
 */
import * as np from '../core/index.js';

const LEAF_ROWS = 4, FANOUT = 64;
type Node = Float32Array | Node[];

export interface Bank extends np.PyTreeNode {
  readonly n: number;
  readonly dim: number;
  /** @internal the tree's root and the number of levels above the leaves (a host bank) */
  readonly root?: Node;
  readonly depth?: number;
  /** @internal the rows [n, dim] as a traced tensor (a bank inside a jitted function) */
  readonly traced?: np.Tensor;
}

/** A bank rebuilt from its rows: in host memory, or, from a tracer (inside jit), as that tracer. */
function rebuild(dim: number) {
  return (t: np.Tensor): Bank => {
    if (!(t instanceof np.Tensor) || t.rank !== 2 || t.shape[1] !== dim) throw new Error(`bank: rebuilt from ${t instanceof np.Tensor ? `a tensor [${t.shape}]` : 'a non-tensor'}, need [n, ${dim}]`);
    if (t.trace) {
      const b: Bank = Object.freeze({ n: t.shape[0], dim, traced: t, [np.PYTREE]: () => ({ children: t, rebuild: rebuild(dim) }) });
      return b;
    }
    return fromRows(Float32Array.from(t.dataSync()), t.shape[0], dim);
  };
}

/** A bank value: frozen, and a pytree whose one child is its rows. */
function bank(n: number, dim: number, root: Node, depth: number): Bank {
  const b: Bank = Object.freeze({ n, dim, root, depth, [np.PYTREE]: () => ({ children: rows(b), rebuild: rebuild(dim) }) });
  return b;
}

/** The host tree of `b`, or an error naming `op` for a bank inside jit (read-only there). */
function host(op: string, b: Bank): { root: Node; depth: number } {
  if (b.root === undefined) throw new Error(`${op}: a bank inside a jitted function can only be looked up; update it outside`);
  return { root: b.root, depth: b.depth! };
}

function leafCount(n: number): number { return Math.max(1, Math.ceil(n / LEAF_ROWS)); }

function depthFor(leaves: number): number {
  let d = 0;
  for (let cap = 1; cap < leaves; cap *= FANOUT) d++;
  return d;
}

/** The leaf holding row `r` and the row's offset in it. */
function locate(b: Bank, r: number): [Float32Array, number] {
  let node = b.root!, leaf = Math.floor(r / LEAF_ROWS);
  for (let level = b.depth! - 1; level >= 0; level--) {
    const span = FANOUT ** level;
    node = (node as Node[])[Math.floor(leaf / span)];
    leaf %= span;
  }
  return [node as Float32Array, (r % LEAF_ROWS) * b.dim];
}

/** A bank from a flat [n * dim] array of rows (copied into the tree). */
export function fromRows(rows: Float32Array, n: number, dim: number): Bank {
  if (rows.length !== n * dim) throw new Error(`bank: ${rows.length} values do not make ${n} rows of ${dim}`);
  const leaves: Node[] = [];
  for (let l = 0; l < leafCount(n); l++) {
    const leaf = new Float32Array(LEAF_ROWS * dim);
    leaf.set(rows.subarray(l * LEAF_ROWS * dim, Math.min(n, (l + 1) * LEAF_ROWS) * dim));
    leaves.push(leaf);
  }
  let level: Node[] = leaves;
  const depth = depthFor(leaves.length);
  for (let d = 0; d < depth; d++) {
    const up: Node[] = [];
    for (let i = 0; i < level.length; i += FANOUT) up.push(level.slice(i, i + FANOUT));
    level = up;
  }
  return bank(n, dim, level[0], depth);
}

/**
 * `n` random unit rows of `dim` (AVID's initial bank). `initBank(random.key(0), 1000, 128)`
 */
export function initBank(key: np.Key, n: number, dim: number): Bank {
  if (!Number.isInteger(n) || n < 2) throw new Error(`initBank: n must be an integer >= 2, got ${n}`);
  const rows = np.l2Normalize(np.random.normal(key, [n, dim])).dataSync() as Float32Array;
  return fromRows(rows, n, dim);
}

function checkIndices(op: string, b: Bank, idx: ArrayLike<number>): void {
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (!Number.isInteger(r) || r < 0 || r >= b.n) throw new Error(`${op}: index ${r} at position ${i} is out of range for a bank of ${b.n} rows`);
  }
}

/**
 * The rows at `indices` (any shape of int32) as a constant tensor [...indices.shape, dim].
 * `lookup(bank, tensor(new Int32Array([3, 7])))` has shape [2, 128].
 */
export function lookup(b: Bank, indices: np.Tensor): np.Tensor {
  if (indices.dtype !== 'int32') throw new Error(`lookup: indices must be int32, got ${indices.dtype}`);
  if (b.traced) return np.gather(b.traced, indices);
  const idx = indices.dataSync();
  checkIndices('lookup', b, idx);
  const out = new Float32Array(idx.length * b.dim);
  for (let i = 0; i < idx.length; i++) {
    const [leaf, off] = locate(b, idx[i]);
    out.set(leaf.subarray(off, off + b.dim), i * b.dim);
  }
  return np.tensor(out, { shape: [...indices.shape, b.dim] });
}

/** Every row, as a tensor [n, dim] (for evaluation and CMA's neighbour search). */
export function rows(b: Bank): np.Tensor {
  if (b.traced) return b.traced;
  const out = new Float32Array(b.n * b.dim);
  for (let r = 0; r < b.n; r += LEAF_ROWS) {
    const [leaf] = locate(b, r);
    out.set(leaf.subarray(0, Math.min(LEAF_ROWS, b.n - r) * b.dim), r * b.dim);
  }
  return np.tensor(out, { shape: [b.n, b.dim] });
}

/**
 * A new bank whose rows at `indices` are normalize(m * row + (1 - m) * embedding); the rest shared
 * with `b`, which is unchanged. Embeddings are constants here (read as values, never differentiated).
 * Repeated indices apply in order. `update(bank, idx, emb, 0.5)`
 */
export function update(b: Bank, indices: np.Tensor, embeddings: np.Tensor, momentum: number): Bank {
  const idx = indices.dataSync();
  if (embeddings.rank !== 2 || embeddings.shape[0] !== idx.length || embeddings.shape[1] !== b.dim) {
    throw new Error(`update: embeddings [${embeddings.shape}] must be [${idx.length}, ${b.dim}] for ${idx.length} indices`);
  }
  checkIndices('update', b, idx);
  const emb = embeddings.dataSync(), { depth } = host('update', b);
  // copy-on-write: each touched node is copied once per update, then written in place
  const fresh = new Set<Node>();
  const root = copyOnce(host('update', b).root, fresh);
  for (let i = 0; i < idx.length; i++) {
    let node = root, leaf = Math.floor(idx[i] / LEAF_ROWS);
    for (let level = depth - 1; level >= 0; level--) {
      const span = FANOUT ** level, children = node as Node[], c = Math.floor(leaf / span);
      children[c] = copyOnce(children[c], fresh);
      node = children[c];
      leaf %= span;
    }
    const row = node as Float32Array, off = (idx[i] % LEAF_ROWS) * b.dim;
    let norm = 0;
    for (let j = 0; j < b.dim; j++) {
      const v = momentum * row[off + j] + (1 - momentum) * emb[i * b.dim + j];
      row[off + j] = v;
      norm += v * v;
    }
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let j = 0; j < b.dim; j++) row[off + j] *= inv;
  }
  return bank(b.n, b.dim, root, depth);
}

function copyOnce(node: Node, fresh: Set<Node>): Node {
  if (fresh.has(node)) return node;
  const c = node instanceof Float32Array ? node.slice() : node.slice();
  fresh.add(c);
  return c;
}
