/**
 * Where clips come from. A `Source` is n items, each a video with its audio; training, evaluation and
 * the CLI all take one, whatever is behind it: the built-in synthetic clips (avid/data.ts), arrays in
 * memory (`fromArrays`, here), or a folder of video files decoded by ffmpeg (avid/folder.ts).
 *
 * A source hands out *views*: a window of the clip with its augmentation (`View`), turned into what
 * the encoders see: video [3, frames, size, size] and a z-scored spectrogram [time, freq] of exactly
 * `specShape(cfg)`, whatever the file's length or codec. Decoded sources apply the view to arrays
 * here (`viewDecoded`), so a hand-written loop over your own arrays gets the same crop, flip, jitter,
 * window and offset as the built-in data.
 *
 * Windows follow AVID.md: the audio window (audioSeconds) starts at a random time per clip and epoch;
 * the video window (frames / fps) is centred on it, up to maxOffset seconds off.
 */
import * as np from '../core/index.js';
import { frequencyStats, normalizeFrequencies, spectrogramDb } from './audio.js';

/** What every clip becomes: video frames at `fps` and `size`, and audio at `sampleRate`, as a spectrogram. */
export interface ClipConfig {
  /** video frames per clip (AVID: 8) */
  frames: number;
  /** square frame size the encoders see (AVID: 112; tiny 32) */
  size: number;
  /** video frames per second (AVID: 16) */
  fps: number;
  /** audio sample rate (AVID: 24000; tiny 16000) */
  sampleRate: number;
  /** audio window in seconds (AVID: 2) */
  audioSeconds: number;
  /** log-mel bands instead of the linear spectrogram's nFft / 2 + 1 bins, if set */
  mels?: number;
  /** FFT size, a power of two (default 256: 129 bins) */
  nFft?: number;
  /** hop between spectrogram frames in seconds (default 0.02) */
  hop?: number;
}

export type FreqStats = { mean: Float32Array; std: Float32Array };

/** A view of one clip: which window, and its augmentation (AVID.md: crop, flip, colour jitter, offset, volume). */
export interface View {
  /** seconds from the clip's start where the audio window begins */
  start: number;
  /** crop box in [0, 1] coordinates: x0, y0, width, height */
  crop: [number, number, number, number];
  flip: boolean;
  /** brightness, contrast, saturation factors */
  jitter: [number, number, number];
  /** seconds the video window's centre sits off the audio window's centre */
  offset: number;
  volume: number;
}

/** The plain view: window at `start` (default 0), whole frame, no augmentation. */
export const plainView = (start = 0): View => ({ start, crop: [0, 0, 1, 1], flip: false, jitter: [1, 1, 1], offset: 0, volume: 1 });

/** Augmentation settings of training (TrainConfig has them). */
export interface AugmentConfig {
  /** random resized crop's area range (AVID: [0.08, 1]) */
  cropScale: [number, number];
  flip: boolean;
  /** how far (s) the video window may sit off the audio window's centre (AVID: 0.5) */
  maxOffset: number;
}

export interface Clip { video: Float32Array; spec: Float32Array; label: number }

export interface Source {
  readonly cfg: ClipConfig;
  readonly n: number;
  /** class of each item, -1 where unlabelled (labels are used only by evaluation) */
  readonly labels: Int32Array;
  /** class names, indexed by label */
  readonly classes: readonly string[];
  /** a display name per item (a file's path in its dataset, say) */
  readonly names: readonly string[];
  /** per-frequency statistics the spectrograms are z-scored with */
  readonly stats: FreqStats;
  /** seconds of clip `i` (windows are drawn inside it) */
  duration(i: number): number;
  /** item `i` seen through `view`, as encoder input */
  clip(i: number, view: View): Clip;
  /**
   * Make items ready (decode them), resolving to those of `indices` that turned out unusable: they
   * are left out of batches. Sources in memory have none.
   */
  prepare?(indices: readonly number[]): Promise<ReadonlySet<number>>;
  /** items dropped as unusable, with the reason, for warnings and summaries */
  skipped?(): readonly { file: string; reason: string }[];
}

/** [time frames, freq bins] of every spectrogram of `cfg`. `specShape(tinyData) // [100, 40]` */
export function specShape(cfg: ClipConfig): [number, number] {
  const nFft = cfg.nFft ?? 256, hop = Math.round((cfg.hop ?? 0.02) * cfg.sampleRate);
  const n = Math.round(cfg.audioSeconds * cfg.sampleRate);
  if (n < nFft) throw new Error(`clip config: audioSeconds ${cfg.audioSeconds} at ${cfg.sampleRate} Hz is shorter than one FFT of ${nFft}`);
  return [Math.floor((n - nFft) / hop) + 1, cfg.mels ?? nFft / 2 + 1];
}

/** The video window's length in seconds. */
export const videoSeconds = (cfg: ClipConfig) => cfg.frames / cfg.fps;

/** The longest window a view takes: a clip shorter than this cannot be used. */
export const minSeconds = (cfg: ClipConfig) => Math.max(cfg.audioSeconds, videoSeconds(cfg));

/** Log power spectrogram of exactly audioSeconds of `wave` from `start` s (zero-padded), un-normalised. */
export function rawSpectrogram(cfg: ClipConfig, wave: Float32Array, start = 0, volume = 1): Float32Array {
  const n = Math.round(cfg.audioSeconds * cfg.sampleRate), from = Math.round(start * cfg.sampleRate);
  const window = new Float32Array(n);
  for (let i = 0; i < n && from + i < wave.length; i++) if (from + i >= 0) window[i] = wave[from + i] * volume;
  return spectrogramDb(window, { sampleRate: cfg.sampleRate, nFft: cfg.nFft ?? 256, hop: cfg.hop ?? 0.02, mels: cfg.mels }).data;
}

/** Per-frequency statistics from spectrograms of the first window of up to 64 evenly spread waves. */
export function audioStats(cfg: ClipConfig, waves: (i: number) => Float32Array, n: number): FreqStats {
  const m = Math.min(n, 64), picks = Array.from({ length: m }, (_, j) => Math.floor((j * n) / m));
  return frequencyStats(picks.map((i) => rawSpectrogram(cfg, waves(i))), specShape(cfg)[1]);
}

const uniforms = (key: np.Key, n: number) => Array.from(np.random.bits(key, n), (w) => w / 2 ** 32);

/**
 * A random view of a clip lasting `duration` s: audio window anywhere in the clip; random resized crop
 * (area in cropScale, aspect 3/4..4/3), flip with probability 1/2, colour jitter +-0.4, video offset
 * U(-maxOffset, maxOffset), volume x U(0.9, 1.1): each drawn from its own random bits.
 * `randomView(random.key(0), 10, tinyData, tinyTrain)`
 */
export function randomView(key: np.Key, duration: number, cfg: ClipConfig, aug: AugmentConfig): View {
  const u = uniforms(key, 10);
  const [lo, hi] = aug.cropScale, area = lo + (hi - lo) * u[0];
  const aspect = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * u[1]);
  const w = Math.min(1, Math.sqrt(area * aspect)), h = Math.min(1, Math.sqrt(area / aspect));
  return {
    start: Math.max(0, duration - cfg.audioSeconds) * u[8],
    crop: [(1 - w) * u[2], (1 - h) * u[3], w, h],
    flip: aug.flip && u[4] < 0.5,
    jitter: [0.6 + 0.8 * u[5], 0.6 + 0.8 * u[6], 0.6 + 0.8 * u[7]],
    offset: (2 * u[9] - 1) * aug.maxOffset,
    volume: 0.9 + 0.2 * uniforms(np.random.foldIn(key, 1), 1)[0],
  };
}

/** `count` plain views with audio windows evenly spaced over a clip of `duration` s (evaluation's windows). */
export function evalViews(duration: number, cfg: ClipConfig, count: number): View[] {
  const room = Math.max(0, duration - cfg.audioSeconds);
  return Array.from({ length: count }, (_, k) => plainView(count === 1 ? room / 2 : (room * k) / (count - 1)));
}

/** Where the video window starts for `view` of a clip of `duration` s (kept inside the clip). */
export function videoStart(cfg: ClipConfig, view: View, duration: number): number {
  const s = view.start + cfg.audioSeconds / 2 - videoSeconds(cfg) / 2 + view.offset;
  return Math.min(Math.max(0, s), Math.max(0, duration - videoSeconds(cfg)));
}

/** A clip decoded to arrays: RGB frames [t, h, w, 3] (uint8 0..255, or float 0..1) at cfg.fps, mono audio at cfg.sampleRate. */
export interface Decoded {
  frames: Uint8Array | Float32Array;
  t: number;
  h: number;
  w: number;
  audio: Float32Array;
}

/** Seconds of a decoded clip: the shorter of its video and its audio. */
export const decodedSeconds = (cfg: ClipConfig, d: Decoded) => Math.min(d.t / cfg.fps, d.audio.length / cfg.sampleRate);

/**
 * Apply `view` to decoded arrays: the video window's frames, cropped, resized to size x size
 * (bilinear), flipped and colour-jittered, as [3, frames, size, size] in about [-0.5, 0.5]; the audio
 * window's z-scored spectrogram [time, freq].
 */
export function viewDecoded(cfg: ClipConfig, d: Decoded, view: View, stats: FreqStats): { video: Float32Array; spec: Float32Array } {
  const { frames: T, size: S } = cfg, { t, h, w } = d;
  if (d.frames.length !== t * h * w * 3) throw new Error(`viewDecoded: ${d.frames.length} frame values are not [${t}, ${h}, ${w}, 3]`);
  const scale = d.frames instanceof Uint8Array ? 1 / 255 : 1, px = d.frames;
  const f0 = Math.round(videoStart(cfg, view, decodedSeconds(cfg, d)) * cfg.fps);
  const [cx, cy, cw, ch] = view.crop, [bright, contrast, sat] = view.jitter;
  const out = new Float32Array(3 * T * S * S), rgb = [0, 0, 0];
  // source coordinates of each output column and row (pixel centres), with the flip
  const xs = Float64Array.from({ length: S }, (_, x) => Math.min(w - 1, Math.max(0, (cx + (cw * ((view.flip ? S - 1 - x : x) + 0.5)) / S) * w - 0.5)));
  const ys = Float64Array.from({ length: S }, (_, y) => Math.min(h - 1, Math.max(0, (cy + (ch * (y + 0.5)) / S) * h - 0.5)));
  for (let f = 0; f < T; f++) {
    const base = Math.min(t - 1, f0 + f) * h * w * 3;
    for (let y = 0; y < S; y++) {
      const y0 = Math.floor(ys[y]), y1 = Math.min(h - 1, y0 + 1), fy = ys[y] - y0;
      for (let x = 0; x < S; x++) {
        const x0 = Math.floor(xs[x]), x1 = Math.min(w - 1, x0 + 1), fx = xs[x] - x0;
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => px[base + (yy * w + xx) * 3 + c];
          const top = at(y0, x0) + fx * (at(y0, x1) - at(y0, x0)), bottom = at(y1, x0) + fx * (at(y1, x1) - at(y1, x0));
          rgb[c] = (top + fy * (bottom - top)) * scale;
        }
        const grey = (rgb[0] + rgb[1] + rgb[2]) / 3;
        for (let c = 0; c < 3; c++) out[((c * T + f) * S + y) * S + x] = ((grey + sat * (rgb[c] - grey)) * bright - 0.5) * contrast;
      }
    }
  }
  return { video: out, spec: normalizeFrequencies(rawSpectrogram(cfg, d.audio, view.start, view.volume), stats) };
}

/** Arrays in memory, for `fromArrays`. */
export interface Arrays {
  clips: readonly Decoded[];
  /** class per clip (-1 for none); default all -1 */
  labels?: ArrayLike<number>;
  classes?: readonly string[];
  names?: readonly string[];
  /** spectrogram statistics (default: computed from the clips) */
  stats?: FreqStats;
}

/**
 * A source over decoded clips you hold as arrays.
 * `fromArrays({clips: [{frames, t: 48, h: 64, w: 64, audio}], labels: [0]}, tinyData)`
 */
export function fromArrays(data: Arrays, cfg: ClipConfig): Source {
  const n = data.clips.length;
  if (n === 0) throw new Error('fromArrays: no clips');
  data.clips.forEach((d, i) => {
    if (d.frames.length !== d.t * d.h * d.w * 3) throw new Error(`fromArrays: clip ${i} has ${d.frames.length} frame values, not t*h*w*3 = ${d.t}*${d.h}*${d.w}*3`);
    if (decodedSeconds(cfg, d) < minSeconds(cfg)) throw new Error(`fromArrays: clip ${i} lasts ${decodedSeconds(cfg, d).toFixed(2)} s, shorter than a window of ${minSeconds(cfg)} s`);
  });
  return decodedSource(cfg, {
    n, load: (i) => data.clips[i], labels: Int32Array.from(data.labels ?? new Array(n).fill(-1)),
    classes: data.classes ?? [], names: data.names ?? data.clips.map((_, i) => `clip ${i}`), stats: data.stats,
  });
}

/** A source over clips that `load` can decode (from memory or a cache); `fromArrays` and folders build on it. */
export function decodedSource(cfg: ClipConfig, o: {
  n: number; load: (i: number) => Decoded; labels: Int32Array; classes: readonly string[]; names: readonly string[];
  stats?: FreqStats; durations?: ArrayLike<number>; prepare?: Source['prepare']; skipped?: Source['skipped'];
}): Source {
  const stats = o.stats ?? audioStats(cfg, (i) => o.load(i).audio, o.n);
  return {
    cfg, n: o.n, labels: o.labels, classes: o.classes, names: o.names, stats, prepare: o.prepare, skipped: o.skipped,
    duration: (i) => (o.durations ? o.durations[i] : decodedSeconds(cfg, o.load(i))),
    clip(i, view) {
      checkIndex('clip', i, o.n);
      return { ...viewDecoded(cfg, o.load(i), view, stats), label: o.labels[i] };
    },
  };
}

export function checkIndex(what: string, i: number, n: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${what}: index ${i} is out of range for a source of ${n} clips`);
}

/**
 * The items `indices` of `src` as a source of their own (item j is src's indices[j]), sharing its
 * statistics: how splits and subsets are made. `subset(all, [0, 1, 2])`
 */
export function subset(src: Source, indices: readonly number[]): Source {
  indices.forEach((i) => checkIndex('subset', i, src.n));
  const at = (j: number) => { checkIndex('subset', j, indices.length); return indices[j]; };
  const back = new Map(indices.map((i, j) => [i, j]));
  return {
    cfg: src.cfg, n: indices.length, classes: src.classes, stats: src.stats,
    labels: Int32Array.from(indices, (i) => src.labels[i]),
    names: indices.map((i) => src.names[i]),
    duration: (j) => src.duration(at(j)),
    clip: (j, view) => src.clip(at(j), view),
    prepare: src.prepare ? async (js) => {
      const bad = await src.prepare!(js.map(at));
      return new Set([...bad].map((i) => back.get(i)!));
    } : undefined,
    skipped: src.skipped,
  };
}

/** Items [from, from + n) of `src`. `const [train, test] = [range(all, 0, 512), range(all, 512, 256)]` */
export function range(src: Source, from: number, n: number): Source {
  if (from < 0 || n < 1 || from + n > src.n) throw new Error(`range: [${from}, ${from + n}) is outside a source of ${src.n} clips`);
  return subset(src, Array.from({ length: n }, (_, j) => from + j));
}

/** Decode what `indices` need (if the source decodes) and return those usable. */
export async function ready(src: Source, indices: readonly number[]): Promise<number[]> {
  if (!src.prepare) return [...indices];
  const bad = await src.prepare(indices);
  return indices.filter((i) => !bad.has(i));
}

export interface Batch {
  /** [B, 3, frames, size, size] */
  video: np.Tensor;
  /** [B, 1, time, freq] */
  audio: np.Tensor;
  /** source index of each item, int32 [B] */
  indices: np.Tensor;
  /** int32 [B], -1 where unlabelled */
  labels: np.Tensor;
}

/**
 * Items `indices` of `src` as tensors, each through its own view: a random one from `key` and `aug`
 * (one per item, `foldIn(key, j)`), or the plain centre window without a key, or the given `views`.
 * `getBatch(train, [0, 1, 2, 3], random.key(0), tinyTrain)`
 */
export function getBatch(src: Source, indices: readonly number[], key?: np.Key, aug?: AugmentConfig, views?: readonly View[]): Batch {
  if (indices.length === 0) throw new Error('getBatch: no indices');
  const viewOf = (i: number, j: number): View => views ? views[j]
    : key ? randomView(np.random.foldIn(key, j), src.duration(i), src.cfg, aug ?? { cropScale: [0.08, 1], flip: true, maxOffset: 0.5 })
      : evalViews(src.duration(i), src.cfg, 1)[0];
  const clips = indices.map((i, j) => src.clip(i, viewOf(i, j)));
  const { frames, size } = src.cfg, [tf, fb] = specShape(src.cfg);
  const video = new Float32Array(indices.length * 3 * frames * size * size), audio = new Float32Array(indices.length * tf * fb);
  clips.forEach((c, j) => { video.set(c.video, j * c.video.length); audio.set(c.spec, j * c.spec.length); });
  return {
    video: np.tensor(video, { shape: [indices.length, 3, frames, size, size] }),
    audio: np.tensor(audio, { shape: [indices.length, 1, tf, fb] }),
    indices: np.tensor(Int32Array.from(indices)),
    labels: np.tensor(Int32Array.from(clips.map((c) => c.label))),
  };
}
