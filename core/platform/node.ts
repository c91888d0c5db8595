/**
 * The Node platform (see platform.ts): worker_threads for the CPU pool, node:fs for gemm.wasm, and
 * gpu.js through require (it is CommonJS and pulls in headless-gl, so it is loaded only when the GPU
 * is first used). Bundlers for the browser replace this file with browser.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Platform } from './platform.js';

export const platform: Platform = {
  threads: { cores: availableParallelism, Worker, MessageChannel },
  gemmWasm() {
    // the same relative path in the source tree and in dist/
    try { return readFileSync(new URL('../cpu/wasm/gemm.wasm', import.meta.url)); } catch { return undefined; }
  },
  gpuJs: () => createRequire(import.meta.url)('gpu.js'),
  gpuMode: 'headlessgl',
};
