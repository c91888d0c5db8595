/**
 * The compiled WebAssembly SIMD GEMM (gemm.wat, built to gemm.wasm by build.mjs), or undefined when
 * it is missing, does not compile on this engine, or AVID_GEMM=js asks for the JavaScript GEMM. The
 * bytes come through the platform (../../platform/): read from disk in Node, none yet in a browser.
 * Loaded synchronously, once; silent either way: `gemmKernel()` in ../pool.ts tells.
 */
import { platform } from '../../platform/node.js';
import { env } from '../../platform/platform.js';

/** What gemm.wasm exports; pointers are byte addresses in the shared memory it imports as env.memory. */
export interface GemmExports {
  gemm(a: number, ars: number, acs: number, b: number, brs: number, bcs: number,
    c: number, N: number, K: number, i0: number, i1: number, work: number): void;
  /**
   * y[:, l0:l1] of a 2-D convolution of one image x [C, H, W] with weights [O, C, KH, KW] into
   * y [O, OH, OW]; `geo` points at 14 i32: C H W O KH KW sh sw ph pw dh dw OH OW (see gemm.wat).
   */
  conv2d(x: number, w: number, y: number, geo: number, l0: number, l1: number, work: number): void;
  /**
   * conv2d's weight gradient dW [O, C KH KW] over output positions [r0, r1) of all images (r = b OH OW
   * + l): ct [B, O, OH OW] times the columns of x [B, C, H, W], stored at dw; same geometry as conv2d.
   */
  conv2d_wgrad(x: number, ct: number, dw: number, geo: number, r0: number, r1: number, work: number): void;
  /**
   * BatchNorm's channel loops over x [B, C, S] (float32; per-channel arrays float64), see gemm.wat:
   * acc[c] += sum of x; acc[c] += sum of (x - mean[c])^2; a[c] += sum of h and s[c] += sum of
   * h (x - mean[c]), h = g or (mask) reluGrad(r, g); and ch_map's elementwise forms.
   */
  ch_sum(x: number, B: number, C: number, S: number, acc: number): void;
  ch_sqdev(x: number, B: number, C: number, S: number, mean: number, acc: number): void;
  ch_gsums(x: number, g: number, r: number, mask: number, B: number, C: number, S: number, mean: number, a: number, s: number): void;
  ch_map(x: number, g: number, r: number, y: number, affine: number, mask: number, B: number, C: number, S: number,
    mean: number, k1: number, k2: number, k3: number): void;
  /**
   * fold (col2im) of P planes of n float32 columns at x into P planes of S float32 at y: run r (dst, src,
   * len: three i32 at runs + 12 r) adds columns [dst, dst + len) into sums src, src + step, ... (S
   * float64 of scratch at acc). See gemm.wat.
   */
  fold_runs(x: number, P: number, n: number, runs: number, R: number, step: number, acc: number, S: number, y: number): void;
  /** dst[0:n] += src[0:n], float32 */
  add_to(dst: number, src: number, n: number): void;
  /** bytes of scratch space each thread needs */
  scratch_bytes(): number;
}

export function loadGemmModule(): WebAssembly.Module | undefined {
  if (env('AVID_GEMM') === 'js') return undefined;
  const bytes = platform.gemmWasm();
  if (!bytes) return undefined;
  try {
    return new WebAssembly.Module(bytes);
  } catch {
    return undefined;
  }
}

/** One instance of the module over `memory`; each thread makes its own over the same memory. */
export const instantiate = (module: WebAssembly.Module, memory: WebAssembly.Memory): GemmExports =>
  new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
