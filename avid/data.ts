/**
 * The built-in dataset: synthetic audio-visual clips, generated on the fly as a pure function of
 * (dataset key, instance index), so nothing is downloaded and every run sees the same data.
 *
 * Shared (seen and heard, the same in every window of a clip, so the +-0.5 s audio-video offset cannot
 * scramble it): each clip draws, independently,
 *   - its class c of C (clip i has class i % C): the blob's hue c / C  <->  a tone of pitch 400 * 2^(c / 2) Hz;
 *   - a size of 3: the blob's radius 3 / 5 / 8 px  <->  the tone's loudness (gain 0.12 / 0.35 / 1, 9 dB apart);
 *   - a stripe orientation of 2: horizontal / vertical stripes over the frame  <->  clicks at 5.5 / 7 kHz;
 *   - a stripe period of 2: 12 / 4 px  <->  3 / 8 clicks a second (each a 10 ms decaying burst).
 * So 8 x 3 x 2 x 2 = 96 kinds of clip: besides the class (24 test clips each), size, orientation and
 * spacing split a class into 12 kinds of about 2 test clips, which cross-modal instance retrieval can
 * tell apart. Every shared attribute is visible at a glance (colour, extent, orientation, spacing over
 * the whole frame) and heard in a fixed band or rhythm, since deep blocks pool globally.
 * Nuisance, drawn separately for each modality: the background's colour, gradient and pixel texture, the
 * blob's start and direction of drift (video); a distractor tone at a random pitch (5-16 dB below the
 * class tone), the clicks' phase, and white noise (audio). The nuisance is weaker than the shared signal, so that even an untrained
 * encoder's features vary with what the modalities share. Labels are used only by evaluation.
 * A method that learns what video and audio have in common should find the class and the attributes;
 * features that merely describe a clip are dominated by its nuisances.
 */
import * as np from '../core/index.js';
import { normalizeFrequencies } from './audio.js';
import { audioStats, checkIndex, type ClipConfig, rawSpectrogram, type Source, videoStart, type View } from './source.js';

/** The synthetic data's settings: the clip settings every source has, plus its hidden classes and clip length. */
export interface DataConfig extends ClipConfig {
  /** number of hidden classes */
  classes: number;
  /** seconds each synthetic clip lasts (windows are drawn inside it); default 3 audio windows */
  seconds?: number;
}

/** AVID.md's tiny default: 3 x 8 x 32 x 32 video; 2 s of 16 kHz audio as 100 frames of 40 log-mel bands, from 6 s clips. */
export const tinyData: DataConfig = { classes: 8, frames: 8, size: 32, fps: 16, sampleRate: 16000, audioSeconds: 2, mels: 40, seconds: 6 };

const clipSeconds = (cfg: DataConfig) => cfg.seconds ?? 3 * cfg.audioSeconds;

/** One instance's hidden parameters, drawn from its own key. */
interface Instance {
  label: number;
  /** shared: blob radius (px) and tone gain, from one size level */
  radius: number;
  toneGain: number;
  /** shared: stripe orientation (0 horizontal, 1 vertical) and click band (Hz) */
  vertical: boolean;
  clickHz: number;
  /** shared: stripe period (px) and click rate (Hz) */
  period: number;
  clickRate: number;
  /** nuisance, video only */
  start: [number, number];
  direction: number;
  background: [number, number, number];
  gradient: [number, number];
  texture: Float32Array;
  /** nuisance, audio only */
  clickPhase: number;
  distractorHz: number;
  distractorGain: number;
  noise: number;
  noiseSeed: np.Key;
}

/** The shared attributes' levels: size (blob radius <-> tone gain), orientation <-> click band, stripe period <-> click rate. */
const RADIUS = [3, 5, 8], GAIN = [0.12, 0.35, 1];
const CLICK_HZ = [5500, 7000];
const PERIOD = [12, 4], CLICK_RATE = [3, 8];

function instance(cfg: DataConfig, key: np.Key, i: number): Instance {
  const k = np.random.foldIn(key, i);
  const [kp, kt, kn] = np.random.split(k, 3);
  const u = Array.from(np.random.bits(kp, 16), (w) => w / 2 ** 32);
  const tex = np.random.bits(kt, 3 * cfg.size * cfg.size);
  const size = Math.floor(3 * u[0]), orient = u[1] < 0.5 ? 0 : 1, spacing = u[2] < 0.5 ? 0 : 1;
  return {
    label: i % cfg.classes,
    radius: RADIUS[size], toneGain: GAIN[size],
    vertical: orient === 1, clickHz: CLICK_HZ[orient],
    period: PERIOD[spacing], clickRate: CLICK_RATE[spacing],
    start: [u[3] * cfg.size, u[4] * cfg.size],
    direction: 2 * Math.PI * u[5],
    background: [0.3 + 0.4 * u[6], 0.3 + 0.4 * u[7], 0.3 + 0.4 * u[8]],
    gradient: [Math.cos(2 * Math.PI * u[9]) * 0.3, Math.sin(2 * Math.PI * u[9]) * 0.3],
    texture: Float32Array.from(tex, (w) => (w / 2 ** 32 - 0.5) * 0.2),
    clickPhase: u[10],
    distractorHz: 200 * 2 ** (4.3 * u[11]),
    // always 5-16 dB below the class tone, so the loudest tone is the class's (a quiet clip's class is still heard)
    distractorGain: (0.15 + 0.45 * u[12]) * GAIN[size],
    noise: 0.01 + 0.04 * u[13],
    noiseSeed: kn,
  };
}

/** A fully saturated colour of hue h in [0, 1) (the hexcone model). */
function hue(h: number): [number, number, number] {
  const f = (n: number) => { const k = (n + h * 6) % 6; return 1 - Math.max(0, Math.min(k, 4 - k, 1)); };
  return [f(5), f(3), f(1)];
}

/**
 * Render the video [3, frames, size, size] of an instance, starting at time t0 seconds. What depends
 * on one coordinate only (the crop's sampling point, the stripes, the gradient's terms) is computed
 * once per column or row; every pixel's value is the same expression as written per pixel.
 */
function renderVideo(cfg: DataConfig, inst: Instance, t0: number, aug: View): Float32Array {
  const S = cfg.size, T = cfg.frames, out = new Float32Array(3 * T * S * S);
  const dir = inst.direction, speed = S * 0.75; // pixels per second
  const blob = hue(inst.label / cfg.classes), r2 = 2 * inst.radius * inst.radius;
  const [cx0, cy0, cw, ch] = aug.crop, [bright, contrast, sat] = aug.jitter;
  // the crop box, resized back to S x S (nearest sampling), then flipped: per column sx, px; per row sy, py
  const sx = new Float64Array(S), px = new Int32Array(S), sy = new Float64Array(S), py = new Int32Array(S);
  for (let x = 0; x < S; x++) {
    sx[x] = (cx0 + (cw * ((aug.flip ? S - 1 - x : x) + 0.5)) / S) * S;
    px[x] = Math.min(S - 1, Math.floor(sx[x]));
  }
  for (let y = 0; y < S; y++) { sy[y] = (cy0 + (ch * (y + 0.5)) / S) * S; py[y] = Math.min(S - 1, Math.floor(sy[y])); }
  const stripeOf = (v: number) => (Math.sin((2 * Math.PI * v) / inst.period) > 0 ? 0.25 : -0.25);
  const stripeX = Float64Array.from(sx, stripeOf), stripeY = Float64Array.from(sy, stripeOf);
  const gx = Float64Array.from(sx, (v) => inst.gradient[0] * (v / S - 0.5)), gy = Float64Array.from(sy, (v) => inst.gradient[1] * (v / S - 0.5));
  const dx = new Float64Array(S), bg = inst.background, tex = inst.texture, plane = T * S * S;
  for (let f = 0; f < T; f++) {
    const t = t0 + f / cfg.fps;
    const bx = (((inst.start[0] + speed * Math.cos(dir) * t) % S) + S) % S;
    const by = (((inst.start[1] + speed * Math.sin(dir) * t) % S) + S) % S;
    // distance to the blob on the torus
    for (let x = 0; x < S; x++) dx[x] = Math.min(Math.abs(sx[x] - bx), S - Math.abs(sx[x] - bx));
    for (let y = 0; y < S; y++) {
      const dy = Math.min(Math.abs(sy[y] - by), S - Math.abs(sy[y] - by));
      for (let x = 0; x < S; x++) {
        const a = Math.min(1, 1.5 * Math.exp(-(dx[x] * dx[x] + dy * dy) / r2));
        const g = gx[x] + gy[y] + (inst.vertical ? stripeX[x] : stripeY[y]);
        const at = py[y] * S + px[x];
        const r = (1 - a) * (bg[0] + g + tex[at]) + a * blob[0];
        const gr = (1 - a) * (bg[1] + g + tex[S * S + at]) + a * blob[1];
        const b = (1 - a) * (bg[2] + g + tex[2 * S * S + at]) + a * blob[2];
        const grey = (r + gr + b) / 3, o = (f * S + y) * S + x;
        out[o] = ((grey + sat * (r - grey)) * bright - 0.5) * contrast;
        out[plane + o] = ((grey + sat * (gr - grey)) * bright - 0.5) * contrast;
        out[2 * plane + o] = ((grey + sat * (b - grey)) * bright - 0.5) * contrast;
      }
    }
  }
  return out;
}

/** The audio waveform of an instance over [t0, t0 + audioSeconds). */
function renderAudio(cfg: DataConfig, inst: Instance, t0: number, volume: number): Float32Array {
  const n = Math.round(cfg.audioSeconds * cfg.sampleRate), out = new Float32Array(n);
  const noise = np.random.bits(inst.noiseSeed, n);
  // angular frequencies, each the same product the per-sample expression 2 pi f t began with
  const tone = 2 * Math.PI * (400 * 2 ** (inst.label / 2)), click = 2 * Math.PI * inst.clickHz, distractor = 2 * Math.PI * inst.distractorHz;
  const { toneGain, clickRate, clickPhase, distractorGain, noise: level } = inst;
  for (let i = 0; i < n; i++) {
    const t = t0 + i / cfg.sampleRate;
    // a click: a 10 ms decaying burst at clickHz, clickRate times a second
    const since = (((t * clickRate + clickPhase) % 1) + 1) % 1 / clickRate;
    out[i] = volume * (toneGain * Math.sin(tone * t) + 0.6 * Math.exp(-since / 0.01) * Math.sin(click * since) +
      distractorGain * Math.sin(distractor * t) + level * (noise[i] / 2 ** 32 - 0.5) * 3.46);
  }
  return out;
}

/**
 * `n` synthetic clips from `key` as a source, with audio statistics from its first clips.
 * `const all = synthetic(random.key(0), 576); const [train, test] = [range(all, 0, 384), range(all, 384, 192)]`
 */
export function synthetic(key: np.Key, n: number, cfg: DataConfig = tinyData): Source {
  const stats = audioStats(cfg, (i) => renderAudio(cfg, instance(cfg, key, i), 0, 1), Math.min(n, 64));
  const seconds = clipSeconds(cfg);
  return {
    cfg, n, stats, classes: Array.from({ length: cfg.classes }, (_, c) => `class ${c}`),
    labels: Int32Array.from({ length: n }, (_, i) => i % cfg.classes),
    names: Array.from({ length: n }, (_, i) => `synthetic ${i}`),
    duration: () => seconds,
    clip(i, view) {
      checkIndex('synthetic', i, n);
      const inst = instance(cfg, key, i);
      // render audio from the window's start (the noise is drawn per sample index, so it is the window's own)
      const wave = renderAudio(cfg, inst, view.start, view.volume);
      const spec = normalizeFrequencies(rawSpectrogram(cfg, wave), stats);
      return { video: renderVideo(cfg, inst, videoStart(cfg, view, seconds), view), spec, label: inst.label };
    },
  };
}
