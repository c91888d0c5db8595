/**
 * `npx tsx spec/bench/loading.ts [--big] [--clips N] [--epochs N]`: training clips/s of the tiny AVID
 * model (Cross-AVID, batch 16) when clips come from a folder of real videos with an empty decode cache
 * (ffmpeg works beside the step), from the same folder with the cache filled, and from the same decoded
 * clips already in memory (fromArrays). The ratio says what real data loading costs a training run.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as np from '../../core/index.js';
import { tinyData } from '../../avid/data.js';
import { type Decoded, openCache } from '../../avid/ffmpeg.js';
import { fit } from '../../avid/fit.js';
import { avidModel, tinyModel } from '../../avid/model.js';
import { crossAvid } from '../../avid/objectives.js';
import { fromArrays, type Source } from '../../avid/source.js';
import { tinyTrain } from '../../avid/train.js';
import { decodeSize, openVideos } from '../../avid/videos.js';
import { makeVideoDataset } from '../avid/fixtures.js';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1]; };
const big = process.argv.includes('--big');
const [width, height, seconds] = big ? [320, 240, 10] : [64, 48, 3];
const clips = Number(arg('--clips') ?? (big ? 100 : 200)), epochs = Number(arg('--epochs') ?? 1);
const data = join(tmpdir(), `avid-bench-loading-${width}x${height}-${seconds}s-${clips}`);
if (!fs.existsSync(join(data, 'done'))) {
  makeVideoDataset(data, { classes: 4, perClass: { train: Math.ceil(clips / 4), test: 0 }, seconds, width, height, damaged: false });
  fs.writeFileSync(join(data, 'done'), '');
}
const cfg = { ...tinyTrain, epochs };
const cacheDir = fs.mkdtempSync(join(tmpdir(), 'avid-bench-loading-cache-'));

async function time(label: string, src: Source): Promise<number> {
  const t0 = performance.now();
  const { history } = await fit(avidModel(tinyModel), crossAvid, src, cfg, { key: np.random.key(0), progress: false, log: () => {} });
  const rate = (history.length * cfg.batch) / ((performance.now() - t0) / 1000);
  console.log(`  ${label.padEnd(44)} ${rate.toFixed(1).padStart(6)} clips/s`);
  return rate;
}

try {
  console.log(`Cross-AVID, tiny model, batch ${cfg.batch}, ${epochs} epoch(s) over ${clips} clips of ${width}x${height} x ${seconds} s; ${np.cpuThreads()} cpu thread(s)`);
  const open = () => openVideos(data, tinyData, { cacheDir, warn: () => {} });
  let t0 = performance.now();
  const cold = await open();
  const opened = (performance.now() - t0) / 1000;
  const coldRate = await time(`folder, empty cache (open: ${opened.toFixed(1)} s)`, cold.train);
  t0 = performance.now();
  const warm = await open();
  const warmRate = await time(`folder, cached (open: ${((performance.now() - t0) / 1000).toFixed(1)} s)`, warm.train);
  const cache = openCache(cacheDir, 2 ** 40), s = { fps: tinyData.fps, size: decodeSize(tinyData), sampleRate: tinyData.sampleRate, maxSeconds: 10 };
  const decoded = warm.listing.splits.train.map((it) => cache.load(it.path, s)).filter((d): d is Decoded => d !== undefined);
  const memRate = await time('the same clips in memory (fromArrays)', fromArrays({ clips: decoded, stats: warm.train.stats }, tinyData));
  console.log(`  folder / memory: ${(coldRate / memRate).toFixed(2)}x cold, ${(warmRate / memRate).toFixed(2)}x cached`);
} finally {
  fs.rmSync(cacheDir, { recursive: true, force: true });
}
