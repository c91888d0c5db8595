/**
 * The package as a Node user gets it: `import * as np from 'avid-fn'` (and 'avid-fn/nn',
 * 'avid-fn/avid') with plain `node`, no tsx loader, through package.json's "exports".
 *
 * It builds the package the way `npm run build` does (tsc -p tsconfig.build.json, then gemm.wasm
 * beside the compiled loader) into a temporary node_modules/avid-fn that holds only what "files"
 * ships (dist, the bin launcher) and package.json, with the repo's node_modules for its
 * dependencies; the repo's own dist/ is left alone. A child `node` in a temporary app then imports
 * the three entries by name, runs a matmul and a grad (on the WASM GEMM), an nn layer's gradient
 * and an AVID loss, and the `avid` command runs from dist. A TypeScript file in the app
 * typechecks against the shipped .d.ts.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'avid-pkg-'));
test.onFinish(() => rmSync(tmp, { recursive: true, force: true }));

const app = join(tmp, 'app'), installed = join(app, 'node_modules', 'avid-fn');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// plain node: no loader from the test runner's environment (NODE_OPTIONS) either
const env = { ...process.env, NODE_OPTIONS: '' };
const node = (args: string[], cwd = app) => spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8' });

test('the package builds into a node_modules/avid-fn holding only what it ships', (t) => {
  t.equal(pkg.name, 'avid-fn', 'named avid-fn');
  t.deepEqual(pkg.files, ['dist', 'avid/bin.mjs'], 'ships dist and the bin launcher');
  const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')], { encoding: 'utf8' });
  t.equal(build.status, 0, build.status === 0 ? 'tsc -p tsconfig.build.json builds' : `build failed:\n${build.stdout}${build.stderr}`);
  const wasm = node([join(root, 'core/cpu/wasm/build.mjs'), join(installed, 'dist/core/cpu/wasm')], root);
  t.equal(wasm.status, 0, `gemm.wasm built beside the compiled loader ${wasm.stderr}`);
  mkdirSync(join(installed, 'avid'), { recursive: true });
  copyFileSync(join(root, 'avid/bin.mjs'), join(installed, 'avid/bin.mjs'));
  writeFileSync(join(installed, 'package.json'), JSON.stringify(pkg));
  symlinkSync(join(root, 'node_modules'), join(installed, 'node_modules'));
  for (const [entry, target] of Object.entries(pkg.exports as Record<string, string | Record<string, string>>)) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
      t.ok(existsSync(join(installed, file)), `exports '${entry}' -> ${file} exists`);
    }
  }
  t.end();
});

test("plain node imports 'avid-fn', 'avid-fn/nn' and 'avid-fn/avid' and they work", (t) => {
  writeFileSync(join(app, 'use.mjs'), `
import * as np from 'avid-fn';
import * as nn from 'avid-fn/nn';
import * as avid from 'avid-fn/avid';
const a = np.tensor([[1, 2], [3, 4]]);
const key = np.random.key(0);
const dense = nn.Dense(3);
const params = dense.init(key, [2, 2]).params;
const loss = (p) => np.sum(np.square(dense.apply(p, {}, a, { train: false }).y));
const g = np.grad(loss)(params);
const x = np.l2Normalize(np.random.normal(key, [4, 8]), -1);
const nce = avid.infoNce(x, x, np.reshape(x, [4, 1, 8]), { temperature: 0.1 });
console.log(JSON.stringify({
  loaders: process.execArgv, gemm: np.gemmKernel(),
  matmul: np.matmul(a, a).toArray().flat(), grad: np.grad((v) => np.sum(np.mul(v, v)))(np.tensor([1, 2])).toArray(),
  dense: np.treeLeaves(g).map((l) => l.shape), nce: nce.item(), model: typeof avid.avidModel(avid.tinyModel).init,
}));
`);
  const r = node(['use.mjs']);
  t.equal(r.status, 0, r.status === 0 ? 'ran' : `failed:\n${r.stderr.slice(0, 3000)}`);
  const out = r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').pop()!) : {};
  t.deepEqual(out.loaders, [], 'no tsx or other loader in the child');
  t.equal(out.gemm, 'wasm-simd', 'float32 matmul runs the shipped gemm.wasm');
  t.deepEqual(out.matmul, [7, 10, 15, 22], 'a matmul');
  t.deepEqual(out.grad, [2, 4], 'a grad');
  t.deepEqual(out.dense, [[3], [3, 2]], "nn.Dense's gradient has its params' shapes (bias, weight [out, in])");
  t.ok(Number.isFinite(out.nce), `avid.infoNce gives a number (${out.nce})`);
  t.equal(out.model, 'function', 'avid.avidModel builds a model');
  t.end();
});

test('the avid command runs from dist, and a TypeScript user typechecks against the .d.ts', (t) => {
  const r = node([join(installed, 'avid/bin.mjs'), '--help']);
  t.ok(r.status === 0 && /Usage: avid/.test(r.stdout), `avid --help from the installed package ${r.stderr.slice(0, 2000)}`);
  writeFileSync(join(app, 'use.ts'), `
import * as np from 'avid-fn';
import * as nn from 'avid-fn/nn';
import { crossAvid, type Objective } from 'avid-fn/avid';
const y: np.Tensor = np.matmul(np.ones([2, 2]), np.ones([2, 2]));
const layer: nn.Layer = nn.Dense(2);
const o: Objective = crossAvid;
// @ts-expect-error the types are real: matmul wants tensors
np.matmul('a', y);
export { layer, o };
`);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    files: ['use.ts'],
  }));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const c = spawnSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8' });
  t.equal(c.status, 0, c.status === 0 ? 'use.ts typechecks against the package types' : `type errors:\n${c.stdout.slice(0, 3000)}`);
  t.end();
});
