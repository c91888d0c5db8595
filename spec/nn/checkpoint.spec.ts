/**
 * Checkpoints: a round trip is bit-exact for every dtype (NaN payloads, -0, infinities, subnormals,
 * int32 extremes) and keeps non-tensor leaves (step counts, keys, strings); re-saving replaces the
 * old files; every corrupt case (missing, truncated, corrupt, bad manifest, template mismatch) fails
 * with an error naming the file and the difference; and a writer killed at random moments never
 * leaves anything but a whole checkpoint behind.
 */
import test from 'tape';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { throwsWith } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'avid-ckpt-'));
const bytes = (x: np.Tensor) => { const a = x.dataSync(); return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex'); };

/** Tensors of every dtype holding the awkward values, built from raw bits. */
function awkward(): Record<string, np.Tensor> {
  const f32 = new Float32Array(new Uint32Array([0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x7f7fffff, 0x3eaaaaab]).buffer);
  const f64 = new Float64Array(new BigUint64Array([0x7ff8000000000001n, 0xfff0000000abcdefn, 0x8000000000000000n, 0x0000000000000001n, 0x3fd5555555555555n, 0x7fefffffffffffffn]).buffer);
  return {
    f32: np.tensor(f32, { shape: [3, 3] }),
    f64: np.tensor(f64, { shape: [2, 3] }),
    i32: np.tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1])),
    bool: np.tensor([[true, false, true]]),
    scalar: np.tensor(0.1, { dtype: 'float64' }),
    empty: np.zeros([0, 4]),
  };
}

test('round trip: bit-exact tensors of every dtype, non-tensor leaves and metadata', (t) => {
  const dir = tmp();
  const tensors = awkward();
  const tree = { params: tensors, opt: { step: 7, lr: 1e-4, nan: NaN, inf: -Infinity }, key: np.random.key(42), name: 'run a', none: null, gone: undefined, list: [1, 'two', [tensors.i32]] };
  nn.saveCheckpoint(dir, tree, { epoch: 3, config: { widths: [16, 32] } });
  const { tree: back, metadata } = nn.loadCheckpoint(dir);
  for (const [k, v] of Object.entries(tensors)) {
    const b = back.params[k] as np.Tensor;
    t.ok(b.dtype === v.dtype && b.shape.join() === v.shape.join() && bytes(b) === bytes(v), `${k}: ${v.dtype} [${v.shape}] back bit for bit`);
  }
  t.equal(bytes(back.list[2][0]), bytes(tensors.i32), 'a tensor nested in arrays');
  t.deepEqual([back.opt.step, back.opt.lr, back.opt.inf, back.name, back.none], [7, 1e-4, -Infinity, 'run a', null], 'numbers, strings and null');
  t.ok(Number.isNaN(back.opt.nan) && 'gone' in back && back.gone === undefined, 'NaN and undefined');
  t.ok(back.key instanceof np.random.Key && String(back.key) === String(np.random.key(42)), 'a random key');
  t.deepEqual(metadata, { epoch: 3, config: { widths: [16, 32] } }, 'metadata');
  t.deepEqual(Object.keys(back), Object.keys(tree), 'object keys keep their order');
  rmSync(dir, { recursive: true });
  t.end();
});

/** A value with its own pytree form: a pair that flattens to one stacked tensor (as a memory bank flattens to its rows). */
class Pair implements np.PyTreeNode {
  constructor(readonly a: number[], readonly b: number[]) {}
  [np.PYTREE]() { return { children: np.tensor([this.a, this.b]), rebuild: (x: np.Tensor) => { const v = Array.from(x.dataSync()); return new Pair(v.slice(0, this.a.length), v.slice(this.a.length)); } }; }
}

test('a value with its own pytree form: flattened, mapped, saved and loaded as its children', (t) => {
  const tree = { pair: new Pair([1, 2], [3, 4]), w: np.tensor([5]), note: 'x' };
  const [leaves, def] = np.treeFlatten(tree);
  t.deepEqual(leaves.map((l) => l.shape), [[2, 2], [1]], 'flatten: the pair is one [2, 2] tensor');
  const back = np.treeUnflatten<typeof tree>(def, leaves);
  t.ok(back.pair instanceof Pair && back.pair.b[1] === 4, 'unflatten rebuilds it');
  const doubled = np.treeMap(tree, (x) => np.mul(x, 2));
  t.ok(doubled.pair instanceof Pair && doubled.pair.a.join() === '2,4', 'treeMap maps through it');
  const dir = tmp();
  nn.saveCheckpoint(dir, tree);
  const plain = nn.loadCheckpoint(dir).tree;
  t.ok(plain.pair instanceof np.Tensor, 'without a template, its saved children come back');
  const loaded = nn.loadCheckpoint(dir, { template: { pair: new Pair([0, 0], [0, 0]), w: np.tensor([0]), note: '' } }).tree;
  t.ok(loaded.pair instanceof Pair && loaded.pair.a.join() === '1,2' && loaded.pair.b.join() === '3,4', 'with a template, it is rebuilt from them');
  t.equal(loaded.note, 'x', 'static values are the checkpoint\'s, not the template\'s');
  throwsWith(t, () => nn.loadCheckpoint(dir, { template: { pair: new Pair([0, 0, 0], [0, 0, 0]), w: np.tensor([0]), note: '' } }), [/pair: shape \[2, 2\] in the checkpoint, \[2, 3\] expected/], 'a template of another shape is named');
  rmSync(dir, { recursive: true });
  t.end();
});

test('params, BatchNorm state and Adam state of a model survive a round trip and keep training identically', (t) => {
  const dir = tmp();
  const net = nn.serial({ conv: nn.ConvBnRelu(nn.Conv2d(4, 3, { bias: false })), pool: nn.GlobalMaxPool(), fc: nn.Dense(2) });
  const r = net.init(np.random.key(1), [4, 2, 6, 6]);
  const x = np.random.normal(np.random.key(2), [4, 2, 6, 6]);
  const opt = nn.adam(1e-2);
  const step = (p: nn.Tree, s: nn.Tree, o: nn.Tree) => {
    const [[, ns], g] = np.valueAndGrad((q: nn.Tree) => { const a = net.apply(q, s, x, { train: true }); return [np.sum(a.y as np.Tensor), a.state]; }, { hasAux: true })(p);
    const u = opt.update(g, o, p);
    return { p: u.params, s: ns, o: u.state };
  };
  const one = step(r.params, r.state, opt.init(r.params));
  nn.saveCheckpoint(dir, one);
  const { tree: back } = nn.loadCheckpoint(dir, { template: one });
  const a = step(one.p, one.s, one.o), b = step(back.p, back.s, back.o);
  t.ok(np.treeLeaves(a).every((l, i) => bytes(l) === bytes(np.treeLeaves(b)[i])), 'the next step from the loaded checkpoint is bit-identical');
  rmSync(dir, { recursive: true });
  t.end();
});

test('re-saving replaces the checkpoint: blobs are shared by content and the unused ones removed', (t) => {
  const dir = tmp();
  const w = np.ones([100]);
  nn.saveCheckpoint(dir, { a: w, b: w, c: np.zeros([3]) });
  const blobs = () => readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();
  t.equal(blobs().length, 2, 'identical tensors share one blob');
  const before = blobs();
  nn.saveCheckpoint(dir, { a: w, c: np.full([3], 2) });
  t.equal(blobs().length, 2, 'the replaced tensor\'s blob is gone');
  t.ok(blobs().some((f) => before.includes(f)), 'the unchanged tensor\'s blob was kept');
  writeFileSync(join(dir, 'manifest.json.tmp-1-abcd'), '{"half": ');
  writeFileSync(join(dir, `${'0'.repeat(64)}.bin.tmp-1-beef`), 'partial');
  t.deepEqual(nn.loadCheckpoint(dir).tree.c.toArray(), [2, 2, 2], 'leftovers of a crashed save do not disturb loading');
  nn.saveCheckpoint(dir, { c: np.ones([1]) });
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'and the next save removes them');
  rmSync(dir, { recursive: true });
  t.end();
});

test('corrupt checkpoints: errors name the file and what is wrong', (t) => {
  const dir = tmp();
  const tree = { params: { w: np.ones([2, 2]), b: np.zeros([2], 'float64') }, step: 1 };
  const fresh = () => { rmSync(dir, { recursive: true, force: true }); nn.saveCheckpoint(dir, tree); };
  const manifest = () => join(dir, 'manifest.json');
  const blobOf = (path: string) => {
    const m = JSON.parse(readFileSync(manifest(), 'utf8'));
    const idx = path === 'w' ? m.tree.object[0][1].object[0][1].tensor : m.tree.object[0][1].object[1][1].tensor;
    return join(dir, m.tensors[idx].file);
  };
  throwsWith(t, () => nn.loadCheckpoint(join(dir, 'nope')), [/nope/, /no such directory/], 'a missing directory');
  fresh(); unlinkSync(manifest());
  throwsWith(t, () => nn.loadCheckpoint(dir), [/manifest\.json/, /missing/], 'a missing manifest');
  fresh(); writeFileSync(manifest(), '{"format": "avid-fn/checkpoint", "vers');
  throwsWith(t, () => nn.loadCheckpoint(dir), [/manifest\.json/, /not JSON/], 'a truncated manifest');
  fresh(); writeFileSync(manifest(), readFileSync(manifest(), 'utf8').replace('"float64"', '"float16"'));
  throwsWith(t, () => nn.loadCheckpoint(dir), [/manifest\.json/, /tensors\.1\.dtype/, /float16/], 'an unknown dtype in the manifest');
  fresh(); writeFileSync(manifest(), readFileSync(manifest(), 'utf8').replace('"bytes": 16', '"bytes": 12'));
  throwsWith(t, () => nn.loadCheckpoint(dir), [/manifest\.json/, /12 bytes cannot hold shape \[2, 2\] float32/], 'sizes that do not add up');
  fresh(); unlinkSync(blobOf('w'));
  throwsWith(t, () => nn.loadCheckpoint(dir), [/[0-9a-f]{64}\.bin/, /missing/, /params\.w \[2, 2\] float32/], 'a missing blob');
  fresh(); truncateSync(blobOf('b'), 9);
  throwsWith(t, () => nn.loadCheckpoint(dir), [/[0-9a-f]{64}\.bin/, /truncated, 9 bytes instead of 16/, /params\.b \[2\] float64/], 'a truncated blob');
  fresh(); { const f = blobOf('w'), buf = readFileSync(f); buf[3] ^= 1; writeFileSync(f, buf); }
  throwsWith(t, () => nn.loadCheckpoint(dir), [/[0-9a-f]{64}\.bin/, /corrupt/, /params\.w/], 'a flipped bit');
  fresh();
  const tpl = (params: Record<string, np.Tensor>) => ({ params, step: 0 });
  throwsWith(t, () => nn.loadCheckpoint(dir, { template: tpl({ w: np.ones([3, 2]), b: np.zeros([2], 'float64') }) }),
    [/manifest\.json/, /params\.w: shape \[2, 2\] in the checkpoint, \[3, 2\] expected/], 'a shape that differs from the template');
  throwsWith(t, () => nn.loadCheckpoint(dir, { template: tpl({ w: np.ones([2, 2]), b: np.zeros([2]) }) }),
    [/params\.b: dtype float64 in the checkpoint, float32 expected/], 'a dtype that differs');
  throwsWith(t, () => nn.loadCheckpoint(dir, { template: tpl({ w: np.ones([2, 2]), b: np.zeros([2], 'float64'), gamma: np.ones([2]) }) }),
    [/params\.gamma: missing key in the checkpoint/], 'a key missing from the checkpoint');
  throwsWith(t, () => nn.loadCheckpoint(dir, { template: tpl({ w: np.ones([2, 2]) }) }),
    [/params\.b: unexpected key/], 'a key the template does not have');
  throwsWith(t, () => nn.saveCheckpoint(dir, { opt: { schedule: (s: number) => s } }), [/opt\.schedule/, /function/], 'saving a function names its path');
  t.ok(nn.loadCheckpoint(dir, { template: tree }).tree.step === 1, 'and the good checkpoint is still there after the failed save');
  rmSync(dir, { recursive: true });
  t.end();
});

test('a writer killed at random moments leaves a whole checkpoint, never a torn one', async (t) => {
  const dir = tmp();
  const writer = fileURLToPath(new URL('./checkpoint-writer.ts', import.meta.url));
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let committed = 0;
    child.stdout.on('data', (d: Buffer) => { for (const v of String(d).trim().split('\n')) committed = Math.max(committed, Number(v)); });
    await new Promise((res) => { const tick = setInterval(() => { if (committed >= 2) { clearInterval(tick); res(null); } }, 5); });
    await new Promise((res) => setTimeout(res, Math.random() * 200));
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    const { tree, metadata } = nn.loadCheckpoint(dir);
    const v = metadata.version as number;
    const whole = tree.step === v && np.treeLeaves(tree).every((x) => x.dataSync().every((e) => e === v));
    t.ok(whole && v >= committed, `round ${round}: killed after version ${committed} was committed; loaded version ${v}, whole`);
  }
  rmSync(dir, { recursive: true });
});
