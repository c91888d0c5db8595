/**
 * Compile gemm.wat to gemm.wasm with wabt (wat2wasm compiled to JavaScript, from npm). Run by
 * `npm run build` (so by `npm install`/`npm ci` in a clone, through `prepare`) and before `npm test`
 * (pretest), or by hand after editing the .wat: `node core/cpu/wasm/build.mjs`. It writes gemm.wasm
 * here, and a copy into each folder given as an argument (the package build: dist/core/cpu/wasm).
 * The .wasm is a build product and is not committed.
 *
 * Without wabt (an install that left it out) this says so and exits 0: the library then runs the
 * JavaScript GEMM. A .wat that does not compile is an error (exit 1), so CI sees it.
 */
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
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
for (const dir of process.argv.slice(2)) {
  mkdirSync(dir, { recursive: true });
  copyFileSync(here('gemm.wasm'), join(dir, `gemm.wasm.${process.pid}`));
  renameSync(join(dir, `gemm.wasm.${process.pid}`), join(dir, 'gemm.wasm'));
}
