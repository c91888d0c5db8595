/**
 * The audio front end against hand-worked values: a pure sine's STFT power in the bin it sits on and
 * its Hann neighbours, the floor, frame counts; the mel band a sine's energy lands in (HTK scale);
 * and the per-frequency z-score giving zero mean and unit variance in every frequency.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { frequencyStats, normalizeFrequencies, spectrogramDb } from '../../avid/audio.js';
import { fromArrays, getBatch, plainView, specShape } from '../../avid/source.js';

const sr = 16000, N = 256;
const sine = (hz: number, seconds: number, amp = 1) => Float32Array.from({ length: Math.round(seconds * sr) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / sr));

test('STFT: a bin-centred sine has power (a N / 4)^2 in its bin, a quarter of it in each Hann neighbour, nothing elsewhere', (t) => {
  const k = 16, hz = (k * sr) / N, amp = 0.5; // 1000 Hz: bin 16 exactly
  const s = spectrogramDb(sine(hz, 0.5, amp), { sampleRate: sr, nFft: N, hop: 0.02 });
  t.deepEqual([s.frames, s.bins], [Math.floor((8000 - N) / 320) + 1, N / 2 + 1], 'frames (len - nFft) / hop + 1 at a 320-sample hop, nFft / 2 + 1 bins');
  const want = 20 * Math.log10((amp * N) / 4), side = 20 * Math.log10((amp * N) / 8);
  let worst = 0, worstSide = 0, loudestElse = -Infinity;
  for (let f = 0; f < s.frames; f++) {
    const row = s.data.subarray(f * s.bins, (f + 1) * s.bins);
    worst = Math.max(worst, Math.abs(row[k] - want));
    worstSide = Math.max(worstSide, Math.abs(row[k - 1] - side), Math.abs(row[k + 1] - side));
    row.forEach((v, b) => { if (Math.abs(b - k) > 1) loudestElse = Math.max(loudestElse, v); });
  }
  t.ok(worst < 1e-3, `bin ${k}: ${want.toFixed(3)} dB in every frame (worst error ${worst.toExponential(1)} dB)`);
  t.ok(worstSide < 1e-3, `bins ${k - 1} and ${k + 1}: ${side.toFixed(3)} dB, 6 dB down (worst error ${worstSide.toExponential(1)} dB)`);
  t.ok(loudestElse < want - 80, `every other bin at least 80 dB down (loudest ${loudestElse.toFixed(1)} dB)`);
  const quiet = spectrogramDb(new Float32Array(4000), { sampleRate: sr, nFft: N });
  t.ok(quiet.data.every((v) => v === -100), 'silence is floored at -100 dB');
  t.end();
});

test('log-mel: a sine\'s energy peaks in the band whose centre is nearest its frequency (HTK mel scale)', (t) => {
  const mels = 40, mel = (f: number) => 2595 * Math.log10(1 + f / 700), top = mel(sr / 2);
  const centre = (m: number) => 700 * (10 ** ((top * (m + 1)) / (mels + 1) / 2595) - 1); // Hz of band m's peak
  for (const hz of [500, 1000, 3000, 6000]) {
    const s = spectrogramDb(sine(hz, 0.25), { sampleRate: sr, nFft: N, mels });
    const row = Array.from(s.data.subarray(s.bins, 2 * s.bins)); // frame 1
    const peak = row.indexOf(Math.max(...row));
    // the nearest centre on the mel scale, where the triangles are symmetric
    const nearest = Array.from({ length: mels }, (_, m) => m).reduce((a, m) => (Math.abs(mel(centre(m)) - mel(hz)) < Math.abs(mel(centre(a)) - mel(hz)) ? m : a), 0);
    t.equal(s.bins, mels, `${hz} Hz: ${mels} bands`);
    t.ok(peak === nearest && row[peak] - Math.max(...row.filter((_, m) => Math.abs(m - peak) > 2)) > 20,
      `${hz} Hz peaks in band ${peak} (centre ${centre(peak).toFixed(0)} Hz; nearest centre: band ${nearest}), 20 dB above bands 3 or more away`);
  }
  // by hand at 1000 Hz (bin 16 of 62.5 Hz): power (N/4)^2 in bin 16 and (N/8)^2 in bins 15 and 17, weighted
  // by each band's triangle, which rises linearly in Hz from its lower edge to its centre and falls to its upper edge
  const s = spectrogramDb(sine(1000, 0.25), { sampleRate: sr, nFft: N, mels });
  const edge = (i: number) => 700 * (10 ** ((top * i) / (mels + 1) / 2595) - 1);
  const tri = (m: number, f: number) => Math.max(0, Math.min((f - edge(m)) / (edge(m + 1) - edge(m)), (edge(m + 2) - f) / (edge(m + 2) - edge(m + 1))));
  for (const m of [12, 13, 14]) {
    const want = 10 * Math.log10(tri(m, 15 * 62.5) * (N / 8) ** 2 + tri(m, 1000) * (N / 4) ** 2 + tri(m, 17 * 62.5) * (N / 8) ** 2);
    const got = s.data[s.bins + m];
    t.ok(Math.abs(got - want) < 1e-3, `1000 Hz, band ${m}: ${got.toFixed(4)} dB = ${want.toFixed(4)} dB by hand`);
  }
  t.end();
});

test('normalisation: each frequency z-scored with the set\'s statistics has mean 0 and variance 1', (t) => {
  // by hand: two spectrograms of 2 frames x 2 bins
  const a = Float32Array.from([1, 10, 3, 10]), b = Float32Array.from([5, 20, 7, 40]);
  const st = frequencyStats([a, b], 2);
  t.deepEqual(Array.from(st.mean), [4, 20], 'means per bin: (1 + 3 + 5 + 7) / 4, (10 + 10 + 20 + 40) / 4');
  t.ok(Math.abs(st.std[0] - Math.sqrt(5)) < 1e-5 && Math.abs(st.std[1] - Math.sqrt(150)) < 1e-4, `population std per bin: sqrt(5), sqrt(150) (${Array.from(st.std).map((v) => v.toFixed(4))})`);
  t.deepEqual(Array.from(normalizeFrequencies(a, st)).map((v) => +v.toFixed(5)), [-3 / Math.sqrt(5), -10 / Math.sqrt(150), -1 / Math.sqrt(5), -10 / Math.sqrt(150)].map((v) => +v.toFixed(5)), 'z-scores of the first');
  // a source's spectrograms (first windows, plain views) come out with mean 0, variance 1 per frequency
  const cfg = { frames: 2, size: 8, fps: 8, sampleRate: sr, audioSeconds: 0.5, mels: 16 };
  const clips = [220, 440, 880, 1760, 3520].map((hz, i) => {
    const audio = Float32Array.from(sine(hz, 1, 0.2 + 0.15 * i), (v, j) => v + 0.01 * Math.sin(j * j * 0.37));
    return { frames: new Uint8Array(8 * 8 * 8 * 3), t: 8, h: 8, w: 8, audio };
  });
  const src = fromArrays({ clips }, cfg), [tf, fb] = specShape(cfg);
  const x = getBatch(src, [0, 1, 2, 3, 4], undefined, undefined, clips.map(() => plainView(0))).audio.dataSync();
  let worstMean = 0, worstVar = 0;
  for (let f = 0; f < fb; f++) {
    const col: number[] = [];
    for (let i = 0; i < 5 * tf; i++) col.push(x[i * fb + f]);
    const mean = col.reduce((p, q) => p + q, 0) / col.length, v = col.reduce((p, q) => p + (q - mean) ** 2, 0) / col.length;
    worstMean = Math.max(worstMean, Math.abs(mean));
    worstVar = Math.max(worstVar, Math.abs(v - 1));
  }
  t.ok(worstMean < 1e-4 && worstVar < 1e-3, `every one of ${fb} frequencies: mean 0 (worst ${worstMean.toExponential(1)}), variance 1 (worst ${worstVar.toExponential(1)})`);
  t.end();
});
