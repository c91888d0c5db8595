/**
 * The audio front end of AVID.md: waveform -> STFT -> power -> dB (floored at -100 dB) -> per-frequency
 * z-score, giving a [time, freq] spectrogram image for the 2-D audio convnet. Log-mel is an option.
 * The FFT is fft.js's radix-4 real transform; everything else is a few loops.
 */
import FFT from 'fft.js';

export interface SpectrogramOptions {
  sampleRate: number;
  /** FFT size (a power of two); gives nFft / 2 + 1 frequency bins. AVID: 129 bins. */
  nFft?: number;
  /** Hop between frames in seconds (AVID: 20 ms). */
  hop?: number;
  /** Mel bands instead of linear frequency bins (log-mel), if set. */
  mels?: number;
}

const hann = (n: number) => Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));

/** A mel filter: its weights over the bins [from, to) where it is not zero. */
interface MelFilter { from: number; to: number; w: Float64Array }

/** Triangular mel filters (HTK mel scale) over `bins` frequency bins, each kept where it is not zero. */
function melFilters(mels: number, bins: number, sampleRate: number): MelFilter[] {
  const mel = (f: number) => 2595 * Math.log10(1 + f / 700), hz = (m: number) => 700 * (10 ** (m / 2595) - 1);
  const top = mel(sampleRate / 2), edges = Array.from({ length: mels + 2 }, (_, i) => hz((top * i) / (mels + 1)));
  const binHz = (b: number) => (b * sampleRate) / (2 * (bins - 1));
  return Array.from({ length: mels }, (_, m) => {
    const w = Float64Array.from({ length: bins }, (_, b) => {
      const f = binHz(b), [lo, mid, hi] = [edges[m], edges[m + 1], edges[m + 2]];
      return f <= lo || f >= hi ? 0 : f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid);
    });
    let from = 0, to = bins;
    while (from < to && w[from] === 0) from++;
    while (to > from && w[to - 1] === 0) to--;
    return { from, to, w };
  });
}

/** The FFT, window and mel filters of one setting, made once: the same settings every clip. */
const setups = new Map<string, { fft: FFT; win: Float64Array; filters?: MelFilter[] }>();
function setup(nFft: number, sampleRate: number, mels?: number) {
  const key = `${nFft} ${sampleRate} ${mels ?? 0}`;
  let s = setups.get(key);
  if (!s) setups.set(key, (s = { fft: new FFT(nFft), win: hann(nFft), filters: mels ? melFilters(mels, nFft / 2 + 1, sampleRate) : undefined }));
  return s;
}

/**
 * Power spectrogram in dB, [frames, bins] row-major: 10 log10(|STFT|^2), floored at -100 dB.
 * `spectrogramDb(wave, {sampleRate: 16000})` on 2 s gives 100 x 129.
 */
export function spectrogramDb(wave: Float32Array, opts: SpectrogramOptions): { data: Float32Array; frames: number; bins: number } {
  const nFft = opts.nFft ?? 256, hop = Math.round((opts.hop ?? 0.02) * opts.sampleRate);
  if (nFft & (nFft - 1)) throw new Error(`spectrogramDb: nFft must be a power of two, got ${nFft}`);
  const frames = Math.max(0, Math.floor((wave.length - nFft) / hop) + 1), bins = nFft / 2 + 1;
  const { fft, win, filters } = setup(nFft, opts.sampleRate, opts.mels), frame = new Float64Array(nFft), spec = fft.createComplexArray();
  const power = new Float64Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < nFft; i++) frame[i] = wave[t * hop + i] * win[i];
    fft.realTransform(spec, frame);
    for (let b = 0; b < bins; b++) power[t * bins + b] = spec[2 * b] ** 2 + spec[2 * b + 1] ** 2;
  }
  let out = power, outBins = bins;
  if (opts.mels && filters) {
    out = new Float64Array(frames * opts.mels);
    outBins = opts.mels;
    // a filter's zero weights add exact zeros (powers are finite and >= 0), so only its support is summed
    for (let t = 0; t < frames; t++) for (let m = 0; m < opts.mels; m++) {
      const { from, to, w } = filters[m];
      let s = 0;
      for (let b = from; b < to; b++) s += w[b] * power[t * bins + b];
      out[t * opts.mels + m] = s;
    }
  }
  const db = new Float32Array(out.length);
  for (let i = 0; i < out.length; i++) db[i] = Math.max(-100, 10 * Math.log10(out[i] + 1e-20));
  return { data: db, frames, bins: outBins };
}

/** Per-frequency mean and std over a set of spectrograms [frames, bins] (the dataset's statistics). */
export function frequencyStats(specs: readonly Float32Array[], bins: number): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(bins), sq = new Float64Array(bins);
  let n = 0;
  for (const s of specs) {
    for (let i = 0; i < s.length; i++) { sum[i % bins] += s[i]; sq[i % bins] += s[i] * s[i]; }
    n += s.length / bins;
  }
  const mean = Float32Array.from(sum, (v) => v / n);
  const std = Float32Array.from(sq, (v, b) => Math.sqrt(Math.max(v / n - mean[b] ** 2, 1e-6)));
  return { mean, std };
}

/** z-score each frequency bin with the dataset's statistics (a new array). */
export function normalizeFrequencies(spec: Float32Array, stats: { mean: Float32Array; std: Float32Array }): Float32Array {
  const bins = stats.mean.length;
  return spec.map((v, i) => (v - stats.mean[i % bins]) / stats.std[i % bins]);
}
