/**
 * The avid-fn/avid entry in a browser bundle (issue 10): package.json's "browser" field swaps
 * avid/index.ts for avid/index.browser.ts, which exports the same names, the Node-only ones as stubs
 * that throw. Here esbuild bundles avid/index.ts for the browser and the bundle must hold none of the
 * modules that read files, spawn ffmpeg or draw a terminal progress bar; and the browser entry must
 * export exactly the Node entry's names. Needs only esbuild (no browser).
 */
import test from 'tape';
import { fileURLToPath } from 'node:url';
import { needPackage } from '../tools.js';
import * as avidNode from '../../avid/index.js';
import * as avidBrowser from '../../avid/index.browser.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Modules a page must not pull in: each reads or writes files, runs a process, or needs a terminal. */
const NODE_ONLY = ['avid/ffmpeg.ts', 'avid/videos.ts', 'avid/folder.ts', 'avid/fit.ts', 'avid/main.ts', 'avid/run.ts', 'avid/jobs.ts', 'avid/cli.ts',
  'avid/options.ts', 'avid/torch.ts', 'avid/safetensors.ts', 'avid/export.ts', 'avid/report.ts', 'avid/png.ts', 'nn/checkpoint.ts', 'core/platform/node.ts'];

if (needPackage(test, 'esbuild')) {
  test('the browser entry of avid-fn/avid exports the same names as the Node entry', (t) => {
    const node = Object.keys(avidNode).sort(), browser = Object.keys(avidBrowser).sort();
    t.deepEqual(browser, node, `${node.length} names in both`);
    for (const k of node) {
      const a = (avidNode as Record<string, unknown>)[k], b = (avidBrowser as Record<string, unknown>)[k];
      if (typeof a !== typeof b) t.fail(`${k}: ${typeof a} in Node, ${typeof b} in the browser entry`);
    }
    t.throws(() => avidBrowser.fit(undefined as never, undefined as never, undefined as never, undefined as never, undefined as never),
      /fit runs in Node only .*trainStep/, 'a Node-only name throws saying so and what to use in a page');
    t.equal(avidBrowser.trainStep, avidNode.trainStep, 'trainStep is the real one');
    t.end();
  });

  test('esbuild bundles avid/index.ts for the browser without a Node-only module', async (t) => {
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: ['avid/index.ts'], absWorkingDir: root, bundle: true, platform: 'browser', format: 'esm', write: false,
      metafile: true, logLevel: 'silent', target: 'es2022',
    }).catch((e: { errors?: { text: string; location?: { file: string } }[] }) => {
      t.fail(`the bundle failed: ${(e.errors ?? []).map((m) => `${m.location?.file}: ${m.text}`).join('; ') || e}`);
      return undefined;
    });
    if (!r) { t.end(); return; }
    const inputs = Object.keys(r.metafile!.inputs);
    t.ok(inputs.includes('avid/index.browser.ts') && !inputs.includes('avid/index.ts'), 'the "browser" field swapped in avid/index.browser.ts');
    for (const m of ['avid/train.ts', 'avid/model.ts', 'avid/data.ts', 'avid/source.ts', 'avid/objectives.ts', 'avid/nce.ts', 'avid/bank.ts']) {
      t.ok(inputs.includes(m), `${m} is in the bundle`);
    }
    t.deepEqual(inputs.filter((p) => NODE_ONLY.includes(p)), [], 'no Node-only module of the repo');
    t.deepEqual(inputs.filter((p) => /node_modules\/(cli-progress|commander|vega|vega-lite|umap-js)\//.test(p)), [], 'no CLI or report dependency');
    t.comment(`${inputs.length} inputs, ${(r.outputFiles![0].contents.length / 1024).toFixed(0)} KiB`);
    t.end();
  });
}
