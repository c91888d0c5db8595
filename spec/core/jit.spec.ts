/** @backends cpu gpu gpu-hw
 *
 * jit: a traced, cached and fused program gives what the function gives (bit for bit on the CPU,
 * where fused loops round each op to its dtype), for random elementwise chains over every dtype; it
 * composes with grad and vmap both ways; it traces once per kind of argument; and it refuses what it
 * cannot trace (reading values, closing over an outer tracer) with an error that says so.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { close, input, onGpu, throwsWith } from '../helpers.js';
import { definePrimitive } from '../../core/primitive.js';
import { bind } from '../../core/trace.js';
import { simdStats } from '../../core/cpu/simd.js';

/** Exact on the CPU; float32 closeness on the GPU (its fused and unfused shaders round alike, but the GLSL compiler may reorder). */
function same(t: test.Test, got: np.Tensor, want: np.Tensor, msg: string): void {
  t.deepEqual([got.dtype, ...got.shape], [want.dtype, ...want.shape], `${msg}: aval`);
  if (onGpu) { close(t, got, want, msg, { rtol: 1e-5, atol: 1e-5 }); return; }
  const a = got.dataSync(), b = want.dataSync();
  const bad = Array.from(a).findIndex((v, i) => !Object.is(v, b[i]) && !(Number.isNaN(v) && Number.isNaN(b[i])));
  t.ok(bad < 0, bad < 0 ? msg : `${msg}: element ${bad} is ${a[bad]}, expected ${b[bad]}`);
}

test('a fused elementwise chain with broadcasting gives the unfused values and runs as one kernel', (t) => {
  const f = (x: np.Tensor, b: np.Tensor, c: np.Tensor) => np.tanh(np.add(np.mul(np.exp(np.neg(x)), b), np.sqrt(c)));
  const x = input([3, 4], 'normal', 'float32'), b = input([4], 'normal', 'float32'), c = input([3, 1], 'positive', 'float32');
  const jf = np.jit(f);
  same(t, jf(x, b, c), f(x, b, c), 'values');
  const p = jf.program(x, b, c);
  t.equal(p.stats.kernels, 1, `one kernel:\n${p}`);
  t.equal(p.stats.eqns, 6, 'six equations traced');
  t.match(String(p), /fused\[neg exp mul sqrt add tanh\]/, 'the printed program names the fused ops');
  t.end();
});

test('a value read twice, or returned, is materialised: fusion never recomputes or hides it', (t) => {
  const f = (x: np.Tensor) => {
    const y = np.exp(x);
    return [np.add(y, 1), np.mul(y, y), np.sum(np.mul(y, 2))] as const;
  };
  const x = input([5], 'normal', 'float32');
  const jf = np.jit(f);
  const got = jf(x), want = f(x);
  got.forEach((g, i) => same(t, g, want[i], `output ${i}`));
  // one output a kernel: exp is its own; with several (the GPU's sibling fusion) one kernel writes it beside its readers
  const one = np.jit(f, { maxOutputs: 1 }).program(x);
  t.ok(one.steps.some((s) => s.prim.name === 'exp'), `exp (read three times) is its own kernel:\n${one}`);
  const p = jf.program(x);
  t.equal(p.steps.filter((s) => (s.fused ?? [s.prim.name]).includes('exp')).length, 1, `exp is computed in one kernel:\n${p}`);
  const g = np.jit((z: np.Tensor) => { const e = np.exp(z); return [e, np.neg(e)]; });
  same(t, g(x)[0], np.exp(x), 'an output that is also an operand keeps its value');
  t.end();
});

test('sibling fusion: groups of one shape write several results from one kernel (Adam\'s update: 4 kernels become 1), the values unchanged', (t) => {
  const adam = (g: np.Tensor, p: np.Tensor, m: np.Tensor, v: np.Tensor) => {
    const gs = np.add(g, np.mul(p, 1e-5)); // read by both moments: a group of its own without sibling fusion
    const m2 = np.add(np.mul(m, 0.9), np.mul(gs, 0.1));
    const v2 = np.add(np.mul(v, 0.999), np.mul(np.mul(gs, gs), 0.001));
    const p2 = np.sub(p, np.mul(np.div(m2, np.add(np.sqrt(v2), 1e-8)), 0.01));
    return { p: p2, m: m2, v: v2 };
  };
  const [g, p, m] = [0, 1, 2].map(() => input([6, 7], 'normal', 'float32')), v = input([6, 7], 'positive', 'float32');
  const want = adam(g, p, m, v);
  for (const most of [1, 2, 3, 4]) {
    const jf = np.jit(adam, { maxOutputs: most });
    const got = jf(g, p, m, v), prog = jf.program(g, p, m, v);
    for (const k of ['p', 'm', 'v'] as const) same(t, got[k], want[k], `at most ${most} results a kernel: ${k}`);
    // 1: gs, m2, v2, p2 apart; 2: gs with m2 (gs is still read by v2), then v2 with p2; 3 or more: one kernel of three results
    t.equal(prog.stats.kernels, most === 1 ? 4 : most === 2 ? 2 : 1, `at most ${most}: ${prog.stats.kernels} kernels\n${prog}`);
    t.ok(prog.steps.every((s) => 1 + (s.more?.length ?? 0) <= most), `no kernel writes more than ${most}`);
  }
  // two params' updates, related only by nothing (or by a step size): whole kernels merge, up to the results allowed
  const two = (a: Parameters<typeof adam>, b: Parameters<typeof adam>) => [adam(...a), adam(...b)];
  const [g2, p2, m2] = [0, 1, 2].map(() => input([6, 7], 'normal', 'float32')), v2 = input([6, 7], 'positive', 'float32');
  const want2 = two([g, p, m, v], [g2, p2, m2, v2]);
  // (on the CPU the 14 constants are inputs too, 22 in all: more than one kernel reads)
  for (const [most, kernels] of [[8, np.getBackend().name === 'gpu' ? 1 : 2], [4, 2]]) {
    const jf = np.jit(two, { maxOutputs: most });
    jf([g, p, m, v], [g2, p2, m2, v2]).forEach((r, i) => { for (const k of ['p', 'm', 'v'] as const) same(t, r[k], want2[i][k], `two params, at most ${most} results: ${k}${i}`); });
    t.equal(jf.program([g, p, m, v], [g2, p2, m2, v2]).stats.kernels, kernels, `two params' updates, at most ${most} results a kernel: ${kernels} kernel(s)`);
  }
  const prog = np.jit(adam, { maxOutputs: 4 }).program(g, p, m, v);
  t.match(String(prog), /v\d+: float32\[6, 7\], v\d+: float32\[6, 7\], v\d+: float32\[6, 7\] = fused\[/, `the printed program shows the three results:\n${prog}`);
  t.end();
});

test('sibling fusion writes up to 8 results a GPU kernel, counting as its inputs the textures it binds, not the constants it writes in', (t) => {
  // eight results of x, each with two constants of its own: 17 tensors, more than a kernel may bind,
  // but on the GPU the 16 constants are literals in the shader
  const eight = (x: np.Tensor) => [2, 3, 5, 7, 11, 13, 17, 19].map((c) => np.add(np.mul(x, c), 1 / c));
  const x = input([6, 7], 'normal', 'float32'), want = eight(x);
  for (const most of [4, 8]) {
    const jf = np.jit(eight, { maxOutputs: most });
    jf(x).forEach((y, i) => same(t, y, want[i], `at most ${most} results a kernel: result ${i}`));
    const prog = jf.program(x);
    t.ok(prog.steps.every((st) => 1 + (st.more?.length ?? 0) <= most), `no kernel writes more than ${most}`);
    if (np.getBackend().name === 'gpu') t.equal(prog.stats.kernels, 8 / most, `${8 / most} kernel(s) of ${most} results:\n${prog}`);
  }
  t.end();
});

test('sibling fusion never moves a result past a reader outside the kernel, nor merges kernels of another shape; unrelated ones of one shape merge', (t) => {
  const x = input([4, 4], 'normal', 'float32'), b = input([4, 4], 'normal', 'float32');
  // a = exp(x) is read by a matmul, which runs before c: a cannot wait for c's kernel
  const early = (z: np.Tensor) => {
    const a = np.exp(z);
    const m = np.matmul(a, a);
    return [np.add(np.mul(z, 2), m), np.sum(a, [1])] as const;
  };
  // exp and mul read z and share a kernel; neg reads only w (unrelated: it joins them, as XLA's
  // horizontal fusion would); the sum has another shape
  const siblings = (z: np.Tensor, w: np.Tensor) => [np.exp(z), np.mul(z, 3), np.neg(w), np.sum(np.mul(z, w), [0])] as const;
  for (const [name, f, args] of [['early', early, [x]], ['siblings', siblings, [x, b]]] as const) {
    const jf = np.jit(f as (...a: np.Tensor[]) => readonly np.Tensor[], { maxOutputs: 4 });
    const got = jf(...args), want = (f as (...a: np.Tensor[]) => readonly np.Tensor[])(...args);
    got.forEach((y, i) => same(t, y, want[i], `${name}: output ${i}`));
    const prog = jf.program(...args);
    const at = (op: string) => prog.steps.findIndex((s) => (s.fused ?? [s.prim.name]).includes(op));
    if (name === 'early') t.ok(at('exp') < at('matmul') && at('matmul') < prog.steps.findIndex((s) => s.fused?.includes('add')), `exp before the matmul that reads it, the add after:\n${prog}`);
    else t.deepEqual(prog.steps.map((s) => 1 + (s.more?.length ?? 0)).sort(), [1, 3], `exp, mul and neg in one kernel, the sum apart:\n${prog}`);
  }
  // four siblings reading z and five tensors each: 21 inputs, so no more than two share a kernel
  const ws = Array.from({ length: 20 }, () => input([4, 4], 'normal', 'float32'));
  const wide = (z: np.Tensor, ...w: np.Tensor[]) => [0, 1, 2, 3].map((i) => w.slice(5 * i, 5 * i + 5).reduce((acc, wi) => np.add(acc, wi), np.mul(z, i + 1)));
  const jw = np.jit(wide, { maxOutputs: 4 });
  jw(x, ...ws).forEach((y, i) => same(t, y, wide(x, ...ws)[i], `wide: output ${i}`));
  const pw = jw.program(x, ...ws);
  t.ok(pw.steps.every((s) => s.ins.length <= np.MAX_FUSED_INPUTS), `every kernel reads at most ${np.MAX_FUSED_INPUTS} tensors:\n${pw}`);
  t.equal(pw.stats.kernels, 2, 'two kernels of two results each');
  t.end();
});

test('fused kernels read slices in place: no copy kernel for a slice (or its reshape) that only fused ops read, the values unchanged', (t) => {
  const stats = input([2, 6], 'normal', 'float32'), run = input([6], 'normal', 'float32'), x = input([5, 6], 'normal', 'float32');
  // BatchNorm's running statistics: rows of its [2, C] moments, each sliced and reshaped to [C]
  const running = (m: np.Tensor, r: np.Tensor) => {
    const mean = np.reshape(np.slice(m, [0, 0], [1, 6]), [6]), v = np.reshape(np.slice(m, [1, 0], [1, 6]), [6]);
    return [np.add(np.mul(r, 0.9), np.mul(mean, 0.1)), np.add(np.mul(r, 0.9), np.mul(v, 0.1 * 8 / 7))] as const;
  };
  // a box inside a matrix (strided), broadcast against a row, and a slice also read by a matmul (that copy stays)
  const boxes = (z: np.Tensor, m: np.Tensor) => {
    const box = np.slice(z, [1, 2], [3, 3]), row = np.slice(m, [1, 0], [1, 3]);
    return [np.exp(np.add(box, row)), np.matmul(box, box), np.mul(box, 2)] as const;
  };
  for (const most of [1, 4]) {
    for (const [name, f, args, copies] of [['running', running, [stats, run], 0], ['boxes', boxes, [x, stats], 1]] as const) {
      const jf = np.jit(f as (...a: np.Tensor[]) => readonly np.Tensor[], { maxOutputs: most });
      const got = jf(...args), want = (f as (...a: np.Tensor[]) => readonly np.Tensor[])(...args);
      got.forEach((y, i) => same(t, y, want[i], `${name}, at most ${most} results a kernel: output ${i}`));
      const prog = jf.program(...args);
      t.equal(prog.steps.filter((s) => s.prim.name === 'slice').length, copies, `${name}: ${copies} slice copied\n${prog}`);
    }
  }
  t.equal(np.jit(running, { maxOutputs: 4 }).program(stats, run).stats.kernels, 1, 'both running statistics in one kernel that reads the moments once');
  t.end();
});

test('fused kernels read a broadcastTo\'s source, broadcast as they read every input: no kernel writes the broadcast', (t) => {
  const x = input([5, 6, 4], 'normal', 'float32'), c = input([6, 1], 'normal', 'float32');
  // a pooling's gradient: a per-channel value broadcast over positions, then masked
  const f = (z: np.Tensor, s: np.Tensor) => np.where(np.greater(z, 0), np.broadcastTo(np.exp(s), z.shape), 0);
  // the broadcast is also an output: it is still made, and the fused kernel reads the source all the same
  const g = (z: np.Tensor, s: np.Tensor) => { const b = np.broadcastTo(s, z.shape); return [np.mul(z, b), b]; };
  for (const [name, h] of [['read only by fused ops', f], ['also an output', g]] as const) {
    const jf = np.jit(h as (a: np.Tensor, b: np.Tensor) => np.Tensor | np.Tensor[]), prog = jf.program(x, c);
    const got = [jf(x, c)].flat(), want = [(h as (a: np.Tensor, b: np.Tensor) => np.Tensor | np.Tensor[])(x, c)].flat();
    got.forEach((y, i) => same(t, y, want[i], `${name}: output ${i}`));
    const fusedIns = prog.steps.filter((st) => st.fused).flatMap((st) => st.ins.map((v) => prog.avals[v].shape.join('x')));
    t.ok(fusedIns.includes('6x1'), `${name}: the fused kernel reads the [6, 1] source:\n${prog}`);
    t.equal(prog.steps.filter((st) => st.prim.name === 'broadcastTo').length, name === 'also an output' ? 1 : 0, `${name}: broadcastTo kernels\n${prog}`);
  }
  t.end();
});

test('a value read by several ops of one chain is computed once inside its fused kernel', (t) => {
  const f = (x: np.Tensor) => {
    const y = np.add(np.mul(x, 1.5), 0.5);
    const z = np.maximum(y, np.mul(y, 0.1));
    return np.div(z, np.add(np.abs(z), 1));
  };
  const x = input([6, 7], 'normal', 'float32');
  const jf = np.jit(f);
  same(t, jf(x), f(x), 'values');
  t.equal(jf.program(x).stats.kernels, 1, `one kernel:\n${jf.program(x)}`);
  t.end();
});

test('a fused kernel reads at most MAX_FUSED_INPUTS tensors (a GPU shader has that many texture units)', (t) => {
  // nn.nonFinite's probe: a chain of adds over 40 sums; fused whole it would read 40 tensors
  const xs = Array.from({ length: 40 }, (_, i) => input([3 + (i % 4)], 'normal', 'float32'));
  const f = (...ts: np.Tensor[]) => ts.reduce((acc: np.Tensor, x) => np.add(acc, np.sum(np.mul(x, 0.5))), np.tensor(0));
  const jf = np.jit(f);
  same(t, jf(...xs), f(...xs), 'values');
  const p = jf.program(...xs);
  const widest = Math.max(...p.steps.map((s) => new Set(s.ins).size));
  t.ok(widest <= np.MAX_FUSED_INPUTS, `the widest step reads ${widest} tensors (at most ${np.MAX_FUSED_INPUTS}):\n${p}`);
  const adds = p.steps.filter((s) => s.fused?.every((n) => n === 'add'));
  t.ok(adds.length >= 3 && adds.length <= 4, `the 40 adds still fuse, into ${adds.length} kernels`);
  t.end();
});

const UNARY: [string, (x: np.Tensor) => np.Tensor, np.DType[]][] = [
  ['neg', np.neg, ['float32', 'float64', 'int32']], ['exp', np.exp, ['float32', 'float64']], ['log', np.log, ['float32', 'float64']],
  ['sqrt', np.sqrt, ['float32', 'float64']], ['tanh', np.tanh, ['float32', 'float64']], ['abs', np.abs, ['float32', 'float64', 'int32', 'bool']],
  ['sign', np.sign, ['float32', 'float64', 'int32']], ['relu', np.relu, ['float32', 'float64']],
];
const BINARY: [string, (a: np.Tensor, b: np.Tensor) => np.Tensor, np.DType[]][] = [
  ['add', np.add, ['float32', 'float64', 'int32', 'bool']], ['sub', np.sub, ['float32', 'float64', 'int32']],
  ['mul', np.mul, ['float32', 'float64', 'int32', 'bool']], ['div', np.div, ['float32', 'float64']],
  ['pow', np.pow, ['float32', 'float64']], ['maximum', np.maximum, ['float32', 'float64', 'int32', 'bool']],
  ['minimum', np.minimum, ['float32', 'float64', 'int32']],
  ['less', (a, b) => np.where(np.less(a, b), a, b), ['float32', 'float64', 'int32']],
  ['equal', (a, b) => np.where(np.equal(a, b), b, a), ['float32', 'float64', 'int32', 'bool']],
];

/** A deterministic pseudo-random chain of elementwise ops on two inputs of `dtype`. */
function chain(seed: number, dtype: np.DType) {
  let s = seed;
  const rnd = (n: number) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
  const unary = UNARY.filter(([, , ds]) => ds.includes(dtype)), binary = BINARY.filter(([, , ds]) => ds.includes(dtype));
  const picks = Array.from({ length: 3 + rnd(6) }, () => {
    const ops: [string, (...xs: np.Tensor[]) => np.Tensor, np.DType[]][] = rnd(2) ? unary : binary;
    return ops[rnd(ops.length)];
  });
  const names = picks.map(([n]) => n);
  const f = (x: np.Tensor, y: np.Tensor) => {
    let a = x;
    for (const [, op] of picks) a = op.length === 1 ? op(a) : op(a, y);
    return a;
  };
  return { f, names };
}

test('random elementwise chains over every dtype: jit equals eager (80 chains)', (t) => {
  let fusedSome = 0;
  for (const dtype of ['float32', 'float64', 'int32', 'bool'] as np.DType[]) {
    if (onGpu && dtype === 'float64') continue;
    for (let k = 0; k < 20; k++) {
      const { f, names } = chain(k * 7 + 1, dtype);
      const kind = dtype === 'bool' ? 'bool' : dtype === 'int32' ? 'int' : 'normal';
      const x = input([2, 3, 4], kind, dtype === 'int32' || dtype === 'bool' ? 'float64' : dtype);
      const y = input([3, 1], kind, dtype === 'int32' || dtype === 'bool' ? 'float64' : dtype);
      const jf = np.jit(f);
      same(t, jf(x, y), f(x, y), `${dtype}: ${names.join(' ')}`);
      if (jf.program(x, y).stats.fused > 0) fusedSome++;
    }
  }
  t.ok(fusedSome > 40, `most chains were fused (${fusedSome})`);
  t.end();
});

/** float32 with the values where selects and IEEE ops differ if done carelessly, among normal ones. */
function edgy(shape: number[], seed: number): np.Tensor {
  const x = np.random.normal(np.random.key(seed), shape).dataSync() as Float32Array;
  const edges = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3.4e38, -3.4e38, 1, -1];
  for (let i = 0; i < x.length; i += 5) x[i] = edges[(i / 5 + seed) % edges.length];
  return np.tensor(x, { shape });
}

test('float32 chains of add, sub, mul, div, neg, abs, sqrt, relu, reluGrad, maximum, minimum run as WebAssembly SIMD on the CPU: eager\'s values bit for bit (nan, -0, infinities, subnormals), over long runs, per-channel and scalar operands', (t) => {
  const x = edgy([2, 8, 37], 1), y = edgy([2, 8, 37], 2), s = edgy([1, 8, 1], 3);
  const lr = np.tensor(1 / 3, { dtype: 'float64' }), k = np.tensor(Int32Array.from({ length: 8 }, (_, i) => (i * 7919) % 101 - 50), { shape: [1, 8, 1] });
  const chains: [string, (x: np.Tensor, y: np.Tensor, s: np.Tensor, lr: np.Tensor, k: np.Tensor) => np.Tensor][] = [
    ['relu(x s + y)', (x, y, s) => np.relu(np.add(np.mul(x, s), y))],
    ['maximum(x, y) - minimum(y, x) s', (x, y, s) => np.sub(np.maximum(x, y), np.mul(np.minimum(y, x), s))],
    ['maximum and minimum against a scalar', (x, _y, s) => np.minimum(np.maximum(np.mul(x, s), 0), 2.5)],
    ['sqrt(|x|) / (-y + s)', (x, y, s) => np.div(np.sqrt(np.abs(x)), np.add(np.neg(y), s))],
    ['reluGrad(x, y s) + x', (x, y, s) => np.add(np.reluGrad(x, np.mul(y, s)), x)],
    ['x / y - x x', (x, y) => np.sub(np.div(x, y), np.mul(x, x))],
    // as Adam's update: float64 scalars (and int32 counts) cast to float32 inside the chain
    ['x - x / (sqrt(|y|) + 1e-8) float32(float64 lr) + float32(int32 k)', (x, y, _s, lr, k) =>
      np.add(np.sub(x, np.mul(np.div(x, np.add(np.sqrt(np.abs(y)), 1e-8)), np.astype(lr, 'float32'))), np.astype(k, 'float32'))],
  ];
  const before = simdStats.calls;
  for (const [name, f] of chains) {
    const jf = np.jit(f);
    same(t, jf(x, y, s, lr, k), f(x, y, s, lr, k), name);
    t.ok(jf.program(x, y, s, lr, k).stats.fused > 0, `${name}: fused`);
  }
  // every op alone after a `* 1` (so that it fuses), on every pair of edge values
  const edges = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3.4e38, -3.4e38, 1, -1, 0.5];
  const pairs = (k: number) => np.tensor(Float32Array.from({ length: 2 * 96 }, (_, i) => (i < 144 ? edges[k ? Math.floor(i / 12) : i % 12] : i / 7 - 3)), { shape: [2, 96] });
  const px = pairs(0), py = pairs(1);
  const ops: [string, (a: np.Tensor, b: np.Tensor) => np.Tensor][] = [
    ...Object.entries({ add: np.add, sub: np.sub, mul: np.mul, div: np.div, maximum: np.maximum, minimum: np.minimum, reluGrad: np.reluGrad }),
    ...Object.entries({ neg: np.neg, abs: np.abs, sqrt: np.sqrt, relu: np.relu }).map(([n, op]) => [n, (a: np.Tensor) => op(a)] as [string, (a: np.Tensor, b: np.Tensor) => np.Tensor]),
  ];
  for (const [name, op] of ops) {
    const f = (a: np.Tensor, b: np.Tensor) => op(np.mul(a, 1), b);
    same(t, np.jit(f)(px, py), f(px, py), `${name} on every pair of edge values`);
  }
  if (!onGpu) t.equal(simdStats.calls - before, chains.length + ops.length, 'every chain ran as SIMD');
  // past 2^20 elements the output and the inputs laid out like it pass through the heap in chunks
  // (here 20 runs of 50021, then 1), a per-channel scale and a broadcast row whole
  const big = edgy([3, 7, 50021], 6), row = edgy([50021], 7), scale = edgy([1, 7, 1], 8);
  const h = (a: np.Tensor, b: np.Tensor, c: np.Tensor) => np.add(np.mul(a, c), np.sub(b, a));
  const wasBig = simdStats.calls;
  same(t, np.jit(h)(big, row, scale), h(big, row, scale), 'a chain over 1.05M elements, in two chunks');
  if (!onGpu) t.equal(simdStats.calls, wasBig + 1, 'it ran as SIMD');
  // short runs (here 3 per row) keep the JavaScript loop, with the same values
  const short = edgy([40, 3], 4), across = edgy([40, 1], 5);
  const g = (a: np.Tensor, b: np.Tensor) => np.relu(np.add(np.mul(a, b), a));
  const was = simdStats.calls;
  same(t, np.jit(g)(short, across), g(short, across), 'runs of 3: the JavaScript loop');
  if (!onGpu) t.equal(simdStats.calls, was, 'runs of 3 did not run as SIMD');
  t.end();
});

test('a chain that only a sum reads runs inside the sum: the same totals (bit for bit on the CPU), over any axes', (t) => {
  let intoSum = 0;
  const axesOf = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
  for (const dtype of ['float32', 'float64', 'int32', 'bool'] as np.DType[]) {
    if (onGpu && dtype === 'float64') continue;
    for (let k = 0; k < 12; k++) {
      const { f, names } = chain(k * 11 + 3, dtype), axes = axesOf[k % axesOf.length];
      const kind = dtype === 'bool' ? 'bool' : dtype === 'int32' ? 'int' : 'normal';
      const x = input([5, 6, 7], kind, dtype === 'int32' || dtype === 'bool' ? 'float64' : dtype);
      const y = input([6, 1], kind, dtype === 'int32' || dtype === 'bool' ? 'float64' : dtype);
      const g = (a: np.Tensor, b: np.Tensor) => np.sum(f(a, b), axes);
      const jg = np.jit(g);
      same(t, jg(x, y), g(x, y), `${dtype}: sum(${names.join(' ')}) over [${axes}]`);
      if (jg.program(x, y).steps.some((st) => st.fused?.includes('sum'))) intoSum++;
    }
  }
  t.ok(intoSum > (onGpu ? 24 : 30), `most ran inside their sum (${intoSum} of ${onGpu ? 36 : 48})`);
  const x = input([4, 9], 'normal', 'float32');
  const twice = np.jit((z: np.Tensor) => { const e = np.exp(z); return [np.sum(e), e]; });
  t.ok(!twice.program(x).steps.some((st) => st.fused?.includes('sum')), 'a chain whose result is also returned stays materialised');
  t.end();
});

test('jit composes with grad and vmap, in both orders', (t) => {
  const f = (w: np.Tensor, x: np.Tensor) => np.sum(np.tanh(np.add(np.matmul(x, w), 0.5)));
  const w = input([3, 2], 'normal', 'float32'), x = input([4, 3], 'normal', 'float32');
  const want = np.grad(f)(w, x);
  close(t, np.jit(np.grad(f))(w, x), want, 'jit(grad(f))', { rtol: 1e-5, atol: 1e-6 });
  close(t, np.grad(np.jit(f))(w, x), want, 'grad(jit(f))', { rtol: 1e-5, atol: 1e-6 });
  const [v, g] = np.jit(np.valueAndGrad(f))(w, x);
  close(t, v, f(w, x), 'jit(valueAndGrad(f)) value');
  close(t, g, want, 'jit(valueAndGrad(f)) gradient');
  const perRow = (r: np.Tensor) => np.sum(np.exp(r));
  const rows = np.stack([0, 1, 2, 3].map((i) => perRow(np.reshape(np.slice(x, [i, 0], [1, 3]), [3]))));
  close(t, np.vmap(np.jit(perRow))(x), rows, 'vmap(jit(f))');
  close(t, np.jit(np.vmap(perRow))(x), rows, 'jit(vmap(f))');
  close(t, np.grad((z: np.Tensor) => np.sum(np.jit(np.grad(f))(z, x)))(w),
    np.grad((z: np.Tensor) => np.sum(np.grad(f)(z, x)))(w), 'grad of jit(grad): second order through a jitted gradient');
  t.end();
});

test('jit reuses its intermediates\' arrays between calls, never one an argument, an output or a live value shares', (t) => {
  // xr shares x's array and o1 shares t's (reshape returns its input's array); h, t and g are
  // dropped mid-program, and later steps allocate arrays of their sizes
  const f = (x: np.Tensor, w: np.Tensor) => {
    const xr = np.reshape(x, [4, 6]);
    const h = np.matmul(xr, w), tr = np.transpose(h);
    const o1 = np.reshape(tr, [24]);
    const g = np.matmul(tr, xr);
    return [o1, np.matmul(xr, g), np.transpose(np.matmul(h, g))] as const;
  };
  const jf = np.jit(f);
  const x1 = input([24], 'normal', 'float32'), x2 = input([24], 'normal', 'float32'), w = input([6, 6], 'normal', 'float32');
  const keep = (ts: readonly np.Tensor[]) => ts.map((u) => Array.from(u.dataSync()));
  const args = keep([x1, x2, w]);
  const first = jf(x1, w), firstVals = keep(first);
  for (let i = 0; i < 3; i++) (i ? jf(x1, w) : first).forEach((u, j) => same(t, u, f(x1, w)[j], `call ${i + 1}, output ${j}`));
  const second = jf(x2, w);
  second.forEach((u, j) => same(t, u, f(x2, w)[j], `other arguments, output ${j}`));
  t.deepEqual(keep(first), firstVals, 'the first call\'s outputs are untouched by later calls');
  t.deepEqual(keep([x1, x2, w]), args, 'the arguments are untouched (xr shared x\'s array)');
  if (!onGpu) {
    const held = jf.program(x1, w).pool.bytes;
    t.ok(held > 0, `the CPU program keeps its dropped arrays for the next call (${held} bytes)`);
    for (let i = 0; i < 4; i++) jf(x2, w);
    t.equal(jf.program(x1, w).pool.bytes, held, 'and holds no more after more calls');
    // a kernel whose array alloc did not make (conv2d's used to be one): never pooled, or the pool
    // would grow by it every call
    // an output fed back as an argument: its array came from this pool, and a reshape of it (which
    // shares it) is dropped inside; the pool must not take it back while the caller holds it
    const g6 = np.jit((x: np.Tensor, ww: np.Tensor) => np.reshape(np.matmul(np.reshape(x, [4, 6]), ww), [24]));
    const o1 = g6(x1, w), o1Vals = Array.from(o1.dataSync());
    const o2 = g6(o1, w);
    same(t, o2, np.reshape(np.matmul(np.reshape(np.tensor(o1Vals, { dtype: 'float32' }), [4, 6]), w), [24]), 'an output fed back: the right values');
    g6(x2, w);
    t.deepEqual(Array.from(o1.dataSync()), o1Vals, 'and the output fed back is untouched by that call and the next');
    // (x and a 0 after it: a length nothing else in the program allocates)
    const own = definePrimitive<{}>({
      name: 'test.appendZero', infer: ([x]) => ({ shape: [x.shape[0] + 1], dtype: x.dtype }),
      kernels: { cpu: ([x]) => Float32Array.from([...x.buf, 0]) },
    });
    const g = np.jit((x: np.Tensor) => np.sum(np.exp(bind(own, [np.mul(x, 2)], {}))));
    g(x1);
    const before = g.program(x1).pool.bytes;
    for (let i = 0; i < 4; i++) close(t, g(x1), np.add(np.sum(np.exp(np.mul(x1, 2))), 1), `call ${i + 2} through a kernel that allocates for itself`);
    t.equal(g.program(x1).pool.bytes, before, `its array is not taken into the pool (${before} bytes held, before and after)`);
  }
  t.end();
});

test('kernels that ask for a whole result take recycled arrays as they are: with the pool handing out nan, a jitted step gives eager\'s values', (t) => {
  if (onGpu) { t.pass('(the pool is the CPU\'s)'); t.end(); return; }
  // conv2d, BatchNorm and relu (their fused kernels forward and back), transpose, slice, concat,
  // gather, broadcastTo, where, cast and fused chains, each of whose arrays the second call recycles
  const net = (p: { w: np.Tensor; bw: np.Tensor; bb: np.Tensor; v: np.Tensor }, x: np.Tensor, idx: np.Tensor) => {
    const h = np.relu(np.batchNorm(np.conv(x, p.w, { padding: 1 }), p.bw, p.bb, [0, 2, 3], 1e-5)[0]); // [4, 5, 6, 6]
    const hs = np.transpose(np.reshape(h, [4, 5, 36]), [0, 2, 1]); // [4, 36, 5]
    const rows = np.reshape(np.slice(hs, [0, 0, 1], [4, 36, 3]), [144, 3]);
    const both = np.concat([rows, np.gather(rows, idx)], 0); // [150, 3]
    const z = np.where(np.greater(both, 0.5), np.mul(both, np.broadcastTo(p.v, [150, 3])), np.astype(np.astype(both, 'float64'), 'float32'));
    return np.sum(np.mul(z, z));
  };
  const p = { w: input([5, 3, 3, 3], 'normal', 'float32'), bw: input([5], 'positive', 'float32'), bb: input([5], 'normal', 'float32'), v: input([1, 3], 'normal', 'float32') };
  const idx = np.tensor([3, 140, 7, 7, 0, 99], { dtype: 'int32' });
  const step = np.jit(np.valueAndGrad(net));
  const x0 = input([4, 3, 6, 6], 'normal', 'float32'), x1 = input([4, 3, 6, 6], 'normal', 'float32');
  step(p, x0, idx);
  const pool = step.program(p, x1, idx).pool;
  t.ok(pool.bytes > 0, `the first call left arrays in the pool (${pool.bytes} bytes)`);
  pool.poison = true;
  try {
    const [lj, gj] = step(p, x1, idx), [le, ge] = np.valueAndGrad(net)(p, x1, idx);
    same(t, lj as np.Tensor, le as np.Tensor, 'the loss');
    for (const k of ['w', 'bw', 'bb', 'v'] as const) same(t, (gj as typeof p)[k], (ge as typeof p)[k], `the gradient of ${k}`);
  } finally { pool.poison = false; }
  t.end();
});

test('jit runs relu as batchNormTrain\'s epilogue: one kernel, the unfused values (nan, -0, infinities too) and gradient', (t) => {
  // channel 0 ordinary; 1: weight 0 and bias -0 (outputs +-0); 2: weight -inf (outputs +-inf, nan
  // at the mean); 3: a nan in x (a nan channel)
  const f = (x: np.Tensor, w: np.Tensor, b: np.Tensor) => np.relu(np.batchNorm(x, w, b, [0, 2], 1e-5)[0]);
  for (const dtype of ['float32', 'float64'] as const) {
    const xs = Array.from(input([4, 4, 3], 'normal', dtype).dataSync());
    xs[3 * 3 + 1] = NaN;
    [0, 2].forEach((i) => { xs[12 + 6 + i] = 0; xs[24 + 6 + i] = 0; }); // channel 2 has its mean, 0, at two places
    xs.forEach((_, i) => { if (Math.floor(i / 3) % 4 === 2 && xs[i] !== 0) xs[i] = 0.5 * Math.sign(xs[i]); });
    const x = np.reshape(np.tensor(xs, { dtype }), [4, 4, 3]);
    const w = np.tensor([1.5, 0, -Infinity, 1], { dtype }), b = np.tensor([0.1, -0, 0.2, 0], { dtype });
    const jf = np.jit(f);
    same(t, jf(x, w, b), f(x, w, b), `${dtype}: values`);
    t.match(String(jf.program(x, w, b)), /fused\[batchNormTrain relu\]/, `${dtype}: one kernel for the pair`);
    const v = Array.from(jf(x, w, b).dataSync());
    t.ok(v.some((u) => Object.is(u, 0)) && v.some(Number.isNaN) && v.includes(Infinity), `${dtype}: the edge values occur (+0, nan, inf)`);
    const loss = (xx: np.Tensor, ww: np.Tensor) => np.sum(np.mul(f(xx, ww, b), np.reshape(np.arange(0, 48, 1, dtype), [4, 4, 3])));
    const xf = input([4, 4, 3], 'normal', dtype), wf = input([4], 'positive', dtype);
    (np.grad(loss, { argnums: [0, 1] })(xf, wf) as np.Tensor[]).forEach((g, i) => same(t, np.jit(np.grad(loss, { argnums: [0, 1] }))(xf, wf)[i], g, `${dtype}: gradient ${i}`));
  }
  t.end();
});

test('jit runs relu\'s pullback inside BatchNorm\'s two backward kernels: the unfused cotangents, whatever flows back', (t) => {
  const f = (x: np.Tensor, w: np.Tensor, b: np.Tensor) => np.relu(np.batchNorm(x, w, b, [0, 2], 1e-5)[0]);
  const back = (x: np.Tensor, w: np.Tensor, b: np.Tensor, ct: np.Tensor) => np.vjp(f, x, w, b)[1](ct);
  for (const dtype of ['float32', 'float64'] as const) {
    const x = input([5, 3, 4], 'normal', dtype), w = input([3], 'positive', dtype), b = input([3], 'normal', dtype);
    const out = Array.from(f(x, w, b).dataSync());
    // the cotangent: nan, inf and -inf where relu gave 0 (its pullback must make them +0), -0 both
    // where it gave 0 and where it did not, and ordinary values elsewhere
    const masked = out.flatMap((v, i) => (v === 0 ? [i] : [])), open = out.flatMap((v, i) => (v > 0 ? [i] : []));
    const cs = Array.from(input([5, 3, 4], 'normal', dtype).dataSync());
    [NaN, Infinity, -Infinity, -0].forEach((v, j) => { cs[masked[j]] = v; });
    cs[open[0]] = -0;
    const ct = np.reshape(np.tensor(cs, { dtype }), [5, 3, 4]);
    const jb = np.jit(back), want = back(x, w, b, ct), got = jb(x, w, b, ct);
    ['x', 'weight', 'bias'].forEach((k, i) => same(t, got[i], want[i], `${dtype}: ${k}'s cotangent`));
    const p = String(jb.program(x, w, b, ct));
    t.ok(/fused\[reluGrad batchNormParamGrad\]/.test(p) && /fused\[reluGrad batchNormGrad\]/.test(p) && !/= reluGrad\(/.test(p), `${dtype}: no reluGrad kernel of its own:\n${p}`);
    t.ok(Number.isFinite(np.sum(got[0]).item()), `${dtype}: the masked nan and infinities do not reach x's cotangent`);
  }
  t.end();
});

test('traces once per kind of argument; numbers are static; pytrees in and out', (t) => {
  let traces = 0;
  const f = (p: { w: np.Tensor; b: np.Tensor }, x: np.Tensor, scale: number) => {
    traces++;
    return { y: np.mul(np.add(np.matmul(x, p.w), p.b), scale), n: scale };
  };
  const jf = np.jit(f);
  const p = { w: input([3, 2], 'normal', 'float32'), b: input([2], 'normal', 'float32') };
  const x = input([4, 3], 'normal', 'float32');
  const a = jf(p, x, 2);
  jf(p, input([4, 3], 'normal', 'float32'), 2);
  t.equal(traces, 1, 'same avals and static values: traced once');
  const b = jf(p, x, 3);
  t.equal(traces, 2, 'a new static number traces again');
  jf(p, input([5, 3], 'normal', 'float32'), 2);
  t.equal(traces, 3, 'a new shape traces again');
  close(t, a.y, f(p, x, 2).y, 'pytree output');
  const apply = np.jit((z: np.Tensor, op: (u: np.Tensor) => np.Tensor) => op(z));
  close(t, apply(x, np.exp), np.exp(x), 'a function among the arguments is static');
  close(t, apply(x, np.tanh), np.tanh(x), 'and another function traces again, by identity (JSON would drop both)');
  t.equal(b.n, 3, 'static leaves of the output come back as they were');
  t.end();
});

test('constants in a fused kernel (literals in the gpu shader) give what eager code gives, edge values included', (t) => {
  const x = np.tensor([-2, -0, 0, 0.5, 3, NaN, Infinity, -Infinity, 1e30, -1e-30]);
  const cs = [-0, 0, NaN, Infinity, -Infinity, 3, 0.1, 2 ** -126, 1e-40, -1e38, 16777217];
  for (const c of cs) {
    // c is closed over: a 0-d constant of the program, read twice in one fused chain
    const f = (z: np.Tensor) => np.div(np.add(np.mul(z, c), c), np.sub(z, c));
    const want = f(x).dataSync(), got = np.jit(f)(x).dataSync();
    const same = Array.from(want).every((w, i) => Object.is(w, got[i]));
    t.ok(same, `c = ${Object.is(c, -0) ? '-0' : c}: jit ${Array.from(got)} vs eager ${Array.from(want)}`);
  }
  t.end();
});

test('a number that changes on every call is named once it has traced three calls in a row', (t) => {
  const warnings: string[] = [], warn = console.warn;
  console.warn = (m: string) => { warnings.push(m); };
  try {
    const step = np.jit(function step(p: np.Tensor, s: { step: number; lr: number }) { return np.mul(p, s.lr * s.step); });
    const p = input([3], 'normal', 'float32');
    step(p, { step: 1, lr: 0.1 });
    step(p, { step: 1, lr: 0.2 }); // another number changed: no streak for step
    for (const n of [2, 3]) step(p, { step: n, lr: 0.2 });
    step(p, { step: 3, lr: 0.2 }); // cached: no trace
    t.deepEqual(warnings, [], 'two retraces on args[1].step (after one on args[1].lr): no warning yet');
    step(p, { step: 4, lr: 0.2 });
    t.equal(warnings.length, 1, 'the third retrace in a row warns');
    t.ok(/jit\(step\) traced again on each of the last 3 calls because the number args\[1\]\.step changed \(1 → 2 → 3 → 4\)/.test(warnings[0] ?? ''), warnings[0]);
    t.ok(/opt\.update outside jit/.test(warnings[0] ?? ''), 'and says what to do about an optimizer');
    step(p, { step: 5, lr: 0.2 });
    t.equal(warnings.length, 1, 'once');
  } finally {
    console.warn = warn;
  }
  t.end();
});

test('jit refuses what it cannot trace, and says why', (t) => {
  const x = input([3], 'normal', 'float32');
  throwsWith(t, () => np.jit((z: np.Tensor) => np.mul(z, np.sum(z).item()))(x), [/jit/, /cannot read the values of a traced tensor/], 'item() inside jit');
  throwsWith(t, () => np.grad((w: np.Tensor) => np.sum(np.jit((z: np.Tensor) => np.mul(z, w))(x)))(x), [/closes over it/, /pass it to the jitted function as an argument/], 'closing over an outer tracer');
  t.end();
});

test('printing a traced tensor inside jit shows its aval instead of failing', (t) => {
  let shown = '';
  np.jit((z: np.Tensor) => { shown = String(np.exp(z)); return z; })(input([2, 2], 'normal', 'float32'));
  t.equal(shown, 'Traced<float32[2, 2]>', shown);
  t.end();
});

test('evalShape runs only the shape rules: avals out, nothing computed, errors name the op', (t) => {
  const f = (p: { w: np.Tensor }, x: np.Tensor) => ({ y: np.sum(np.matmul(x, p.w), 0), n: np.argmax(x, -1) });
  const out = np.evalShape(f, { w: { shape: [3, 5], dtype: 'float32' } }, { shape: [4, 3], dtype: 'float32' });
  t.deepEqual(out, { y: { shape: [5], dtype: 'float32' }, n: { shape: [4], dtype: 'int32' } }, 'avals of a pytree output');
  t.deepEqual(np.evalShape((x: np.Tensor) => np.conv(x, np.zeros([8, 3, 3, 3]), { padding: 'same' }), { shape: [2, 3, 16, 16], dtype: 'float32' }),
    { shape: [2, 8, 16, 16], dtype: 'float32' }, 'a conv\'s output shape from its rules');
  throwsWith(t, () => np.evalShape((x: np.Tensor) => np.matmul(x, x), { shape: [2, 3], dtype: 'float32' }), [/matmul/, /\[2, 3\]/], 'a shape error names the op and shapes');
  t.end();
});

test('jit: random keys among the arguments do not trace again; inside, they split and pass on, and drawing raises', (t) => {
  const f = np.jit((x: np.Tensor, k: np.random.Key) => {
    const [a, b] = np.random.split(np.random.foldIn(k, 3));
    return { y: np.mul(x, 2), passed: [a, b].length };
  });
  const x = np.tensor([1, 2, 3]);
  for (let i = 0; i < 5; i++) t.deepEqual(Array.from(f(x, np.random.key(i)).y.dataSync()), [2, 4, 6], `call ${i + 1} with a new key`);
  t.equal(f.traces, 1, 'five keys, one trace');
  const draws = np.jit((x: np.Tensor, k: np.random.Key) => np.add(x, np.random.normal(k, [3])));
  t.throws(() => draws(x, np.random.key(0)), (e: unknown) => e instanceof np.ConcretizationError && /random.normal: a random key passed to a jitted function cannot be used/.test((e as Error).message), 'drawing from a key inside jit is a ConcretizationError naming the sampler');
  t.throws(() => np.jit((k: np.random.Key) => k)(np.random.key(0)), /jit: a jitted function cannot return a random key/, 'returning one is refused');
  t.deepEqual(np.jit((x: np.Tensor) => ({ y: x, name: 'Key' }))(x).name, 'Key', 'a string "Key" among the outputs is not taken for one');
  const reads = np.jit((x: np.Tensor) => np.mul(x, x.item()));
  t.throws(() => reads(np.tensor(2)), (e: unknown) => e instanceof np.ConcretizationError, 'reading a value inside jit is a ConcretizationError too (callers may catch it and run eagerly)');
  t.throws(() => np.softmax(np.jit((v: np.Tensor) => np.tensor(v.item()))(np.tensor(1))), (e: unknown) => e instanceof np.ConcretizationError, 'and stays one through a named op');
  t.end();
});

test('jit: crossEntropy, which checks its labels eagerly, makes the loss NaN for a bad label under jit (never a quiet 0 term)', (t) => {
  const f = np.jit((l: np.Tensor, y: np.Tensor) => np.crossEntropy(l, y));
  const l = np.tensor([[1, 2, 3], [0, 0, 1]]), good = np.tensor(Int32Array.from([2, 0]));
  close(t, f(l, good), np.crossEntropy(l, good), 'good labels: eager\'s loss');
  t.ok(Number.isNaN(f(l, np.tensor(Int32Array.from([3, 0]))).item()), 'label 3 of 3 classes: NaN');
  t.ok(Number.isNaN(f(l, np.tensor(Int32Array.from([0, -1]))).item()), 'label -1: NaN');
  close(t, np.jit(np.grad((a: np.Tensor, y: np.Tensor) => np.crossEntropy(a, y)))(l, good), np.grad((a: np.Tensor, y: np.Tensor) => np.crossEntropy(a, y))(l, good), 'and its gradient is eager\'s');
  t.end();
});
