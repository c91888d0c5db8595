/**
 * The browser platform (see platform.ts), swapped in for node.ts by bundlers through package.json's
 * "browser" field. For now: one CPU thread (Atomics.wait is refused on a page's main thread), the
 * JavaScript GEMM (gemm.wasm is not fetched), and gpu.js only if the page has loaded its browser
 * build (gpu-browser.js, which defines globalThis.GPU), on WebGL2 where the browser has it.
 */
import type { Platform } from './platform.js';

export const platform: Platform = {
  threads: undefined,
  gemmWasm: () => undefined,
  gpuJs() {
    const GPU = (globalThis as { GPU?: unknown }).GPU;
    if (!GPU) throw new Error('gpu.js is not loaded in this page (load gpu-browser.js, which defines globalThis.GPU)');
    // the browser build's GPU carries gpu.js's other exports (WebGL2Kernel, ...) as its own properties
    return GPU as typeof import('gpu.js');
  },
  // gpu.js tries WebGL2, then WebGL (then its WebAssembly mode, which the backend's kernel-class check refuses)
  gpuMode: 'gpu',
};
