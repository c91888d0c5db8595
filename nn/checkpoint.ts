/**
 * Checkpoints: any pytree of tensors (params, BatchNorm state, optimizer state, a step count, a key)
 * plus JSON metadata, saved to a directory and loaded back bit for bit.
 *
 * Layout: `manifest.json` (see manifest.ts) and one blob per distinct tensor, `<sha256>.bin`, holding
 * its raw little-endian bytes (float32 4, float64 8, int32 4, bool 1 per element).
 * Atomicity: every file is written under a temporary name, fsynced and renamed into place; blobs
 * first, then the manifest, whose rename over the old one is the single commit point. A crash at
 * any moment leaves either the old checkpoint or the new one, never a mix: the old manifest's
 * blobs are only deleted after the new manifest is in place. One writer per directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import * as np from '../core/index.js';
import { childPath, decodeManifest, decodeTree, encodeTree, FORMAT, type Manifest, type Node } from './manifest.js';

const MANIFEST = 'manifest.json';

function littleEndianOnly(): void {
  if (endianness() !== 'LE') throw new Error('checkpoint: blobs are little-endian and this host is big-endian; not supported');
}

/** Write `data` to `dir/name` atomically: a temporary file, fsync, rename. */
function writeAtomic(dir: string, name: string, data: Uint8Array): void {
  const tmp = join(dir, `${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'w');
  try {
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, join(dir, name));
}

/** fsync a directory, so the renames in it are durable. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

const bytesOf = (t: np.Tensor): Uint8Array => {
  const a = t.dataSync();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
};

/**
 * Save `tree` and `metadata` (JSON) to directory `dir`, atomically replacing any checkpoint there.
 * `saveCheckpoint('runs/a/ckpt', {params, state, opt}, {epoch: 3})`
 */
export function saveCheckpoint(dir: string, tree: unknown, metadata: Record<string, unknown> = {}): void {
  littleEndianOnly();
  // a value with its own pytree form (a memory bank) is saved as its children
  const { node, tensors } = encodeTree(np.treePlain(tree));
  mkdirSync(dir, { recursive: true });
  const entries = tensors.map((t) => {
    const bytes = bytesOf(t);
    const file = `${createHash('sha256').update(bytes).digest('hex')}.bin`;
    // a blob only ever appears under its final name complete (rename after fsync), so an existing one is good
    if (!existsSync(join(dir, file))) writeAtomic(dir, file, bytes);
    return { file, dtype: t.dtype, shape: [...t.shape], bytes: bytes.length };
  });
  syncDir(dir);
  const manifest = { format: FORMAT, version: 1, metadata: JSON.parse(JSON.stringify(metadata)), tree: node, tensors: entries };
  writeAtomic(dir, MANIFEST, Buffer.from(JSON.stringify(manifest, null, 1)));
  syncDir(dir);
  // the commit is done; now drop what the new manifest does not use (old blobs, crashed temporaries)
  const keep = new Set(entries.map((e) => e.file));
  for (const f of readdirSync(dir)) {
    if ((f.endsWith('.bin') && !keep.has(f)) || /\.tmp-\d+-[0-9a-f]+$/.test(f)) unlinkSync(join(dir, f));
  }
}

/** How to load: what to check against, and where to put the tensors. */
export interface LoadOptions<T> {
  /** A tree of the expected structure; every tensor's shape and dtype must match it. */
  template?: T;
  /** The backend to create the tensors on (default: the current one). */
  backend?: string;
}

/** Differences between a checkpoint's tree and a template, one line each (path: what differs). */
function compare(m: Manifest, template: unknown): string[] {
  const out: string[] = [];
  const kind = (n: Node) => ('tensor' in n ? 'a tensor' : 'array' in n ? 'an array' : 'object' in n ? 'an object' : 'a plain value');
  const walk = (n: Node, t: unknown, path: string) => {
    const where = path || '(root)';
    if (t instanceof np.Tensor) {
      if (!('tensor' in n)) { out.push(`${where}: the template has a tensor, the checkpoint ${kind(n)}`); return; }
      const e = m.tensors[n.tensor];
      if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i])) out.push(`${where}: shape [${e.shape.join(', ')}] in the checkpoint, [${t.shape.join(', ')}] expected`);
      if (e.dtype !== t.dtype) out.push(`${where}: dtype ${e.dtype} in the checkpoint, ${t.dtype} expected`);
    } else if (Array.isArray(t)) {
      if (!('array' in n)) { out.push(`${where}: the template has an array, the checkpoint ${kind(n)}`); return; }
      if (n.array.length !== t.length) out.push(`${where}: ${n.array.length} entries in the checkpoint, ${t.length} expected`);
      n.array.slice(0, t.length).forEach((c, i) => walk(c, t[i], childPath(path, i)));
    } else if (t !== null && typeof t === 'object' && !(t instanceof np.random.Key)) {
      if (!('object' in n)) { out.push(`${where}: the template has an object, the checkpoint ${kind(n)}`); return; }
      const have = new Map(n.object);
      for (const k of Object.keys(t)) {
        const c = have.get(k);
        if (!c) out.push(`${childPath(path, k)}: missing key in the checkpoint`);
        else walk(c, (t as Record<string, unknown>)[k], childPath(path, k));
      }
      for (const [k] of n.object) if (!(k in t)) out.push(`${childPath(path, k)}: unexpected key in the checkpoint (not in the template)`);
    } else if ('tensor' in n || 'array' in n || 'object' in n) {
      out.push(`${where}: the template has a plain value, the checkpoint ${kind(n)}`);
    }
  };
  walk(m.tree, template, '');
  return out;
}

/**
 * Load a checkpoint saved by `saveCheckpoint`. Throws an Error naming the file and what is wrong
 * (missing, truncated, corrupt, or a shape / dtype / key that differs from `template`).
 * `const {tree, metadata} = loadCheckpoint('runs/a/ckpt', {template: {params, state, opt}})`
 */
export function loadCheckpoint<T = any>(dir: string, opts: LoadOptions<T> = {}): { tree: T; metadata: Record<string, unknown> } {
  littleEndianOnly();
  const mpath = join(dir, MANIFEST);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`checkpoint ${dir}: no such directory`);
  if (!existsSync(mpath)) throw new Error(`checkpoint ${mpath}: missing (no checkpoint was committed in ${dir})`);
  const m = decodeManifest(readFileSync(mpath, 'utf8'));
  if (E.isLeft(m)) throw new Error(`checkpoint ${mpath}: invalid manifest ${m.left}`);
  const manifest = m.right;
  if (opts.template !== undefined) {
    const diffs = compare(manifest, np.treePlain(opts.template));
    if (diffs.length) {
      throw new Error(`checkpoint ${mpath} does not match the template (${diffs.length} difference${diffs.length > 1 ? 's' : ''}):\n  ${diffs.slice(0, 12).join('\n  ')}${diffs.length > 12 ? '\n  ...' : ''}`);
    }
  }
  const tree = decodeTree(manifest.tree, (i, path) => {
    const e = manifest.tensors[i], file = join(dir, e.file);
    const what = `tensor ${path} [${e.shape.join(', ')}] ${e.dtype}`;
    if (!existsSync(file)) throw new Error(`checkpoint ${file}: missing (${what})`);
    const buf = readFileSync(file);
    if (buf.length !== e.bytes) throw new Error(`checkpoint ${file}: ${buf.length < e.bytes ? 'truncated' : 'too long'}, ${buf.length} bytes instead of ${e.bytes} (${what})`);
    if (`${createHash('sha256').update(buf).digest('hex')}.bin` !== e.file) throw new Error(`checkpoint ${file}: corrupt, its sha256 does not match its name (${what})`);
    const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
    const arr = e.dtype === 'float32' ? new Float32Array(copy) : e.dtype === 'float64' ? new Float64Array(copy) : e.dtype === 'int32' ? new Int32Array(copy) : new Uint8Array(copy);
    return np.tensor(arr, { shape: e.shape, dtype: e.dtype, backend: opts.backend });
  });
  // the template's own-form values (memory banks) are rebuilt from the children saved for them
  return { tree: (opts.template !== undefined ? np.treeRebuild(opts.template, tree) : tree) as T, metadata: manifest.metadata };
}
