/**
 * Builds the playground (examples/playground/: index.html and playground.ts, bundled by esbuild for
 * the browser with code splitting, so Graphviz loads only when the Graph tab opens) into a folder of
 * static files with gpu.js's browser build beside them, and serves that folder on localhost.
 * `npm run playground` (options: --port N, default 8080, 0 for any free port; --out DIR to keep the
 * built files, which any static server can serve). spec/browser/playground.spec.ts uses build and serve.
 */
import { createServer, type Server } from 'node:http';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

/** Bundle the page into `dir` (index.html, playground.js and its chunks, gpu-browser.min.js). */
export async function build(dir: string): Promise<void> {
  const esbuild = await import('esbuild');
  mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: { playground: join(here, 'playground.ts') }, bundle: true, platform: 'browser', format: 'esm', splitting: true,
    outdir: dir, logLevel: 'error', target: 'es2022', minify: true, sourcemap: true,
  });
  copyFileSync(join(here, 'index.html'), join(dir, 'index.html'));
  copyFileSync(join(require.resolve('gpu.js'), '..', '..', 'dist', 'gpu-browser.min.js'), join(dir, 'gpu-browser.min.js'));
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html; charset=utf-8', '.map': 'application/json', '.wasm': 'application/wasm' };

/** Serve `dir`'s files on 127.0.0.1:`port` (0: any free port). */
export function serve(dir: string, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const file = /^[\w.-]+$/.test(name) ? join(dir, name) : undefined;
    if (!file || !existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const out = arg('--out') ? resolve(arg('--out')!) : mkdtempSync(join(tmpdir(), 'avid-playground-'));
  // a temp folder of ours goes when the server stops; an --out folder stays
  const stop = () => { if (!arg('--out')) rmSync(out, { recursive: true, force: true }); process.exit(0); };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  const t0 = Date.now();
  await build(out);
  const { url } = await serve(out, Number(arg('--port') ?? process.env.PORT ?? 8080));
  console.log(`built the playground into ${out} in ${Date.now() - t0} ms`);
  console.log(`serving it at ${url}  (open it in a browser with WebGL2; Ctrl+C stops)`);
}
