/**
 * The browser platform (see platform.ts), swapped in for node.ts by bundlers through package.json's
 * "browser" field: one CPU thread (Atomics.wait is refused on a page's main thread, and shared memory
 * needs a cross-origin isolated page), running the WebAssembly SIMD GEMM in its single-thread build
 * (plain memory; its 6 KB come inside the bundle, see ../cpu/wasm/build.mjs), and gpu.js only if the
 * page has loaded its browser build (gpu-browser.js, which defines globalThis.GPU), on WebGL2 where
 * the browser has it.
 */
import type { Platform } from './platform.js';
import { singleThreadGemm } from '../cpu/wasm/gemm.bytes.js';

export const platform: Platform = {
  threads: undefined,
  gemmWasm: () => (singleThreadGemm ? Uint8Array.from(atob(singleThreadGemm), (c) => c.charCodeAt(0)) : undefined),
  gpuJs() {
    const GPU = (globalThis as { GPU?: unknown }).GPU;
    if (!GPU) throw new Error('gpu.js is not loaded in this page (load gpu-browser.js, which defines globalThis.GPU)');
    // the browser build's GPU carries gpu.js's other exports (WebGL2Kernel, ...) as its own properties
    return GPU as typeof import('gpu.js');
  },
  // gpu.js tries WebGL2, then WebGL (then its WebAssembly mode, which the backend's kernel-class check refuses)
  gpuMode: 'gpu',
};
