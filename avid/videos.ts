/**
 * A folder of your own videos as training and test sources (see avid/folder.ts for the layout).
 *
 * Opening probes every file with ffprobe (in parallel, remembered in the cache) and leaves out, with one warning each, what
 * cannot serve: not a video, no audio track, shorter than a window, unreadable. Clips are decoded by
 * ffmpeg on demand into a bounded disk cache (avid/ffmpeg.ts): `prepare` starts the decodes a batch
 * needs and the training loop asks for the next batch before running this one, so ffmpeg works
 * beside the training step. A file that passes the probe but fails to decode (a truncated upload,
 * say) is left out from then on, the same way on every run, and counted in `skipped()`.
 *
 * `const {train, test} = await openVideos('~/videos', clipConfig)`
 */
import { cpus } from 'node:os';
import * as E from 'fp-ts/lib/Either.js';
import { checkFfmpeg, type Decoded, defaultCacheDir, type DecodeSettings, openCache, type Probe } from './ffmpeg.js';
import { type Item, listFolder, type Listing } from './folder.js';
import { audioStats, type ClipConfig, decodedSource, type FreqStats, minSeconds, type Source } from './source.js';

export interface VideoOptions {
  /** decoded-clip cache folder (default ~/.cache/avid-fn) and its size bound in bytes (default 4 GB) */
  cacheDir?: string;
  cacheBytes?: number;
  /** ffmpeg processes at once (default: the CPU count) */
  concurrency?: number;
  /** decode at most this many seconds of each file (default 10) */
  maxSeconds?: number;
  /** spectrogram statistics to use (a run's); default: computed from up to 64 training clips */
  stats?: FreqStats;
  /** where warnings go (default console.warn) */
  warn?: (line: string) => void;
}

export interface Skip { file: string; reason: string }

export interface VideoData {
  listing: Listing;
  /** the train/ split, or the whole folder when it has no splits */
  train: Source;
  /** the test/ split, if the folder has one */
  test?: Source;
  /** files left out so far (decoding can add more) */
  skipped(): readonly Skip[];
}

/** Frames are decoded a bit larger than the network input, so random crops keep some detail. */
export const decodeSize = (cfg: ClipConfig) => Math.ceil(cfg.size * 1.5);

/** A counting semaphore: at most `n` tasks run at once, the rest queue in call order. */
function limiter(n: number) {
  let running = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((go) => queue.push(go));
    running++;
    try { return await task(); } finally { running--; queue.shift()?.(); }
  };
}

/**
 * Open the dataset folder `dir` for clips of `cfg`: probe, leave out what cannot serve, and return
 * its splits as sources. Throws a clear error for a missing or empty folder, or a missing ffmpeg.
 */
export async function openVideos(dir: string, cfg: ClipConfig, o: VideoOptions = {}): Promise<VideoData> {
  const listing = listFolder(dir);
  if (E.isLeft(listing)) throw new Error(listing.left);
  checkFfmpeg();
  const warn = o.warn ?? ((line: string) => console.warn(line));
  const concurrency = o.concurrency ?? cpus().length;
  const settings: DecodeSettings = { fps: cfg.fps, size: decodeSize(cfg), sampleRate: cfg.sampleRate, maxSeconds: o.maxSeconds ?? 10 };
  const cache = openCache(o.cacheDir ?? defaultCacheDir(), o.cacheBytes ?? 4e9);
  const skipped: Skip[] = [];
  const skip = (item: Item, reason: string) => { skipped.push({ file: item.name, reason }); warn(`skipping ${item.name}: ${reason}`); };

  // probe everything (ffprobe reads headers only), keep what can give a whole window
  const need = minSeconds(cfg);
  const probeLimit = limiter(2 * concurrency); // ffprobe reads headers only: more at once pays
  const probed = await Promise.all([...listing.right.splits.train, ...listing.right.splits.test].map(async (item) => ({ item, p: await probeLimit(() => cache.probe(item.path)) })));
  const usable = new Map<string, Probe>();
  for (const { item, p } of probed) {
    if (E.isLeft(p)) skip(item, p.left);
    else if (Math.min(p.right.duration, settings.maxSeconds) < need) skip(item, `shorter than a window (${p.right.duration.toFixed(2)} s < ${need} s)`);
    else usable.set(item.path, p.right);
  }

  const limit = limiter(concurrency);
  const pending = new Map<string, Promise<void>>(), bad = new Set<string>();
  /** decode `item` once (through the cache); a failure is remembered and reported once */
  const ensure = (item: Item): Promise<void> => {
    let p = pending.get(item.path);
    if (!p) {
      p = limit(() => cache.ensure(item.path, settings, usable.get(item.path))).then((r) => { if (E.isLeft(r)) { bad.add(item.path); skip(item, r.left); } });
      pending.set(item.path, p);
    }
    return p;
  };
  const load = (item: Item): Decoded => {
    const d = cache.load(item.path, settings);
    if (!d) throw new Error(`${item.name} is not decoded: call await source.prepare([...]) (or avid's fit/evaluate, which do) first`);
    return d;
  };

  const { classes } = listing.right;
  const sourceOf = (items: Item[], stats: FreqStats): Source => decodedSource(cfg, {
    n: items.length, load: (i) => load(items[i]), stats, classes,
    labels: Int32Array.from(items, (it) => it.label), names: items.map((it) => it.name),
    durations: items.map((it) => Math.min(usable.get(it.path)!.duration, settings.maxSeconds)),
    async prepare(indices) {
      await Promise.all(indices.map((i) => ensure(items[i])));
      return new Set(indices.filter((i) => bad.has(items[i].path)));
    },
    skipped: () => skipped,
  });

  const hasSplits = listing.right.splits.test.length > 0;
  const pick = (items: Item[]) => items.filter((it) => usable.has(it.path));
  const trainItems = pick(listing.right.splits.train), testItems = pick(listing.right.splits.test);
  if (trainItems.length === 0) throw new Error(`${dir}: no usable training videos (${skipped.length} skipped: ${skipped.slice(0, 3).map((s) => `${s.file}: ${s.reason}`).join('; ')})`);

  let stats = o.stats;
  if (!stats) {
    // the statistics come from up to 64 evenly spread training clips that decode
    const m = Math.min(trainItems.length, 64), picks = Array.from({ length: m }, (_, j) => trainItems[Math.floor((j * trainItems.length) / m)]);
    await Promise.all(picks.map(ensure));
    const good = picks.filter((it) => !bad.has(it.path));
    if (good.length === 0) throw new Error(`${dir}: none of the training videos decodes`);
    stats = audioStats(cfg, (j) => load(good[j]).audio, good.length);
  }
  return {
    listing: listing.right,
    train: sourceOf(trainItems, stats),
    test: hasSplits && testItems.length > 0 ? sourceOf(testItems, stats) : undefined,
    skipped: () => skipped,
  };
}
