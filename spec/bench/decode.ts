/**
 * `npx tsx spec/bench/decode.ts [--big] [--clips N]`: how fast real clips become frames and audio.
 * Decodes N fixture clips (default 200 of 64x48 x 3 s; --big: 100 of 320x240 x 10 s) at size 48, 16 fps,
 * 16 kHz with decodeAll (concurrency 2) into an empty cache (cold, clips/s), then reads every one back
 * with the cache's synchronous load (clips/s). The clips are made once by spec/avid/fixtures.ts and kept
 * in the temporary folder for the next run.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { decodeAll, openCache, type DecodeSettings } from '../../avid/ffmpeg.js';
import { listFolder } from '../../avid/folder.js';
import { makeVideoDataset } from '../avid/fixtures.js';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1]; };
const big = process.argv.includes('--big');
const [width, height, seconds] = big ? [320, 240, 10] : [64, 48, 3];
const clips = Number(arg('--clips') ?? (big ? 100 : 200)), classes = 4;
const s: DecodeSettings = { fps: 16, size: 48, sampleRate: 16000, maxSeconds: 10 };

const data = join(tmpdir(), `avid-bench-decode-${width}x${height}-${seconds}s-${clips}`);
if (!fs.existsSync(join(data, 'done'))) {
  const t0 = performance.now();
  makeVideoDataset(data, { classes, perClass: { train: Math.ceil(clips / classes), test: 0 }, seconds, width, height, damaged: false });
  fs.writeFileSync(join(data, 'done'), '');
  console.log(`made ${clips} clips in ${data} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const listing = listFolder(data);
if (E.isLeft(listing)) throw new Error(listing.left);
const files = listing.right.splits.train.map((it) => it.path).slice(0, clips);

const cacheDir = fs.mkdtempSync(join(tmpdir(), 'avid-bench-cache-'));
try {
  const cache = openCache(cacheDir, 2 ** 34);
  let t0 = performance.now();
  const results = await decodeAll(files, s, cache, { concurrency: 2 });
  const cold = (performance.now() - t0) / 1000, failed = results.filter(E.isLeft).length;
  t0 = performance.now();
  let bytes = 0;
  for (const f of files) bytes += cache.load(f, s)?.frames.length ?? 0;
  const warm = (performance.now() - t0) / 1000;
  console.log(`${files.length} clips of ${width}x${height} x ${seconds} s (mp4 and webm) -> ${s.size}x${s.size} at ${s.fps} fps, ${s.sampleRate} Hz; ${failed} failed`);
  console.log(`cold, decodeAll concurrency 2: ${(files.length / cold).toFixed(1)} clips/s (${cold.toFixed(1)} s)`);
  console.log(`cached, load: ${(files.length / warm).toFixed(0)} clips/s (${(warm * 1000).toFixed(0)} ms, ${(cache.bytes() / 2 ** 20).toFixed(0)} MiB cache, ${(bytes / 2 ** 20).toFixed(0)} MiB of frames)`);
} finally {
  fs.rmSync(cacheDir, { recursive: true, force: true });
}
