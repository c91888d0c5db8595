/**
 * The built-in dataset: synthetic audio-visual clips, generated on the fly as a pure function of
 * (dataset key, instance index), so nothing is downloaded and every run sees the same data.
 *
 * Each instance has a hidden class c. Its video shows a blob of hue c / C drifting in a random
 * direction, its brightness pulsing at 2 Hz; its audio is a tone of pitch 400 * 2^(c / 2) Hz whose
 * loudness pulses in step with the blob (the same per-instance phase). What the two modalities share
 * is the class (hue <-> pitch) and the pulse. Everything else is nuisance that only one modality has:
 * the background's colour, gradient and texture, the blob's start and direction, a distractor tone
 * at a random pitch, and noise. Labels are used only by evaluation.
 * A method that learns what video and audio have in common should find the class; features that
 * merely describe a clip are dominated by its nuisances.
 */
import * as np from '../core/index.js';
import { frequencyStats, normalizeFrequencies, spectrogramDb } from './audio.js';

export interface DataConfig {
  /** number of hidden classes */
  classes: number;
  frames: number;
  size: number;
  /** video frames per second */
  fps: number;
  sampleRate: number;
  /** audio clip length in seconds */
  audioSeconds: number;
  /** log-mel bands instead of the linear 129-bin spectrogram, if set */
  mels?: number;
}

/** AVID.md's tiny default: 3 x 8 x 32 x 32 video; 2 s of 16 kHz audio as 100 frames of 40 log-mel bands. */
export const tinyData: DataConfig = { classes: 8, frames: 8, size: 32, fps: 16, sampleRate: 16000, audioSeconds: 2, mels: 40 };

/** One instance's hidden parameters, drawn from its own key. */
interface Instance {
  label: number;
  phase: number;
  start: [number, number];
  direction: number;
  blob: [number, number, number];
  background: [number, number, number];
  gradient: [number, number];
  texture: Float32Array;
  toneGain: number;
  distractorHz: number;
  distractorGain: number;
  noise: number;
  noiseSeed: np.Key;
}

function instance(cfg: DataConfig, key: np.Key, i: number): Instance {
  const k = np.random.foldIn(key, i);
  const [kp, kt, kn] = np.random.split(k, 3);
  const u = Array.from(np.random.bits(kp, 16), (w) => w / 2 ** 32);
  const tex = np.random.bits(kt, 3 * cfg.size * cfg.size);
  return {
    label: i % cfg.classes,
    phase: 2 * Math.PI * u[0],
    start: [u[1] * cfg.size, u[2] * cfg.size],
    direction: 2 * Math.PI * u[3],
    blob: hue((i % cfg.classes) / cfg.classes),
    background: [0.15 + 0.7 * u[6], 0.15 + 0.7 * u[7], 0.15 + 0.7 * u[8]],
    gradient: [Math.cos(2 * Math.PI * u[9]) * 0.6, Math.sin(2 * Math.PI * u[9]) * 0.6],
    texture: Float32Array.from(tex, (w) => (w / 2 ** 32 - 0.5) * 0.4),
    toneGain: 0.3 + 0.4 * u[10],
    distractorHz: 200 * 2 ** (4.3 * u[11]),
    distractorGain: 0.2 + 0.5 * u[12],
    noise: 0.02 + 0.1 * u[13],
    noiseSeed: kn,
  };
}

/** A fully saturated colour of hue h in [0, 1) (the hexcone model). */
function hue(h: number): [number, number, number] {
  const f = (n: number) => { const k = (n + h * 6) % 6; return 1 - Math.max(0, Math.min(k, 4 - k, 1)); };
  return [f(5), f(3), f(1)];
}

const pulse = (inst: Instance, t: number) => 0.8 + 0.2 * Math.sin(2 * Math.PI * 2 * t + inst.phase);

/** Augmentation of one clip (AVID.md): crop, flip, colour jitter, audio-video offset, volume. */
export interface Augment {
  /** crop box in [0, 1] coordinates: x0, y0, width, height */
  crop: [number, number, number, number];
  flip: boolean;
  /** brightness, contrast, saturation factors */
  jitter: [number, number, number];
  /** seconds the video window sits off the audio window's centre */
  offset: number;
  volume: number;
}

export const noAugment: Augment = { crop: [0, 0, 1, 1], flip: false, jitter: [1, 1, 1], offset: 0, volume: 1 };

/**
 * A random augmentation from `key`: random resized crop (area scale in `scale`, aspect 3/4..4/3),
 * flip with probability 1/2 if `flip`, colour jitter of +-0.4, offset up to `maxOffset` s (AVID: 0.5),
 * volume x U(0.9, 1.1).
 */
export function randomAugment(key: np.Key, scale: [number, number] = [0.08, 1], flip = true, maxOffset = 0.5): Augment {
  const u = Array.from(np.random.bits(key, 8), (w) => w / 2 ** 32);
  const area = scale[0] + (scale[1] - scale[0]) * u[0];
  const aspect = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * u[1]);
  const w = Math.min(1, Math.sqrt(area * aspect)), h = Math.min(1, Math.sqrt(area / aspect));
  return {
    crop: [(1 - w) * u[2], (1 - h) * u[3], w, h],
    flip: flip && u[4] < 0.5,
    jitter: [0.6 + 0.8 * u[5], 0.6 + 0.8 * u[6], 0.6 + 0.8 * u[7]],
    offset: (Math.floor(u[0] * 1e6) % 1000 / 1000 - 0.5) * 2 * maxOffset,
    volume: 0.9 + 0.2 * ((Math.floor(u[1] * 1e6) % 1000) / 1000),
  };
}

/** Render the video [3, frames, size, size] of an instance, starting at time t0 seconds. */
function renderVideo(cfg: DataConfig, inst: Instance, t0: number, aug: Augment): Float32Array {
  const S = cfg.size, T = cfg.frames, out = new Float32Array(3 * T * S * S);
  const dir = inst.direction, speed = S * 0.75; // pixels per second
  const [cx0, cy0, cw, ch] = aug.crop, [bright, contrast, sat] = aug.jitter;
  for (let f = 0; f < T; f++) {
    const t = t0 + f / cfg.fps;
    const bx = (((inst.start[0] + speed * Math.cos(dir) * t) % S) + S) % S;
    const by = (((inst.start[1] + speed * Math.sin(dir) * t) % S) + S) % S;
    const level = pulse(inst, t);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        // the crop box, resized back to S x S (nearest sampling), then flipped
        const sx = (cx0 + (cw * ((aug.flip ? S - 1 - x : x) + 0.5)) / S) * S, sy = (cy0 + (ch * (y + 0.5)) / S) * S;
        const px = Math.min(S - 1, Math.floor(sx)), py = Math.min(S - 1, Math.floor(sy));
        // distance to the blob on the torus
        const dx = Math.min(Math.abs(sx - bx), S - Math.abs(sx - bx)), dy = Math.min(Math.abs(sy - by), S - Math.abs(sy - by));
        const a = Math.min(1, 1.5 * Math.exp(-(dx * dx + dy * dy) / (2 * 4 * 4))) * level;
        const g = inst.gradient[0] * (sx / S - 0.5) + inst.gradient[1] * (sy / S - 0.5);
        const rgb = [0, 1, 2].map((c) => (1 - a) * (inst.background[c] + g + inst.texture[(c * S + py) * S + px]) + a * inst.blob[c]);
        const grey = (rgb[0] + rgb[1] + rgb[2]) / 3;
        for (let c = 0; c < 3; c++) {
          const v = (grey + sat * (rgb[c] - grey)) * bright;
          out[((c * T + f) * S + y) * S + x] = (v - 0.5) * contrast;
        }
      }
    }
  }
  return out;
}

/** The audio waveform of an instance over [t0, t0 + audioSeconds). */
function renderAudio(cfg: DataConfig, inst: Instance, t0: number, volume: number): Float32Array {
  const n = Math.round(cfg.audioSeconds * cfg.sampleRate), out = new Float32Array(n);
  const pitch = 400 * 2 ** (inst.label / 2);
  const noise = np.random.bits(inst.noiseSeed, n);
  for (let i = 0; i < n; i++) {
    const t = t0 + i / cfg.sampleRate;
    const tone = inst.toneGain * pulse(inst, t) * Math.sin(2 * Math.PI * pitch * t);
    const distractor = inst.distractorGain * Math.sin(2 * Math.PI * inst.distractorHz * t);
    out[i] = volume * (tone + distractor + inst.noise * (noise[i] / 2 ** 32 - 0.5) * 3.46);
  }
  return out;
}

export interface Clip { video: Float32Array; spec: Float32Array; label: number }

/** The dataset: n instances from `key`, with its audio statistics (computed from its first clips). */
export interface Dataset {
  readonly cfg: DataConfig;
  readonly key: np.Key;
  readonly n: number;
  /** item i is instance offset + i (splits of one dataset share key and statistics) */
  readonly offset: number;
  readonly specShape: [number, number];
  readonly stats: { mean: Float32Array; std: Float32Array };
}

function rawSpec(cfg: DataConfig, wave: Float32Array) {
  return spectrogramDb(wave, { sampleRate: cfg.sampleRate, nFft: 256, hop: 0.02, mels: cfg.mels });
}

/** A synthetic dataset of `n` instances. `makeDataset(random.key(0), 2000)` */
export function makeDataset(key: np.Key, n: number, cfg: DataConfig = tinyData): Dataset {
  const probe = Array.from({ length: Math.min(n, 64) }, (_, i) => rawSpec(cfg, renderAudio(cfg, instance(cfg, key, i), 0, 1)));
  const { frames, bins } = probe[0];
  return { cfg, key, n, offset: 0, specShape: [frames, bins], stats: frequencyStats(probe.map((p) => p.data), bins) };
}

/**
 * Items [from, from + n) of `ds` as a dataset of their own (indices from 0), with `ds`'s audio
 * statistics: how the train and test splits are made. `const [train, test] = [split(ds, 0, 512), split(ds, 512, 256)]`
 */
export function split(ds: Dataset, from: number, n: number): Dataset {
  if (from < 0 || n < 1 || from + n > ds.n) throw new Error(`split: [${from}, ${from + n}) is outside a dataset of ${ds.n}`);
  return { ...ds, n, offset: ds.offset + from };
}

/** Instance `i` with augmentation `aug`: video [3, T, S, S], normalised spectrogram [time, freq], label. */
export function getClip(ds: Dataset, i: number, aug: Augment = noAugment): Clip {
  if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new Error(`getClip: index ${i} is out of range for a dataset of ${ds.n}`);
  const inst = instance(ds.cfg, ds.key, ds.offset + i);
  const videoStart = ds.cfg.audioSeconds / 2 - ds.cfg.frames / ds.cfg.fps / 2 + aug.offset;
  const spec = normalizeFrequencies(rawSpec(ds.cfg, renderAudio(ds.cfg, inst, 0, aug.volume)).data, ds.stats);
  return { video: renderVideo(ds.cfg, inst, videoStart, aug), spec, label: inst.label };
}

export interface Batch {
  video: np.Tensor;
  audio: np.Tensor;
  indices: np.Tensor;
  labels: np.Tensor;
}

/**
 * A batch of instances as tensors: video [B, 3, T, S, S], audio [B, 1, time, freq], indices and labels int32.
 * With `key`, each clip gets its own random augmentation.
 */
export function getBatch(ds: Dataset, indices: readonly number[], key?: np.Key, scale?: [number, number], flip = true, maxOffset = 0.5): Batch {
  const clips = indices.map((i, j) => getClip(ds, i, key ? randomAugment(np.random.foldIn(key, j), scale, flip, maxOffset) : noAugment));
  const { frames, size } = ds.cfg, [tf, fb] = ds.specShape;
  const video = new Float32Array(indices.length * 3 * frames * size * size), audio = new Float32Array(indices.length * tf * fb);
  clips.forEach((c, j) => { video.set(c.video, j * c.video.length); audio.set(c.spec, j * c.spec.length); });
  return {
    video: np.tensor(video, { shape: [indices.length, 3, frames, size, size] }),
    audio: np.tensor(audio, { shape: [indices.length, 1, tf, fb] }),
    indices: np.tensor(Int32Array.from(indices)),
    labels: np.tensor(Int32Array.from(clips.map((c) => c.label))),
  };
}
