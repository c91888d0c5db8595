/**
 * The CPU GEMM kernels: the WebAssembly SIMD kernel (float32) against the JavaScript gemm and a naive
 * triple loop in float64, over shapes that are not multiples of the 4 x 8 tile or of the blocks
 * (KC 256, MC 128, NC 1024), transposed operands, batches with broadcast offsets, K = 0, jobs big
 * enough to be split across threads, and non-finite values. The kernel sums in float32, so the
 * tolerance is relative to sum_k |A[i, k] B[k, j]| and grows like sqrt(K).
 * Then the wasm conv2d kernel (im2col fused into the GEMM's packing) against a naive loop, over
 * geometries that take each of its packing paths, and so its weight gradient (the columns packed
 * straight from the image, transposed), which must also not depend on the number of threads.
 * Last, fold's sums in wasm, against a naive loop bit for bit.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gemm } from '../../core/cpu/gemm.js';
import { simdOuter, simdStats } from '../../core/cpu/simd.js';
import { type Conv2dGeometry, conv2dWasm, conv2dWeightGradWasm, gemmBatched, gemmKernel, type GemmBatch } from '../../core/cpu/pool.js';
import * as np from '../../core/index.js';
import { foldStats } from '../../core/prims/fold.js';
import { fold as naiveFold } from './naive.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Deterministic floats in [-1, 1). */
function randoms(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

interface Shape {
  M: number; N: number; K: number;
  transA?: boolean; transB?: boolean;
  /** batch count, and whether A or B is one matrix shared by every batch (a broadcast) */
  nb?: number; shareA?: boolean; shareB?: boolean;
}

let seed = 1;
/** A float32 GemmBatch for `s`, with operands stored transposed where asked. */
function problem(s: Shape): GemmBatch & { C: Float32Array } {
  const { M, N, K, transA = false, transB = false, nb = 1, shareA = false, shareB = false } = s;
  const A = randoms((shareA ? 1 : nb) * M * K, seed++), B = randoms((shareB ? 1 : nb) * K * N, seed++);
  const offsets = Array.from({ length: nb }, (_, b) => [shareA ? 0 : b * M * K, shareB ? 0 : b * K * N] as const);
  return {
    A, B, C: new Float32Array(nb * M * N).fill(NaN), M, N, K, offsets,
    ars: transA ? 1 : K, acs: transA ? M : 1, brs: transB ? 1 : N, bcs: transB ? K : 1,
  };
}

/** The naive triple loop in float64: C and, per element, sum_k |A[i, k] B[k, j]|. */
function naive(g: GemmBatch): { C: Float64Array; mag: Float64Array } {
  const C = new Float64Array(g.offsets.length * g.M * g.N), mag = new Float64Array(C.length);
  g.offsets.forEach(([ao, bo], b) => {
    for (let i = 0; i < g.M; i++) {
      for (let j = 0; j < g.N; j++) {
        let s = 0, m = 0;
        for (let k = 0; k < g.K; k++) {
          const p = g.A[ao + i * g.ars + k * g.acs] * g.B[bo + k * g.brs + j * g.bcs];
          s += p; m += Math.abs(p);
        }
        C[(b * g.M + i) * g.N + j] = s;
        mag[(b * g.M + i) * g.N + j] = m;
      }
    }
  });
  return { C, mag };
}

/** The JavaScript gemm, batch by batch, as the reference kernel. */
function jsGemm(g: GemmBatch): Float32Array {
  const C = new Float32Array(g.offsets.length * g.M * g.N);
  g.offsets.forEach(([ao, bo], b) => gemm(g.A, ao, g.ars, g.acs, g.B, bo, g.brs, g.bcs, C, b * g.M * g.N, g.M, g.N, g.K, 0, g.M));
  return C;
}

/** The first element where |got - want| > 1e-5 sqrt(K) sum_k |A B| (exact when K = 0), or null. */
function worst(got: ArrayLike<number>, want: ArrayLike<number>, mag: ArrayLike<number>, K: number): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-5 * Math.sqrt(K) * mag[i];
    if (!(Math.abs(got[i] - want[i]) <= tol)) return `element ${i} is ${got[i]}, expected ${want[i]} (tolerance ${tol.toExponential(2)})`;
  }
  return null;
}

const label = (s: Shape) =>
  `${s.nb ?? 1} x [${s.M}, ${s.K}]${s.transA ? 'ᵀ' : ''} @ [${s.K}, ${s.N}]${s.transB ? 'ᵀ' : ''}` +
  `${s.shareA ? ', A shared' : ''}${s.shareB ? ', B shared' : ''}`;

/** Run gemmBatched on `s` and compare with the naive loop and the JavaScript gemm. */
function check(t: test.Test, s: Shape): void {
  const g = problem(s);
  gemmBatched(g);
  const ref = naive(g);
  const vsNaive = worst(g.C, ref.C, ref.mag, s.K);
  const vsJs = worst(g.C, jsGemm(g), ref.mag, s.K);
  if (vsNaive || vsJs) t.fail(`${label(s)}: ${vsNaive ? `vs naive: ${vsNaive}` : `vs js gemm: ${vsJs}`}`);
  else t.pass(label(s));
}

test('the wasm SIMD kernel is the one running float32 (unless AVID_GEMM=js)', (t) => {
  t.equal(gemmKernel(), process.env.AVID_GEMM === 'js' ? 'js' : 'wasm-simd', `gemmKernel() is ${gemmKernel()}`);
  t.end();
});

test('gemm: odd shapes, every transpose', (t) => {
  const dims = [1, 3, 17, 65, 130];
  for (const M of dims) for (const N of dims) for (const K of dims) {
    for (const transA of [false, true]) for (const transB of [false, true]) check(t, { M, N, K, transA, transB });
  }
  t.end();
});

test('gemm: K = 0 gives zeros, M = 0 or N = 0 nothing', (t) => {
  for (const [M, N] of [[1, 1], [5, 9], [130, 17]]) check(t, { M, N, K: 0 });
  for (const [M, N] of [[0, 4], [4, 0]]) {
    const g = problem({ M, N, K: 3 });
    gemmBatched(g);
    t.equal(g.C.length, 0, `[${M}, 3] @ [3, ${N}] is empty`);
  }
  t.end();
});

test('gemm: past the block sizes (KC 256, MC 128, NC 1024)', (t) => {
  for (const s of [
    { M: 129, N: 33, K: 257 }, { M: 7, N: 1030, K: 9 }, { M: 260, N: 1033, K: 300 },
    { M: 129, N: 1030, K: 513, transA: true }, { M: 200, N: 1025, K: 260, transB: true },
  ]) check(t, s);
  t.end();
});

test('gemm: batches, with A or B broadcast, split across threads mid-matrix', (t) => {
  for (const s of [
    { M: 5, N: 7, K: 3, nb: 4 },
    { M: 65, N: 130, K: 130, nb: 3 }, // 3.3M multiply-adds in 195 rows: two threads' shares cut matrix 1
    { M: 65, N: 130, K: 17, nb: 5, shareA: true },
    { M: 17, N: 65, K: 130, nb: 6, shareB: true, transB: true },
    { M: 64, N: 1024, K: 288, nb: 8, shareA: true }, // conv2d: w [64, 32 * 3 * 3] @ cols [8, 288, 1024]
    { M: 33, N: 31, K: 65, nb: 7, shareA: true, transA: true },
  ]) check(t, s);
  t.end();
});

test('gemm: the shared memory grows between calls (small, big, small, bigger)', (t) => {
  for (const n of [17, 600, 33, 1100, 65]) check(t, { M: n, N: n, K: 40 });
  t.end();
});

test('gemm: NaN and Inf stay in their own rows and columns (the zero padding never leaks)', (t) => {
  const g = problem({ M: 13, N: 11, K: 5 });
  const A = g.A as Float32Array, B = g.B as Float32Array;
  A[2 * 5 + 1] = NaN; // row 2
  B[3 * 11 + 10] = Infinity; // column 10, the last of a partial panel
  gemmBatched(g);
  const js = jsGemm(g);
  let bad = -1;
  for (let i = 0; i < 13; i++) {
    for (let j = 0; j < 11; j++) {
      const v = g.C[i * 11 + j], finite = i !== 2 && j !== 10;
      if (finite !== Number.isFinite(v) || Number.isNaN(v) !== Number.isNaN(js[i * 11 + j])) bad = i * 11 + j;
    }
  }
  t.equal(bad, -1, 'non-finite exactly in row 2 and column 10, as with the JavaScript gemm');
  t.end();
});

test('outer products (contracted size 1) run as WebAssembly SIMD: the GEMM\'s bits (a b + 0), broadcast batches, odd widths, chunks', (t) => {
  const edges = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3e38, -1, 0.5];
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  for (const { M, N, nb, shareA } of [
    { M: 10, N: 10, nb: 1 }, // every pair of edge values
    { M: 7, N: 13, nb: 3 },
    { M: 5, N: 6, nb: 4, shareA: true },
    { M: 64, N: 33, nb: 600 }, // 1.27M products: more than one chunk through the heap
  ]) {
    const A = Float32Array.from(randoms(M * (shareA ? 1 : nb), 3), (v, i) => (M === 10 ? edges[i % 10] : v));
    const B = Float32Array.from(randoms(N * nb, 4), (v, i) => (M === 10 ? edges[i % 10] : v));
    const offsets = Array.from({ length: nb }, (_, i) => [shareA ? 0 : i * M, i * N] as [number, number]);
    const C = new Float32Array(nb * M * N);
    const before = simdStats.calls;
    t.ok(simdOuter(A, B, C, M, N, offsets) && simdStats.calls === before + 1, `${M} x ${N} x ${nb}: ran as SIMD`);
    const g: GemmBatch = { A, B, C: new Float32Array(nb * M * N), M, N, K: 1, offsets, ars: 1, acs: 1, brs: N, bcs: 1 };
    gemmBatched(g);
    const bad = C.findIndex((v, i) => !Object.is(v, g.C[i]) && !(Number.isNaN(v) && Number.isNaN(g.C[i])));
    t.equal(bad, -1, bad < 0 ? `${M} x ${N} x ${nb}: the GEMM's values bit for bit` : `element ${bad}: ${show(C[bad])}, the GEMM gives ${show(g.C[bad])}`);
  }
  t.notOk(simdOuter(new Float32Array(0), new Float32Array(9e6), new Float32Array(0), 0, 9e6, [[0, 0]]), 'an empty product is left to the GEMM (never a write past the heap)');
  t.end();
});

test('gemm: float64 stays on the JavaScript kernel, bit for bit', (t) => {
  const g32 = problem({ M: 130, N: 65, K: 130, transB: true });
  const g: GemmBatch = { ...g32, A: Float64Array.from(g32.A), B: Float64Array.from(g32.B), C: new Float64Array(130 * 65) };
  gemmBatched(g);
  const want = new Float64Array(130 * 65);
  gemm(g.A, 0, g.ars, g.acs, g.B, 0, g.brs, g.bcs, want, 0, g.M, g.N, g.K, 0, g.M);
  t.ok(g.C.every((v, i) => v === want[i]), 'same as gemm()');
  t.end();
});

test('AVID_GEMM=js selects the JavaScript kernel', (t) => {
  const src = "import('./core/cpu/pool.js').then((m) => console.log(m.gemmKernel()))";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', src], { cwd: root, encoding: 'utf8', env: { ...process.env, AVID_GEMM: 'js' } });
  t.equal(r.stdout.trim(), 'js', 'gemmKernel() in a process with AVID_GEMM=js');
  t.end();
});

// ---------------------------------------------------------------------------------------------------
// conv2d: packs im2col panels straight from the image. Its fast path needs stride 1 along W and 8
// output columns in one output row (OW >= 8); rows of padding are zeros, rows that run off the image's
// left or right edge go float by float; any other geometry reads column by column.

type ConvCase = Omit<Conv2dGeometry, 'OH' | 'OW'>;

const geometry = (c: ConvCase): Conv2dGeometry => ({
  ...c,
  OH: Math.floor((c.H + 2 * c.ph - (c.KH - 1) * c.dh - 1) / c.sh) + 1,
  OW: Math.floor((c.W + 2 * c.pw - (c.KW - 1) * c.dw - 1) / c.sw) + 1,
});

/** y and, per element, sum |x w| by the naive loop in float64 (padding: ph, pw before and after). */
function naiveConv(x: Float32Array, w: Float32Array, g: Conv2dGeometry): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(g.B * g.O * g.OH * g.OW), mag = new Float64Array(y.length);
  for (let b = 0; b < g.B; b++) for (let o = 0; o < g.O; o++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
    let s = 0, m = 0;
    for (let c = 0; c < g.C; c++) for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      const p = x[((b * g.C + c) * g.H + ih) * g.W + iw] * w[((o * g.C + c) * g.KH + kh) * g.KW + kw];
      s += p; m += Math.abs(p);
    }
    const i = ((b * g.O + o) * g.OH + oh) * g.OW + ow;
    y[i] = s; mag[i] = m;
  }
  return { y, mag };
}

const one = { sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 };
const convCases: [string, ConvCase][] = [
  ['the bench conv, split across threads', { B: 8, C: 32, H: 32, W: 32, O: 64, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['threads share units of 256 columns; L = 300 is not a multiple', { B: 3, C: 8, H: 15, W: 20, O: 40, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['3x3 same, OW not a multiple of 8', { B: 2, C: 3, H: 11, W: 13, O: 5, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['5x5, wide padding (runs off both edges)', { B: 1, C: 2, H: 9, W: 10, O: 6, KH: 5, KW: 5, ...one, ph: 2, pw: 4 }],
  ['valid, no padding', { B: 3, C: 4, H: 12, W: 19, O: 7, KH: 3, KW: 2, ...one }],
  ['tiny: 1 x 1 image and kernel', { B: 1, C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1, ...one }],
  ['OW < 8: every panel column by column', { B: 2, C: 3, H: 5, W: 7, O: 9, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['stride 2 and 3, dilation 2', { B: 3, C: 5, H: 13, W: 17, O: 9, KH: 5, KW: 5, sh: 2, sw: 3, ph: 2, pw: 2, dh: 2, dw: 1 }],
  ['stride 2 along H only, dilation along W', { B: 2, C: 3, H: 9, W: 21, O: 7, KH: 3, KW: 2, sh: 2, sw: 1, ph: 1, pw: 0, dh: 1, dw: 3 }],
  ['O > MC (128) and O % 4 != 0', { B: 1, C: 4, H: 6, W: 20, O: 130, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['C KH KW > KC2 (512): two K blocks', { B: 2, C: 70, H: 6, W: 12, O: 13, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
  ['1x1 kernel, many positions', { B: 4, C: 16, H: 16, W: 24, O: 33, KH: 1, KW: 1, ...one }],
  ['padding larger than the kernel', { B: 1, C: 2, H: 4, W: 9, O: 3, KH: 2, KW: 3, ...one, ph: 3, pw: 9 }],
];

test('conv2d (wasm): against the naive loop, every packing path', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  for (const [name, c] of convCases) {
    const g = geometry(c);
    const x = randoms(g.B * g.C * g.H * g.W, seed++), w = randoms(g.O * g.C * g.KH * g.KW, seed++);
    const y = conv2dWasm(x, w, g)!;
    const ref = naiveConv(x, w, g), bad = worst(y, ref.y, ref.mag, g.C * g.KH * g.KW);
    t.equal(bad, null, `${name}: ${JSON.stringify(g)}`);
  }
  t.end();
});

test('conv2d (wasm): C = 0 gives zeros, NaN stays in its windows', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  const g0 = geometry({ B: 2, C: 0, H: 3, W: 9, O: 5, KH: 3, KW: 3, ...one, ph: 1, pw: 1 });
  t.ok(conv2dWasm(new Float32Array(0), new Float32Array(0), g0)!.every((v) => v === 0), 'C = 0: zeros');
  const g = geometry({ B: 1, C: 1, H: 9, W: 16, O: 2, KH: 3, KW: 3, ...one, ph: 1, pw: 1 });
  const x = randoms(9 * 16, seed++), w = randoms(18, seed++);
  x[4 * 16 + 9] = NaN;
  const y = conv2dWasm(x, w, g)!;
  let bad = -1;
  for (let o = 0; o < 2; o++) for (let i = 0; i < 9; i++) for (let j = 0; j < 16; j++) {
    const inWindow = Math.abs(i - 4) <= 1 && Math.abs(j - 9) <= 1;
    if (inWindow !== Number.isNaN(y[(o * 9 + i) * 16 + j])) bad = (o * 9 + i) * 16 + j;
  }
  t.equal(bad, -1, 'NaN exactly in the 3x3 windows that cover it');
  t.end();
});

// ---------------------------------------------------------------------------------------------------
// conv2d's weight gradient: dW = sum over images and output positions of ct times the im2col columns,
// packed straight from the image. Its packing walks each output row in stretches of left padding,
// a strided copy, right padding (or all padding); runs of positions cross images; the work is split
// into units of positions (at least 1024) whose partial sums are added in a fixed order.

/** dW [O, C KH KW] and, per element, the sum of |ct x| by the naive loop in float64. */
function naiveWeightGrad(x: Float32Array, ct: Float32Array, g: Conv2dGeometry): { dw: Float64Array; mag: Float64Array } {
  const K = g.C * g.KH * g.KW, dw = new Float64Array(g.O * K), mag = new Float64Array(dw.length);
  for (let b = 0; b < g.B; b++) for (let o = 0; o < g.O; o++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
    const d = ct[((b * g.O + o) * g.OH + oh) * g.OW + ow];
    for (let c = 0; c < g.C; c++) for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      const p = d * x[((b * g.C + c) * g.H + ih) * g.W + iw], i = o * K + (c * g.KH + kh) * g.KW + kw;
      dw[i] += p; mag[i] += Math.abs(p);
    }
  }
  return { dw, mag };
}

const wgradCases: [string, ConvCase][] = [
  ...convCases,
  ['audio stem: 1 channel, stride 2, units across images', { B: 16, C: 1, H: 100, W: 40, O: 16, KH: 3, KW: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1 }],
  ['stride 2 along W, wide padding, K % 8 != 0', { B: 5, C: 3, H: 20, W: 23, O: 6, KH: 3, KW: 5, sh: 1, sw: 2, ph: 2, pw: 3, dh: 1, dw: 2 }],
  ['stride larger than the image row', { B: 7, C: 2, H: 9, W: 3, O: 5, KH: 2, KW: 2, sh: 1, sw: 4, ph: 1, pw: 1, dh: 1, dw: 1 }],
  ['positions per image past KC2 (512), B = 1', { B: 1, C: 3, H: 40, W: 50, O: 10, KH: 3, KW: 3, ...one, ph: 1, pw: 1 }],
];

test('conv2d weight gradient (wasm): against the naive loop, every packing path', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  for (const [name, c] of wgradCases) {
    const g = geometry(c);
    const x = randoms(g.B * g.C * g.H * g.W, seed++), ct = randoms(g.B * g.O * g.OH * g.OW, seed++);
    const dw = conv2dWeightGradWasm(x, ct, g)!;
    const ref = naiveWeightGrad(x, ct, g), bad = worst(dw, ref.dw, ref.mag, g.B * g.OH * g.OW);
    t.equal(bad, null, `${name}: ${JSON.stringify(g)}`);
  }
  t.end();
});

test('conv2d weight gradient (wasm): C = 0 is empty, NaN reaches exactly the weights that read it', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  const g0 = geometry({ B: 2, C: 0, H: 3, W: 9, O: 5, KH: 3, KW: 3, ...one, ph: 1, pw: 1 });
  t.equal(conv2dWeightGradWasm(new Float32Array(0), randoms(2 * 5 * 27, seed++), g0)!.length, 0, 'C = 0: no weights');
  // the NaN at (4, 0) meets kernel column kw only through output column 1 - kw: kw = 2 never reads it
  const g = geometry({ B: 2, C: 2, H: 9, W: 16, O: 3, KH: 3, KW: 3, ...one, ph: 1, pw: 1 });
  const x = randoms(2 * 2 * 9 * 16, seed++), ct = randoms(2 * 3 * 9 * 16, seed++);
  x[(1 * 2 + 1) * 144 + 4 * 16 + 0] = NaN; // image 1, channel 1, row 4, column 0
  const dw = conv2dWeightGradWasm(x, ct, g)!;
  let bad = -1;
  for (let o = 0; o < 3; o++) for (let k = 0; k < 18; k++) {
    const reads = k >= 9 && k % 3 !== 2;
    if (reads !== Number.isNaN(dw[o * 18 + k])) bad = o * 18 + k;
  }
  t.equal(bad, -1, 'NaN in channel 1 for kernel columns 0 and 1 only');
  t.end();
});

test('conv2d weight gradient (wasm): the same bits with one thread as with the default', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  const src = `import('./core/cpu/pool.js').then((m) => {
    const g = ${JSON.stringify(geometry(wgradCases[0][1]))};
    let s = 7;
    const r = (n) => Float32Array.from({ length: n }, () => { s = (s * 16807) % 2147483647; return s / 2 ** 30 - 1; });
    const x = r(g.B * g.C * g.H * g.W), ct = r(g.B * g.O * g.OH * g.OW);
    console.log(Buffer.from(m.conv2dWeightGradWasm(x, ct, g).buffer).toString('base64'));
  })`;
  const run = (threads?: string) => spawnSync(process.execPath, ['--import', 'tsx', '-e', src], {
    cwd: root, encoding: 'utf8', env: { ...process.env, AVID_THREADS: threads },
  }).stdout.trim();
  const one1 = run('1'), two = run('2');
  t.ok(one1.length > 1000, 'a result came back');
  t.equal(two, one1, 'AVID_THREADS=2 gives the bits of AVID_THREADS=1');
  t.end();
});

// ---------------------------------------------------------------------------------------------------
// fold (col2im): wasm's fold_runs adds each plane's runs of columns into float64 sums, four terms at a
// time along runs of stride 1, then rounds each sum once. Its terms and their order are the
// JavaScript loop's, and a naive loop over (kernel offset, output position) adds them in that order
// too: bit for bit, non-finite values included.

test('fold (wasm): the naive loop\'s sums bit for bit, vector and scalar runs, overlapping windows, NaN and Inf', (t) => {
  if (gemmKernel() !== 'wasm-simd') { t.skip('no wasm kernel (AVID_GEMM=js)'); t.end(); return; }
  type Fold = [string, number, number, number[], { K: number[]; s: number[]; p: [number, number][]; d: number[] }];
  const cases: Fold[] = [
    ['1-D, stride 1: runs of 6, 7 and 8 (a vector and a scalar rest)', 2, 3, [9], { K: [3], s: [1], p: [[1, 1]], d: [1] }],
    ['2-D 3 x 3 same, stride 1 (overlapping windows)', 2, 4, [7, 13], { K: [3, 3], s: [1, 1], p: [[1, 1], [1, 1]], d: [1, 1] }],
    ['a (2+1)-D temporal fold [3, 1] over [8, 256]', 1, 5, [8, 256], { K: [3, 1], s: [1, 1], p: [[1, 1], [0, 0]], d: [1, 1] }],
    ['stride 2 along the last axis: scalar runs', 3, 2, [9, 11], { K: [3, 3], s: [2, 2], p: [[1, 1], [1, 1]], d: [1, 1] }],
    ['dilation 2, uneven padding', 1, 3, [6, 10], { K: [2, 3], s: [1, 1], p: [[1, 0], [2, 1]], d: [2, 2] }],
    ['3-D', 2, 2, [3, 4, 5], { K: [2, 3, 2], s: [1, 1, 2], p: [[0, 0], [1, 1], [0, 1]], d: [1, 1, 1] }],
  ];
  for (const [name, B, C, S, w] of cases) {
    const win = { kernel: w.K, stride: w.s, padding: w.p, dilation: w.d };
    const outS = S.map((s, i) => Math.floor((s + w.p[i][0] + w.p[i][1] - (w.K[i] - 1) * w.d[i] - 1) / w.s[i]) + 1);
    const Kp = w.K.reduce((a, b) => a * b, 1), L = outS.reduce((a, b) => a * b, 1);
    const data = randoms(B * C * Kp * L, seed++);
    data[3] = NaN; data[data.length - 2] = Infinity;
    const cols = np.tensor(data, { shape: [B, C * Kp, L] });
    const before = foldStats.calls;
    const got = np.fold(cols, S, win).dataSync() as Float32Array;
    t.equal(foldStats.calls, before + 1, `${name}: ran in wasm`);
    const ref = naiveFold({ shape: [B, C * Kp, L], data: Float64Array.from(data) }, C, S, w.K, w.s, w.p.map(([lo]) => lo), outS, w.d);
    const want = Float32Array.from(ref.data as Float64Array);
    const diff = got.findIndex((v, i) => !Object.is(v, want[i]));
    t.equal(diff, -1, diff < 0 ? `${name}: bit for bit` : `${name}: element ${diff} is ${got[diff]}, not ${want[diff]}`);
  }
  t.end();
});
