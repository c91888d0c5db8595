/** @backends gpu gpu-hw
 *
 * What only the GPU backend has to prove: that it really runs on a GPU (gpu.js falls back silently),
 * that results are immutable, that edge values match the CPU, that what float32 textures cannot hold
 * (int32 beyond ±2^24) is refused with an OpError, that the same key gives the same numbers on both
 * backends, and that training leaks no textures. Fixes of gaps the fuzz found here each have a test.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { close, opError } from '../helpers.js';
import { splitReduction } from '../../core/gpu/shader.js';
import { gpuProfile } from '../../core/gpu/backend.js';
import { GPU_ONE_LAUNCH } from '../../core/prims/matmul.js';

const cpu = (x: np.NestedArray, dtype: np.DType = 'float32') => np.tensor(x, { dtype, backend: 'cpu' });
const gpu = (x: np.NestedArray, dtype: np.DType = 'float32') => np.tensor(x, { dtype, backend: 'gpu' });

test('the gpu backend is a real GPU path', (t) => {
  const s = np.gpuStatus();
  t.ok(s.ok, `gpu starts: ${JSON.stringify(s)}`);
  if (s.ok) t.ok(['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel'].includes(s.kernelClass), `kernel class ${s.kernelClass}`);
  t.equal(np.currentBackend(), 'gpu', 'AVID_BACKEND=gpu selected it');
  const before = np.gpuStats().runs;
  const y = np.add(gpu([1, 2]), 1);
  t.equal(y.backend!.name, 'gpu', 'results live on the gpu');
  t.ok(np.gpuStats().runs > before, 'a kernel ran');
  const classes = np.gpuStats().classes;
  if (s.ok) t.deepEqual(Object.keys(classes), [s.kernelClass], `every compiled kernel runs as ${s.kernelClass} (${JSON.stringify(classes)})`);
  t.end();
});

test('results are immutable: a second call does not overwrite the first', (t) => {
  const a = gpu([[1, 2], [3, 4]]), b = gpu([[5, 6], [7, 8]]);
  const first = np.matmul(a, b);
  const second = np.matmul(b, a);
  np.matmul(a, a);
  t.deepEqual(first.toArray(), [[19, 22], [43, 50]], 'first result intact after more calls of the same kernel');
  t.deepEqual(second.toArray(), [[23, 34], [31, 46]], 'second result');
  t.end();
});

test('elementwise kernels, four elements a thread, read each input the cheapest way its broadcast allows', (t) => {
  // a texel per thread for the output's shape and for a broadcast whose last axis (a multiple of 4)
  // is the output's, as a bias; one read for a scalar; each element on its own otherwise; sizes
  // that are not a multiple of 4 leave a partial last texel
  const shapes: [number[], number[]][] = [
    [[3, 8], [3, 8]], [[5, 8], [8]], [[2, 3, 12], [3, 12]], [[2, 3, 12], [2, 1, 12]], [[7], []], [[3, 5], [5]], [[3, 5], [3, 1]], [[4, 6], [1, 6]], [[5, 3], [5, 3]],
  ];
  for (const [sa, sb] of shapes) {
    const a = np.toBackend(np.random.normal(np.random.key(1), sa), 'cpu'), b = np.toBackend(np.random.normal(np.random.key(2), sb), 'cpu');
    const f = (x: np.Tensor, y: np.Tensor) => np.where(np.greater(y, 0), np.mul(np.add(x, y), y), np.sub(y, x));
    const label = `${JSON.stringify(sa)} with ${JSON.stringify(sb)}`;
    close(t, np.add(np.toBackend(a, 'gpu'), np.toBackend(b, 'gpu')), np.add(a, b), `add ${label}`, { rtol: 0, atol: 0 });
    close(t, np.sub(np.toBackend(b, 'gpu'), np.toBackend(a, 'gpu')), np.sub(b, a), `sub, the broadcast operand first, ${label}`, { rtol: 0, atol: 0 });
    close(t, np.jit(f)(np.toBackend(a, 'gpu'), np.toBackend(b, 'gpu')), f(a, b), `a fused chain ${label}`, { rtol: 1e-6, atol: 1e-6 });
  }
  t.end();
});

test('edge values match the CPU backend', (t) => {
  const xs: np.NestedArray = [0, -1, 100, -100, 1e-3, NaN, Infinity, -Infinity, 0.5];
  const ops: [string, (x: np.Tensor) => np.Tensor][] = [
    ['log', np.log], ['sqrt', np.sqrt], ['exp', np.exp], ['tanh', np.tanh], ['sign', np.sign], ['abs', np.abs],
    ['reciprocal', np.reciprocal], ['sigmoid', np.sigmoid], ['relu', np.relu], ['neg', np.neg],
    ['pow x^2', (x) => np.pow(x, 2)], ['pow (-2)^x', (x) => np.pow(-2, x)], ['pow 0^x', (x) => np.pow(0, x)],
    ['maximum nan', (x) => np.maximum(x, 0)], ['minimum nan', (x) => np.minimum(x, 0)],
    ['max', (x) => np.max(x)], ['argmax', (x) => np.argmax(x)], ['logSumExp', (x) => np.logSumExp(x)],
  ];
  for (const [name, f] of ops) {
    const want = f(cpu(xs)).dataSync(), got = f(gpu(xs)).dataSync();
    close(t, { shape: [got.length], data: got }, { shape: [want.length], data: want }, `${name}(${JSON.stringify(xs)})`, { rtol: 2e-6, atol: 1e-6 });
  }
  t.end();
});

test('found by the fuzz on the gpu (issue 11): a product over no terms is zeros, not a shader error', (t) => {
  t.deepEqual(np.matmul(gpu([[], []]), np.zeros([0, 3])).toArray(), [[0, 0, 0], [0, 0, 0]], 'matmul [2, 0] @ [0, 3]');
  t.deepEqual(np.matmulT(np.zeros([2, 0, 1]), np.zeros([2, 0, 2]), true, false).shape, [2, 1, 2], 'matmulT, batched and transposed');
  t.deepEqual(np.matmul(gpu([]), gpu([])).toArray(), 0, 'matmul of two [0] vectors is 0');
  t.deepEqual(np.conv(np.zeros([1, 0, 1]), np.zeros([2, 0, 3]), { padding: 1 }).toArray(), [[[0], [0]]], 'conv with no input channels');
  t.end();
});

test('matmul: small products in one launch, large ones as 4x4 blocks; both agree with the cpu for every transpose, ragged side and broadcast batch', (t) => {
  // [batch A, batch B, M, K, N]: K and N multiples of 4 or not (N decides the one-launch kernel's form)
  const shapes: [number[], number[], number, number, number][] = [
    [[], [], 5, 8, 12], [[], [], 5, 7, 12], [[], [], 6, 9, 7], [[2, 1], [3], 5, 8, 12], [[3], [], 7, 6, 5], [[], [2], 4, 5, 1],
  ];
  const key = np.random.key(7);
  let n = 0;
  for (const [ba, bb, M0, K, N] of shapes) {
    for (const large of [false, true]) {
      // a large case has rows enough to pass the one-launch limit
      const limits = GPU_ONE_LAUNCH[(np.gpuStatus() as { software: boolean }).software ? 'software' : 'hardware'];
      const limit = N % 4 === 0 ? limits.rowMacs : limits.scalarMacs;
      const nb = Math.max(1, ...[ba, bb].map((b) => b.reduce((p, d) => p * d, 1)));
      const M = large ? Math.ceil(limit / (nb * K * N)) + 1 : M0;
      t.equal(nb * M * K * N > limit, large, `${M}x${K}x${N} (batch ${nb}) is ${large ? 'past' : 'within'} the one-launch limit`);
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const sa = [...ba, ...(ta ? [K, M] : [M, K])], sb = [...bb, ...(tb ? [N, K] : [K, N])];
        const a = np.toBackend(np.random.normal(np.random.foldIn(key, n++), sa), 'cpu'), b = np.toBackend(np.random.normal(np.random.foldIn(key, n++), sb), 'cpu');
        const r0 = np.gpuStats().runs;
        const got = np.matmulT(np.toBackend(a, 'gpu'), np.toBackend(b, 'gpu'), ta, tb);
        const runs = np.gpuStats().runs - r0;
        if (!large) t.equal(runs, 1, `${JSON.stringify(sa)}${ta ? 'ᵀ' : ''} @ ${JSON.stringify(sb)}${tb ? 'ᵀ' : ''}: one launch`);
        else {
          // the product and the gather (which cuts C to its size), after a pad of each operand with a side not a multiple of 4
          const pads = [sa, sb].filter((sh) => sh.slice(-2).some((d) => d % 4 !== 0)).length;
          t.equal(runs, 2 + pads, `${JSON.stringify(sa)}${ta ? 'ᵀ' : ''} @ ${JSON.stringify(sb)}${tb ? 'ᵀ' : ''}: ${2 + pads} launches`);
        }
        close(t, got, np.matmulT(a, b, ta, tb), `${JSON.stringify(sa)}${ta ? 'ᵀ' : ''} @ ${JSON.stringify(sb)}${tb ? 'ᵀ' : ''}`, { rtol: 1e-4, atol: 1e-4 * Math.sqrt(K) });
      }
    }
  }
  t.end();
});

test('walks past llvmpipe\'s 65535 loop steps an invocation go in stretches: matmul over long k, scatterAdd of many rows', (t) => {
  // an invocation's loops stop after 65535 steps in all, and a `run` kernel's texel computes four
  // values in one: 262148 = 4 x 65537 terms walked in fours, or 16384 walked by each of four values
  // a texel, lost their last terms (the last terms here weigh 100, so a lost one shows)
  const cases: [number, number, number, boolean, boolean][] = [[4, 262148, 4, false, false], [8, 262148, 5, true, false], [4, 262148, 12, false, true], [4, 16384, 1, false, false], [2, 20000, 3, false, false]];
  for (const [M, K, N, ta, tb] of cases) {
    const a = np.toBackend(np.random.normal(np.random.key(M), ta ? [K, M] : [M, K]), 'cpu'), b = np.toBackend(np.random.normal(np.random.key(N), tb ? [N, K] : [K, N]), 'cpu');
    const w = np.toBackend(np.where(np.greater(np.arange(K), K - 9), 100, 1), 'cpu');
    const aw = ta ? np.mul(a, np.reshape(w, [K, 1])) : np.mul(a, w);
    close(t, np.matmulT(np.toBackend(aw, 'gpu'), np.toBackend(b, 'gpu'), ta, tb), np.matmulT(aw, b, ta, tb), `${M}x${K}x${N}${ta ? ', A transposed' : ''}${tb ? ', B transposed' : ''}`, { rtol: 1e-4, atol: 2e-3 * Math.sqrt(K) });
  }
  const m = 70000, idx = np.tensor(Array.from({ length: m }, (_, i) => i % 3), { dtype: 'int32', backend: 'cpu' });
  const src = np.toBackend(np.random.normal(np.random.key(5), [m, 2]), 'cpu');
  close(t, np.scatterAdd(np.toBackend(src, 'gpu'), np.toBackend(idx, 'gpu'), 3), np.scatterAdd(src, idx, 3), `scatterAdd of ${m} rows`, { rtol: 1e-4, atol: 1e-2 });
  // fold (unfold's adjoint, as in a large pooling window's gradient): each value walks the kernel's 130 x 130 offsets
  const win = { kernel: [130, 130], stride: [1, 1], padding: [[0, 0], [0, 0]] as [number, number][], dilation: [1, 1] };
  const cols = np.toBackend(np.random.normal(np.random.key(6), [1, 2 * 130 * 130, 1]), 'cpu');
  close(t, np.fold(np.toBackend(cols, 'gpu'), [130, 130], win), np.fold(cols, [130, 130], win), 'fold with a 130 x 130 kernel', { rtol: 1e-5, atol: 1e-5 });
  t.end();
});

test('tensors past 2^23 elements index exactly (float32 index math); past 2^24 they are refused, not computed wrong', (t) => {
  // 2049 x 4100 = 2^23 + 12292: the element 2^23 + 3 came from the wrong texel, and coordinates past 2^23 split wrong
  const R = 2049, C = 4100;
  const x = np.toBackend(np.random.normal(np.random.key(2), [R, C]), 'cpu'), v = np.toBackend(np.random.normal(np.random.key(3), [C]), 'cpu');
  const idx = np.tensor(Array.from({ length: R }, (_, i) => (i * 7) % R), { dtype: 'int32', backend: 'cpu' });
  const cases: [string, (a: np.Tensor, b: np.Tensor, i: np.Tensor) => np.Tensor][] = [
    ['add a row', (a, b) => np.add(a, b)], ['transpose', (a) => np.transpose(a)], ['gather', (a, _b, i) => np.gather(a, i)],
    ['broadcastTo', (_a, b) => np.broadcastTo(b, [R, C])], ['slice', (a) => np.slice(a, [1, 3], [R - 1, C - 5])],
    ['matmul, one launch', (a) => np.matmul(np.slice(a, [0, 0], [R, 4]), np.slice(a, [0, 0], [4, C]))],
  ];
  for (const [name, f] of cases) close(t, f(np.toBackend(x, 'gpu'), np.toBackend(v, 'gpu'), np.toBackend(idx, 'gpu')), f(x, v, idx), name, { rtol: 1e-5, atol: 1e-5 });
  const g = np.toBackend(x, 'gpu');
  opError(t, () => np.concat([g, g], 0), 'concat', [/\[4098, 4100\]/, /16801800 elements/, /2\^24/, /cpu backend/], 'a result past 2^24 elements');
  opError(t, () => np.zeros([2 ** 24 + 4]), 'full', [/16777220 elements/], 'a tensor made past 2^24 elements');
  t.end();
});

test('matmul past the texture size: packed operands with more rows or columns than a texture has are laid out flat', (t) => {
  // 4 max + 12 rows are 2 max + 6 blocks of two rows: more texel rows than a texture has in A's
  // packing, and max + 3 pairs of blocks, more than it has in the product's (a thread computes two
  // row blocks by two column blocks); many columns make as many texel rows in B's packing and texel
  // columns in the product; batches stack their row blocks
  const max = np.gpuStats().maxTextureSize, rows = 4 * max + 12;
  t.ok(max >= 2048, `max texture size ${max}`);
  const cases: [string, number[], number[], boolean][] = [
    ['tall A', [rows, 3], [3, 5], false],
    ['wide B', [5, 3], [3, rows], false],
    ['wide Bᵀ', [5, 3], [rows, 3], true],
    ['batched', [3, Math.ceil(rows / 3), 2], [2, 3], false],
  ];
  for (const [name, sa, sb, transB] of cases) {
    const a = np.toBackend(np.random.normal(np.random.key(1), sa), 'cpu'), b = np.toBackend(np.random.normal(np.random.key(2), sb), 'cpu');
    const want = np.matmulT(a, b, false, transB);
    const got = np.matmulT(np.toBackend(a, 'gpu'), np.toBackend(b, 'gpu'), false, transB);
    close(t, got, want, `${name}: ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}${transB ? 'ᵀ' : ''}`, { rtol: 1e-5, atol: 1e-5 });
  }
  t.end();
});

test('int32 beyond ±2^24 is refused where it enters the gpu (float32 would round it); inside, it is exact', (t) => {
  const I = (v: number[]) => np.tensor(new Int32Array(v));
  opError(t, () => I([1, 16777217]), 'tensor', [/16777217/, /2\^24/, /cpu backend/], 'an int32 tensor with 2^24 + 1');
  t.deepEqual(I([16777216, -16777216]).toArray(), [16777216, -16777216], '±2^24 itself is held');
  opError(t, () => np.add(2147483647, np.tensor([false])), 'add', [/2147483647/], 'the int32 maximum beside a mask');
  opError(t, () => np.where(np.tensor([true]), 2147483647, I([-5])), 'where', [/2147483647/], 'where(c, 2^31 - 1, int32)');
  opError(t, () => np.full([2], 3e9, 'int32'), 'full', [/2147483647/], 'full int32 3e9 (saturated to 2^31 - 1)');
  opError(t, () => np.pad(I([1]), [[1, 0]], 1e38), 'pad', [/fill value 2147483647/], 'pad int32 with 1e38');
  opError(t, () => np.toBackend(np.tensor(new Int32Array([-2147483648]), { backend: 'cpu' }), 'gpu'), 'toBackend', [/-2147483648/], 'moving the int32 minimum over');
  t.deepEqual(np.astype(gpu([1e38, -1e38, 3e9, NaN, -2.7]), 'int32').toArray(), [2147483647, -2147483648, 2147483647, 0, -2],
    'a cast saturates at the int32 limits exactly (2^31 - 1 read back as itself, not as -2^31 or 2147483520)');
  opError(t, () => np.pow(I([2, 3]), I([1, -2])), 'pow', [/negative/, /-2/], 'int32 to a negative power, as on the cpu');
  t.deepEqual(np.pow(I([3, -3, 7, 5, 0, -1]), I([4, 5, 8, 9, 0, 41])).toArray(), [81, -243, 5764801, 1953125, 1, -1],
    'int32 powers within 2^24 are exact (GLSL pow gave 5764802 and 1953124.25)');
  t.end();
});

test('pow of -inf to a fraction follows IEEE: 0 below 0, inf above', (t) => {
  t.deepEqual(Array.from(np.pow(gpu([-Infinity, -Infinity, -Infinity]), gpu([-2.5, 2.5, -3])).dataSync()), [0, Infinity, -0], 'found by the fuzz: was nan');
  t.end();
});

test('the same key gives the same numbers on both backends', (t) => {
  const k = np.random.key(7);
  for (const [name, f] of [['normal', (b: string) => { np.setBackend(b); return np.random.normal(k, [50]); }],
    ['uniform', (b: string) => { np.setBackend(b); return np.random.uniform(k, [50]); }],
    ['randint', (b: string) => { np.setBackend(b); return np.random.randint(k, [50], 0, 9); }]] as const) {
    const c = f('cpu'), g = f('gpu');
    t.equal(g.backend!.name, 'gpu', `${name} made on the gpu`);
    t.deepEqual(Array.from(g.dataSync()), Array.from(c.dataSync()), `${name}: identical values`);
  }
  np.setBackend('gpu');
  t.end();
});

test('moving between backends; mixing them is an error that says how to fix it', (t) => {
  const x = gpu([1, 2, 3]);
  const c = np.toBackend(x, 'cpu');
  t.equal(c.backend!.name, 'cpu', 'moved to cpu');
  t.deepEqual(Array.from(np.toBackend(c, 'gpu').dataSync()), [1, 2, 3], 'and back');
  t.throws(() => np.add(x, c), /different backends.*toBackend/, 'mixing backends');
  t.end();
});

test('kernels are compiled once per shape and cached; warmup compiles ahead', (t) => {
  const f = (x: np.Tensor) => np.sum(np.exp(np.mul(x, 3.5)));
  const x = gpu([[1, 2, 3, 4, 5, 6, 7]]);
  const compiled = np.warmup(f, x);
  t.ok(compiled > 0, `warmup compiled ${compiled} kernels`);
  const before = np.gpuStats().compiles;
  f(x); f(x);
  t.equal(np.gpuStats().compiles, before, 'no compiles on later calls of the same shapes');
  t.end();
});

test('gpuProfile times launches by kernel while it is on, and nothing once off', (t) => {
  const x = np.arange(0, 1000, 1, 'float32');
  gpuProfile(true);
  np.add(np.mul(x, 2), 1).dataSync();
  const rows = gpuProfile(false);
  t.ok(rows.length >= 1 && rows.every((r) => r.runs >= 1 && r.ms >= 0), `${rows.length} kernels timed`);
  t.ok(rows.some((r) => /^1000x1 /.test(r.kernel)), 'keyed by output size and source');
  np.add(np.mul(x, 3), 1).dataSync();
  t.deepEqual(gpuProfile(), [], 'off: nothing timed');
  t.end();
});

test('long reductions run in passes (partials, then their fold, split again while long) and match the CPU', (t) => {
  // BatchNorm's shape: 16 channels of 16 x 4 x 32 x 32 = 65536 positions each, which one thread per
  // channel would walk alone; a flat 147456-vector's sum refactors into 384 x 384
  const [ka, kb, kc] = np.random.split(np.random.key(7), 3);
  const shape = [16, 16, 4, 32, 32], axes = [0, 2, 3, 4];
  const x = np.random.normal(ka, shape), g = np.random.normal(kb, shape), v = np.add(np.random.normal(kc, [147456]), 0.25);
  const [xc, gc, vc] = [x, g, v].map((a) => np.toBackend(a, 'cpu'));
  const runs = (f: () => np.Tensor): [np.Tensor, number] => { const r0 = np.gpuStats().runs; const y = f(); y.dataSync(); return [y, np.gpuStats().runs - r0]; };
  const tol = { rtol: 2e-4, atol: 2e-4 };
  const cases: [string, (a: np.Tensor, b: np.Tensor, c: np.Tensor) => np.Tensor][] = [
    ['sum over the channel axes', (a) => np.sum(a, axes)],
    ['max over the channel axes', (a) => np.max(a, axes)],
    ['min over the channel axes', (a) => np.min(a, axes)],
    ['moments over the channel axes', (a) => np.stackedMoments(a, axes)],
    ['batchNormParamGrad', (a, b) => np.batchNormParamGrad(a, b, np.stackedMoments(a, axes), axes, 1e-5)],
    ['sum of a flat 147456-vector', (_a, _b, c) => np.sum(c)],
    ['a jitted sum of a product (a fused sum)', (a, b) => np.jit((p: np.Tensor, q: np.Tensor) => np.sum(np.mul(p, q), axes))(a, b)],
  ];
  for (const [name, f] of cases) {
    const [y, n] = runs(() => f(x, g, v));
    close(t, y, f(xc, gc, vc), `${name} (${n} kernel runs)`, tol);
  }
  t.equal(runs(() => np.sum(x, axes))[1], 2, 'a long sum is two kernels');
  t.equal(runs(() => np.sum(x, [4]))[1], 1, 'a short one (32 positions an output) stays one');
  t.equal(runs(() => np.sum(x, [3, 4]))[1], 2, 'one of 1024 positions an output, for 1024 outputs, is two');
  // a fused sum over a lone long axis splits it as sum does, its inputs read at the split shape: a
  // row of the axis's length, a column broadcast along it (before, one thread walked all 147456:
  // the training step's finiteness probe took 0.4 s on an H200)
  const w = np.random.normal(np.random.key(8), [3, 1]), wc = np.toBackend(w, 'cpu');
  const flat = (c: np.Tensor) => np.sum(np.mul(c, 2));
  const rows = (c: np.Tensor, col: np.Tensor) => np.sum(np.mul(np.add(c, 1), col), [1]);
  const [yf, nf] = runs(() => np.jit(flat)(v));
  close(t, yf, flat(vc), 'a jitted sum of a flat vector\'s double', tol);
  t.ok(nf >= 2, `in ${nf} passes`);
  const [yr, nr] = runs(() => np.jit(rows)(v, w));
  close(t, yr, rows(vc, wc), 'a jitted sum over a long axis, of a row and a column broadcast', tol);
  t.ok(nr >= 2, `in ${nr} passes`);
  // lengths with no divisor near their square root (a prime: 65537, 100003) split padded, the
  // positions past the end skipped; before, one thread walked each output's positions, which Mesa's
  // llvmpipe cuts off after 65535 steps: sum of 100003 halves gave 32767.5, argmax past 65535 missed
  const odd: [number[], number[]][] = [[[100003], [0]], [[3, 65537], [1]], [[65537, 3], [0]], [[2, 4099, 7], [1, 2]]];
  for (const [shape, ax] of odd) {
    const a = np.add(np.random.normal(np.random.key(shape[0]), shape), 0.5), ac = np.toBackend(a, 'cpu');
    const reds: [string, (z: np.Tensor) => np.Tensor][] = [
      ['sum', (z) => np.sum(z, ax)], ['max', (z) => np.max(z, ax)], ['min', (z) => np.min(z, ax)],
      ['moments', (z) => np.stackedMoments(z, ax)],
      ['batchNormParamGrad', (z) => np.batchNormParamGrad(z, np.exp(np.mul(z, -0.3)), np.stackedMoments(z, ax), ax, 1e-5)],
      ['a jitted sum of a square', (z) => np.jit((q: np.Tensor) => np.sum(np.mul(q, q), ax))(z)],
    ];
    for (const [name, f] of reds) {
      const [y, n] = runs(() => f(a));
      close(t, y, f(ac), `${name} over axes ${ax} of [${shape}] (${n} kernel runs)`, tol);
      t.ok(n >= 2, `${name} over axes ${ax} of [${shape}]: in ${n} passes`);
    }
    if (ax.length === 1) {
      const [y, n] = runs(() => np.argmax(a, ax[0]));
      t.deepEqual(Array.from(y.dataSync()), Array.from(np.argmax(ac, ax[0]).dataSync()), `argmax along axis ${ax[0]} of [${shape}] (${n} kernel runs)`);
    }
  }
  // BatchNorm's weight and bias cotangents: both sums and the scale in as many launches as a sum
  // over the same axes takes (one, or its passes); the scale was one more
  for (const shape of [[4, 8, 6, 6], [16, 8, 64, 64]]) {
    const z = np.random.normal(np.random.key(9), shape), zg = np.exp(z), zs = np.stackedMoments(z, [0, 2, 3]);
    const want = runs(() => np.sum(z, [0, 2, 3]))[1];
    t.equal(runs(() => np.batchNormParamGrad(z, zg, zs, [0, 2, 3], 1e-5))[1], want, `batchNormParamGrad of [${shape}]: ${want} launch(es), as sum`);
  }
  // how a lone axis splits: evenly when it factors so, padded otherwise (the AVID probe's 841504 =
  // 32 x 26297 walked 26297 a thread: 20 ms on an H200)
  t.deepEqual(splitReduction([65536], [0], 'padded'), { shape: [256, 256], inner: [1], outer: [0], mid: [256], midOuter: [0] }, '65536 splits 256 x 256');
  t.deepEqual(splitReduction([841504], [0], 'exact')?.shape, [32, 26297], '841504 splits exactly 32 x 26297');
  t.deepEqual(splitReduction([841504], [0], 'padded'), { shape: [918, 917], inner: [1], outer: [0], mid: [918], midOuter: [0], bound: { axis: 0, n: 841504 } }, 'or padded, 918 x 917');
  t.deepEqual(splitReduction([3, 65537, 2], [1, 2], 'padded')?.inner, [2, 3], 'a padded split cuts between its two axes');
  // the partials of a pass are reduced the same way (100003: 317 x 316 padded, then 18 x 18 padded)
  t.equal(runs(() => np.sum(v))[1], 3, 'a sum of 147456: three passes (384 partials, then 24)');
  // argmax's two passes keep its rules: the first of equals, the first nan
  const ties = (at: Record<number, number>) => np.tensor(Float32Array.from({ length: 70001 }, (_, i) => at[i] ?? 0));
  t.equal(np.argmax(ties({ 5000: 7, 60000: 7 })).item(), 5000, 'argmax of 70001: the first of two maxima');
  t.equal(np.argmax(ties({ 5000: 7, 66000: NaN, 69000: NaN })).item(), 66000, 'argmax of 70001: the first nan');
  t.equal(np.argmax(np.full([70001], -Infinity)).item(), 0, 'argmax of 70001 -infinities: 0');
  // nan and inf reach the result through both passes
  const bad = np.where(np.equal(np.arange(147456), 99999), NaN, v);
  t.ok(Number.isNaN(np.sum(bad).item()) && Number.isNaN(np.max(bad).item()), 'a nan anywhere makes the sum and max nan');
  t.end();
});

test('a kernel reads at most MAX_KERNEL_INPUTS tensors: concat of 40 joins in rounds, a jitted NaN probe over 40 tensors sees the NaN', (t) => {
  // before, a shader sampled past its texture units: concat and stack of 40 read zeros (117 of 120
  // wrong), and jit fused nn.nonFinite's chain of adds into one 98-input kernel that gave 0
  const xs = Array.from({ length: 40 }, (_, i) => np.full([3], i));
  const want = Array.from({ length: 120 }, (_, i) => Math.floor(i / 3));
  t.deepEqual(Array.from(np.concat(xs, 0).dataSync()), want, 'concat of 40');
  t.deepEqual(Array.from(np.stack(xs, 0).dataSync()), want, 'stack of 40');
  const probe = np.jit((...ts: np.Tensor[]) => ts.reduce((acc: np.Tensor, x) => np.add(acc, np.sum(np.mul(x, 0))), np.tensor(0)));
  t.equal(probe(...xs).item(), 0, 'all finite: 0');
  const withNan = xs.map((x, i) => (i === 37 ? np.div(x, 0) : x)); // 0 / 0 is nan at element 0 of x37 (= 37 / 0 elsewhere: inf)
  t.ok(Number.isNaN(probe(...withNan).item()), 'a nan or inf in the 38th tensor makes the probe nan');
  t.end();
});

test('freed textures are recycled for later kernels of the same size, and recycled ones hold the right values', (t) => {
  const s0 = np.textureStats();
  const x = gpu(Array.from({ length: 4096 }, (_, i) => i));
  for (let r = 0; r < 3; r++) {
    const y = np.withScope(() => np.add(np.mul(np.add(x, 1), 2), r));
    t.equal(y.dataSync()[4095], (4096 * 2) + r, `round ${r}: a chain on recycled textures gives the right last element`);
  }
  const s1 = np.textureStats();
  t.ok(s1.reused > s0.reused, `textures were reused (${s1.reused - s0.reused} of ${s1.reused - s0.reused + s1.fresh - s0.fresh})`);
  t.ok(s1.pooledBytes <= s1.capBytes, `the pool holds ${s1.pooledBytes} bytes, within its cap ${s1.capBytes}`);
  t.end();
});

test('headless-GL attaches a kernel\'s outputs with a native call or two, not 22 (core/gpu/framebuffers.ts), and kernels of 1 and 4 render targets interleave correctly', async (t) => {
  const headlessGl = 'gl'; // headless-GL, untyped: a context shares its class with gpu.js's
  const gl = ((await import(headlessGl)) as { default: (w: number, h: number) => object | null }).default(1, 1);
  const native = gl && Object.getPrototypeOf(Object.getPrototypeOf(gl));
  if (!native?.framebufferTexture2D) { t.skip('not headless-GL'); t.end(); return; }
  const attach = native.framebufferTexture2D;
  let calls = 0;
  native.framebufferTexture2D = function (this: unknown, ...a: unknown[]) { calls++; return attach.apply(this, a); };
  try {
    const step = np.jit((a: np.Tensor, b: np.Tensor) => {
      const m = np.add(np.mul(a, 0.9), np.mul(b, 0.1)), v = np.add(np.mul(a, a), b); // one kernel writing m and v
      return [m, v, np.matmul(m, v)] as const;
    });
    const a = gpu([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]), b = gpu([[1, -1, 2, -2], [3, -3, 4, -4], [5, -5, 6, -6], [7, -7, 8, -8]]);
    step(a, b);
    const runs = np.gpuStats().runs;
    calls = 0;
    let out = step(a, b);
    for (let i = 0; i < 4; i++) out = step(out[0], out[1]);
    const launched = np.gpuStats().runs - runs;
    t.ok(calls <= 2 * launched, `${calls} native attachments for ${launched} kernel runs`);
    const want = [0, 1, 2, 3, 4].reduce((acc: np.Tensor[]) => {
      const m = np.add(np.mul(acc[0], 0.9), np.mul(acc[1], 0.1)), v = np.add(np.mul(acc[0], acc[0]), acc[1]);
      return [m, v, np.matmul(m, v)];
    }, [cpu(a.toArray() as np.NestedArray), cpu(b.toArray() as np.NestedArray)]);
    out.forEach((o, i) => close(t, o, want[i], `output ${i} after five steps`, { rtol: 1e-5 }));
  } finally {
    native.framebufferTexture2D = attach;
  }
  t.end();
});

test('a jitted step replays the launches its first call recorded: the same values, aliasing and read-backs handled', (t) => {
  const x = gpu([[1, 2, 3, 4], [5, 6, 7, 8]]), y = gpu([[1, 0, -1, 2], [0, 1, 2, -3], [3, 1, 0, 1], [2, 2, 2, 2]]), z = gpu([[2, -1, 0, 1], [1, 3, -2, 0], [0, 0, 1, 1], [5, 1, 2, 3]]);
  const cx = cpu(x.toArray() as np.NestedArray), cy = cpu(y.toArray() as np.NestedArray), cz = cpu(z.toArray() as np.NestedArray);
  // a matmul (its padding, product, gather and cut launches), a fused tail and a sum
  const f = (a: np.Tensor, b: np.Tensor) => np.sum(np.tanh(np.mul(np.matmul(a, b), 0.1)), [1]);
  const jf = np.jit(f);
  close(t, jf(x, y), f(cx, cy), 'first call (recorded)');
  const before = np.gpuStats();
  close(t, jf(x, z), f(cx, cz), 'second call, other values (replayed)');
  const after = np.gpuStats();
  t.ok(after.replayed - before.replayed > 0 && after.replayed - before.replayed === after.runs - before.runs, `every launch of the second call replayed (${after.replayed - before.replayed} of ${after.runs - before.runs})`);
  // one tensor as both arguments: a first call so cannot be recorded, and later calls with two still come right
  const g = np.jit((a: np.Tensor, b: np.Tensor) => np.matmul(a, b));
  close(t, g(y, y), np.matmul(cy, cy), 'g(y, y)');
  close(t, g(y, z), np.matmul(cy, cz), 'g(y, z) after g(y, y)');
  close(t, g(z, z), np.matmul(cz, cz), 'g(z, z) replayed with one buffer twice');
  // gather reads its indices back to check them: never replayed, so a bad index is still refused
  const rows = np.jit((a: np.Tensor, i: np.Tensor) => np.gather(a, i));
  close(t, rows(y, np.tensor([3, 0], { dtype: 'int32', backend: 'gpu' })), np.gather(cy, np.tensor([3, 0], { dtype: 'int32', backend: 'cpu' })), 'rows');
  close(t, rows(z, np.tensor([1, 2], { dtype: 'int32', backend: 'gpu' })), np.gather(cz, np.tensor([1, 2], { dtype: 'int32', backend: 'cpu' })), 'rows again');
  opError(t, () => rows(y, np.tensor([4, 0], { dtype: 'int32', backend: 'gpu' })), 'gather', [/out of range|index/], 'an index out of range, on a later call');
  t.end();
});

test('eager calls replay too, keyed by avals and attrs: values right, and attrs JSON cannot tell apart (NaN, Infinity, -0) kept apart', (t) => {
  const x = gpu([[1, 2, 3], [4, 5, 6]]), y = gpu([[6, 5], [4, 3], [2, 1]]), z = gpu([[1, -1], [2, -2], [3, -3]]);
  close(t, np.matmul(x, y), np.matmul(cpu([[1, 2, 3], [4, 5, 6]]), cpu([[6, 5], [4, 3], [2, 1]])), 'first matmul of its kind (recorded)');
  const before = np.gpuStats();
  close(t, np.matmul(x, z), np.matmul(cpu([[1, 2, 3], [4, 5, 6]]), cpu([[1, -1], [2, -2], [3, -3]])), 'second (replayed)');
  t.ok(np.gpuStats().replayed > before.replayed, 'replayed');
  // pad bakes its fill into the shader: each fill its own recording
  for (const v of [NaN, Infinity, -Infinity, 0, -0, 2]) {
    const got = np.pad(x, [[0, 0], [1, 0]], v).dataSync()[0], want = np.pad(cpu([[1, 2, 3], [4, 5, 6]]), [[0, 0], [1, 0]], v).dataSync()[0];
    t.ok(Object.is(got, want), `pad with ${Object.is(v, -0) ? '-0' : v}: ${Object.is(got, -0) ? '-0' : got}, the cpu's ${Object.is(want, -0) ? '-0' : want}`);
  }
  t.end();
});

test('100 training steps leak no textures', async (t) => {
  const key = np.random.key(3);
  const [kx, kw] = np.random.split(key);
  const x = np.random.normal(kx, [32, 8]), y = np.sum(np.square(x), 1, { keepdims: true });
  const loss = (p: { w: np.Tensor; b: np.Tensor }) => np.mean(np.square(np.sub(np.add(np.matmul(np.tanh(x), p.w), p.b), y)));
  const step = (p: { w: np.Tensor; b: np.Tensor }) => np.withScope(() => {
    const [l, g] = np.valueAndGrad(loss)(p);
    return { p: np.treeZip<typeof p>([p, g], (a, b) => np.sub(a, np.mul(b, 0.05))), l };
  });
  // finalizers run as tasks after a collection: collect and yield a few times
  const settle = async () => { for (let i = 0; i < 5; i++) { (globalThis as { gc?: () => void }).gc?.(); await new Promise((r) => setTimeout(r, 20)); } };
  // the loops run in a plain function: an async function's suspended frame could keep old values alive
  const state = { p: { w: np.random.normal(kw, [8, 1]), b: np.zeros([1]) }, losses: [] as number[] };
  const train = (n: number) => { for (let i = 0; i < n; i++) { const r = step(state.p); state.p = r.p; state.losses.push(r.l.item()); } };
  train(100);
  await settle();
  const base = np.gpuStats().textures;
  train(100);
  await settle();
  const after = np.gpuStats().textures;
  const [first, last] = [state.losses[0], state.losses[state.losses.length - 1]];
  t.ok(typeof (globalThis as { gc?: unknown }).gc === 'function', 'the runner exposes gc');
  t.ok(last < first, `the loop trains (loss ${first.toFixed(3)} -> ${last.toFixed(3)})`);
  t.equal(after, base, `live textures back to the baseline (${base}) after 100 more steps`);
  t.ok(np.gpuStats().bytes < 1e6, `live bytes ${np.gpuStats().bytes}`);
  t.end();
});
