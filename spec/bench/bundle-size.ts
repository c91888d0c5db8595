/**
 * `npx tsx spec/bench/bundle-size.ts`: what a page loads, minified and gzipped, as esbuild bundles it
 * for the browser (package.json's "browser" field swaps in the browser platform), beside jax-js and
 * tfjs bundled the same way from node_modules. Code split as a page's bundler would: a lazily
 * imported module (Graphviz for toSvg, 1.5 MB of WebAssembly) is its own chunk, fetched on first use,
 * and is printed apart. gpu.js is loaded beside our bundle as its own browser build (a script that
 * defines globalThis.GPU), so its file is printed apart too.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const esbuild = await import('esbuild');
type Size = { min: number; gz: number };
const measure = (code: Uint8Array): Size => ({ min: code.length, gz: gzipSync(code, { level: 9 }).length });

/** The entry chunk (with the chunks it imports statically) and the lazy chunks, of a bundle of `contents`. */
async function bundle(contents: string): Promise<{ entry: Size; lazy: Size }> {
  const r = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' }, bundle: true, platform: 'browser', format: 'esm', minify: true,
    splitting: true, outdir: '/tmp/avid-bundle-size', write: false, logLevel: 'silent', target: 'es2022', metafile: true,
  });
  const outs = r.metafile.outputs, byPath = new Map(r.outputFiles.map((f) => [f.path, f.contents]));
  const entryKey = Object.keys(outs).find((k) => outs[k].entryPoint)!;
  const eager = new Set<string>([entryKey]);
  for (const k of eager) for (const imp of outs[k].imports) if (imp.kind === 'import-statement') eager.add(imp.path);
  // metafile paths are relative to the working folder, output files' absolute
  const sum = (keys: string[]): Size => keys.map((k) => measure(byPath.get(resolve(k))!))
    .reduce((a, b) => ({ min: a.min + b.min, gz: a.gz + b.gz }), { min: 0, gz: 0 });
  return { entry: sum([...eager]), lazy: sum(Object.keys(outs).filter((k) => !eager.has(k) && k.endsWith('.js'))) };
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
const ours = {
  core: await bundle(`export * from './core/index.ts';`),
  all: await bundle(`export * as np from './core/index.ts'; export * as nn from './nn/index.ts'; export * as avid from './avid/index.ts';`),
};
const gpuJs = measure(readFileSync(createRequire(import.meta.url).resolve('gpu.js/dist/gpu-browser.min.js')));
const rows: [string, Size][] = [
  ['avid-fn core', ours.core.entry],
  ['avid-fn core + nn + avid', ours.all.entry],
  ['  + gpu.js browser build (loaded beside it)', gpuJs],
  ['  lazy: Graphviz for toSvg (on first use)', ours.core.lazy],
  ['jax-js (@jax-js/jax)', (await bundle(`export * from '@jax-js/jax';`)).entry],
  ['tfjs (@tensorflow/tfjs)', (await bundle(`export * from '@tensorflow/tfjs';`)).entry],
];
console.log('what a page loads'.padEnd(46), 'minified'.padStart(10), 'gzipped'.padStart(10));
for (const [name, s] of rows) console.log(name.padEnd(46), kb(s.min).padStart(10), kb(s.gz).padStart(10));
