/**
 * What core/ needs from its host that plain JavaScript does not give: threads, reading the compiled
 * GEMM module, loading gpu.js, environment variables. `node.ts` gives these in Node; `browser.ts` is
 * what bundlers swap in for it (package.json "browser" field), so nothing Node-only is imported,
 * let alone run, in a page. Code under core/ imports `./platform/node.js` and nothing else Node-only.
 */
export interface Platform {
  /** Worker threads for the CPU pool (Node's worker_threads API), or undefined: stay on one thread. */
  threads?: {
    cores(): number;
    Worker: typeof import('node:worker_threads').Worker;
    MessageChannel: typeof import('node:worker_threads').MessageChannel;
  };
  /** The bytes of the compiled GEMM (core/cpu/wasm/gemm.wasm), read synchronously; undefined if it cannot. */
  gemmWasm(): Uint8Array<ArrayBuffer> | undefined;
  /** gpu.js's exports; throws with the reason where it cannot be loaded. */
  gpuJs(): typeof import('gpu.js');
  /** The gpu.js mode to ask for unless AVID_GPU_MODE says otherwise: 'headlessgl' in Node, 'gpu' (its best of WebGL2, WebGL) in a page. */
  gpuMode: string;
}

/** An environment variable, or undefined where there is no `process` (a browser). */
export const env = (name: string): string | undefined => globalThis.process?.env?.[name];
