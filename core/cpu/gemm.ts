/**
 * GEMM for the CPU backend: C[i, j] = sum_k A[i, k] B[k, j] for rows i in [i0, i1).
 *
 * Goto's blocking, in plain JavaScript: pack a KC x NC block of B into 4-column panels and an MC x KC
 * block of A into 4-row panels (both as float64, k-major, zero-padded), then a 4x4 register-tiled
 * micro-kernel keeps 16 accumulators in registers while it streams one A panel against one B panel
 * that sits in L1. A and B are read through (row stride, column stride) pairs, so a transposed
 * operand costs nothing extra: the packing absorbs it.
 *
 * The function is self-contained (no imports, no closures) because worker threads compile it from its
 * source text; keep it that way. float32 normally runs on the WebAssembly SIMD kernel (wasm/gemm.wat,
 * same blocking, 4x8 tile, float32 sums); this one serves float64, runs when the wasm module is
 * missing (or AVID_GEMM=js), and is the reference the tests hold that kernel to.
 */
export function gemm(
  A: ArrayLike<number>, aOff: number, ars: number, acs: number,
  B: ArrayLike<number>, bOff: number, brs: number, bcs: number,
  C: { [i: number]: number; length: number }, cOff: number,
  M: number, N: number, K: number, i0: number, i1: number,
): void {
  if (i1 <= i0 || N === 0) return;
  if (K === 0) { for (let i = i0; i < i1; i++) for (let j = 0; j < N; j++) C[cOff + i * N + j] = 0; return; }
  // small problems: the packing would cost more than it saves
  if ((i1 - i0) * N * K < 4096) {
    for (let i = i0; i < i1; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[aOff + i * ars + k * acs] * B[bOff + k * brs + j * bcs];
        C[cOff + i * N + j] = s;
      }
    }
    return;
  }
  const KC = 256, MC = 64, NC = 512;
  const Ap = new Float64Array(MC * KC);
  const Bp = new Float64Array(KC * NC);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      // pack B[pc:pc+kc, jc:jc+nc] into panels of 4 columns: Bp[jp*kc*4 + k*4 + c]
      for (let jp = 0; jp < nc; jp += 4) {
        const base = jp * kc, w = Math.min(4, nc - jp);
        for (let k = 0; k < kc; k++) {
          const src = bOff + (pc + k) * brs + (jc + jp) * bcs, dst = base + k * 4;
          for (let c = 0; c < 4; c++) Bp[dst + c] = c < w ? B[src + c * bcs] : 0;
        }
      }
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = Math.min(MC, i1 - ic);
        // pack A[ic:ic+mc, pc:pc+kc] into panels of 4 rows: Ap[ip*kc*4 + k*4 + r]
        for (let ip = 0; ip < mc; ip += 4) {
          const base = ip * kc, h = Math.min(4, mc - ip);
          for (let r = 0; r < 4; r++) {
            if (r < h) {
              const src = aOff + (ic + ip + r) * ars + pc * acs;
              for (let k = 0; k < kc; k++) Ap[base + k * 4 + r] = A[src + k * acs];
            } else {
              for (let k = 0; k < kc; k++) Ap[base + k * 4 + r] = 0;
            }
          }
        }
        for (let jp = 0; jp < nc; jp += 4) {
          const w = Math.min(4, nc - jp);
          for (let ip = 0; ip < mc; ip += 4) {
            const h = Math.min(4, mc - ip);
            let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            let pa = ip * kc, pb = jp * kc;
            for (let k = 0; k < kc; k++) {
              const a0 = Ap[pa], a1 = Ap[pa + 1], a2 = Ap[pa + 2], a3 = Ap[pa + 3];
              const b0 = Bp[pb], b1 = Bp[pb + 1], b2 = Bp[pb + 2], b3 = Bp[pb + 3];
              c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
              c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
              c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
              c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
              pa += 4; pb += 4;
            }
            const o = cOff + (ic + ip) * N + jc + jp;
            if (h === 4 && w === 4) {
              if (pc === 0) {
                C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03;
                C[o + N] = c10; C[o + N + 1] = c11; C[o + N + 2] = c12; C[o + N + 3] = c13;
                C[o + 2 * N] = c20; C[o + 2 * N + 1] = c21; C[o + 2 * N + 2] = c22; C[o + 2 * N + 3] = c23;
                C[o + 3 * N] = c30; C[o + 3 * N + 1] = c31; C[o + 3 * N + 2] = c32; C[o + 3 * N + 3] = c33;
              } else {
                C[o] += c00; C[o + 1] += c01; C[o + 2] += c02; C[o + 3] += c03;
                C[o + N] += c10; C[o + N + 1] += c11; C[o + N + 2] += c12; C[o + N + 3] += c13;
                C[o + 2 * N] += c20; C[o + 2 * N + 1] += c21; C[o + 2 * N + 2] += c22; C[o + 2 * N + 3] += c23;
                C[o + 3 * N] += c30; C[o + 3 * N + 1] += c31; C[o + 3 * N + 2] += c32; C[o + 3 * N + 3] += c33;
              }
            } else {
              const t = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
              for (let r = 0; r < h; r++) {
                for (let c = 0; c < w; c++) {
                  C[o + r * N + c] = (pc === 0 ? 0 : C[o + r * N + c]) + t[r * 4 + c];
                }
              }
            }
          }
        }
      }
    }
  }
}
