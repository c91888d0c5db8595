/**
 * The CPU GEMM kernels: the WebAssembly SIMD kernel (float32) against the JavaScript gemm and a naive
 * triple loop in float64, over shapes that are not multiples of the 4 x 8 tile or of the blocks
 * (KC 256, MC 128, NC 1024), transposed operands, batches with broadcast offsets, K = 0, jobs big
 * enough to be split across threads, and non-finite values. The kernel sums in float32, so the
 * tolerance is relative to sum_k |A[i, k] B[k, j]| and grows like sqrt(K).
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gemm } from '../../core/cpu/gemm.js';
import { gemmBatched, gemmKernel, type GemmBatch } from '../../core/cpu/pool.js';

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
