/**
 * Compile gemm.wat to gemm.wasm with wabt (wat2wasm compiled to JavaScript, from npm). Run by
 * `npm install` (postinstall) and before `npm test` (pretest), or by hand after editing the .wat:
 * `node core/cpu/wasm/build.mjs`. The .wasm is a build product and is not committed.
 *
 * Without wabt (an install that left it out) this says so and exits 0: the library then runs the
 * JavaScript GEMM. A .wat that does not compile is an error (exit 1), so CI sees it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));
const features = { simd: true, threads: true, bulk_memory: true };

let wabt;
try {
  wabt = await createRequire(import.meta.url)('wabt')();
} catch {
  console.warn('core/cpu/wasm: wabt is not installed; the CPU backend will use the JavaScript GEMM');
  process.exit(0);
}

const mod = wabt.parseWat('gemm.wat', readFileSync(here('gemm.wat'), 'utf8'), features);
try {
  mod.validate(features);
  // write then rename, so that a process loading gemm.wasm meanwhile never sees half a file
  writeFileSync(here(`gemm.wasm.${process.pid}`), mod.toBinary({}).buffer);
  renameSync(here(`gemm.wasm.${process.pid}`), here('gemm.wasm'));
} finally {
  mod.destroy();
}
