/**
 * Sources and views: windows and augmentation applied to decoded arrays against a direct reading of
 * the arrays, spectrograms of a fixed length whatever the clip, independent random draws, subsets,
 * and clear errors for arrays that cannot serve.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { tinyData } from '../../avid/data.js';
import { evalViews, fromArrays, getBatch, plainView, randomView, range, specShape, subset, videoStart, viewDecoded } from '../../avid/source.js';
import { tinyTrain } from '../../avid/train.js';
import { throwsWith } from '../helpers.js';

const cfg = { ...tinyData, frames: 4, size: 8 };
/** A clip whose pixel (t, y, x, c) is a known function, so any view can be checked by hand. */
const pixel = (t: number, y: number, x: number, c: number) => (t * 7 + y * 3 + x * 5 + c * 11) % 256;
function clip(seconds: number, side = 8) {
  const t = Math.round(seconds * cfg.fps), frames = new Uint8Array(t * side * side * 3);
  for (let f = 0; f < t; f++) for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let c = 0; c < 3; c++) frames[((f * side + y) * side + x) * 3 + c] = pixel(f, y, x, c);
  const audio = Float32Array.from({ length: Math.round(seconds * cfg.sampleRate) }, (_, k) => Math.sin(k / 3) * (1 + k / 1e5));
  return { frames, t, h: side, w: side, audio };
}
const stats = { mean: new Float32Array(40), std: new Float32Array(40).fill(1) };

test('a plain view reads the window\'s frames unchanged, centred on the audio window', (t) => {
  const d = clip(6), view = plainView(1.5);
  const { video } = viewDecoded(cfg, d, view, stats);
  const f0 = Math.round(videoStart(cfg, view, 6) * cfg.fps);
  t.equal(f0, Math.round((1.5 + 1 - 0.125) * 16), 'video window centred on the audio window');
  let worst = 0;
  for (let c = 0; c < 3; c++) for (let f = 0; f < 4; f++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
    worst = Math.max(worst, Math.abs(video[((c * 4 + f) * 8 + y) * 8 + x] - (pixel(f0 + f, y, x, c) / 255 - 0.5)));
  }
  t.ok(worst < 1e-6, `pixels equal the arrays' (worst ${worst})`);
  t.end();
});

test('flip mirrors, crop zooms, offset moves the video window, all within the clip', (t) => {
  const d = clip(6), base = plainView(1);
  const a = viewDecoded(cfg, d, base, stats).video, b = viewDecoded(cfg, d, { ...base, flip: true }, stats).video;
  t.equal(b[7], a[0], 'flipped row starts where the plain one ends');
  const crop = viewDecoded(cfg, d, { ...base, crop: [0.5, 0.5, 0.5, 0.5] }, stats).video;
  t.ok(Math.abs(crop[0] - (pixel(Math.round((1 + 1 - 0.125) * 16), 4, 4, 0) / 255 - 0.5)) < 0.02, 'the crop\'s corner comes from the middle of the frame');
  t.equal(videoStart(cfg, { ...base, offset: 0.5 }, 6) - videoStart(cfg, base, 6), 0.5, 'offset shifts the video window');
  t.equal(videoStart(cfg, { ...plainView(5), offset: 0.5 }, 6), 6 - 0.25, 'the window stays inside the clip');
  t.end();
});

test('spectrograms have specShape whatever the clip\'s audio length; volume scales power', (t) => {
  const [tf, fb] = specShape(cfg);
  t.deepEqual([tf, fb], [100, 40], 'tiny default: 2 s at 16 kHz, hop 20 ms, 40 mels');
  const short = { ...clip(2), audio: clip(2).audio.subarray(0, 31000) }; // 1.94 s: AAC often gives a little less
  t.equal(viewDecoded(cfg, short, plainView(0), stats).spec.length, tf * fb, 'a short clip is zero-padded to the same length');
  const loud = viewDecoded(cfg, clip(3), { ...plainView(0), volume: 2 }, stats).spec, quiet = viewDecoded(cfg, clip(3), plainView(0), stats).spec;
  t.ok(Math.abs(loud[10] - quiet[10] - 10 * Math.log10(4)) < 1e-3, 'volume x2 is +6 dB');
  t.end();
});

test('random views: each quantity from its own bits; windows inside the clip; eval windows evenly spaced', (t) => {
  const views = Array.from({ length: 200 }, (_, i) => randomView(np.random.key(i), 10, cfg, tinyTrain));
  const corr = (f: (v: (typeof views)[0]) => number, g: (v: (typeof views)[0]) => number) => {
    const xs = views.map(f), ys = views.map(g), mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
    const cov = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0), vx = xs.reduce((a, x) => a + (x - mx) ** 2, 0), vy = ys.reduce((a, y) => a + (y - my) ** 2, 0);
    return cov / Math.sqrt(vx * vy);
  };
  t.ok(Math.abs(corr((v) => v.offset, (v) => v.crop[2] * v.crop[3])) < 0.2, 'offset is not drawn from the crop\'s bits');
  t.ok(Math.abs(corr((v) => v.volume, (v) => v.crop[2] / v.crop[3])) < 0.2, 'volume is not drawn from the crop\'s bits');
  t.ok(views.every((v) => v.start >= 0 && v.start <= 8 && Math.abs(v.offset) <= 0.5), 'audio windows inside the clip, offsets within 0.5 s');
  t.ok(Math.max(...views.map((v) => v.start)) - Math.min(...views.map((v) => v.start)) > 6, 'the audio window moves over the whole clip');
  t.deepEqual(evalViews(10, cfg, 5).map((v) => v.start), [0, 2, 4, 6, 8], 'evaluation windows evenly spaced');
  t.end();
});

test('random views over many draws: crop area in cropScale, aspect 3/4..4/3, inside the frame; jitter, offset, volume, flip, start in range and spread over it', (t) => {
  const aug = { cropScale: [0.08, 1] as [number, number], flip: true, maxOffset: 0.3 }, n = 2000;
  const views = Array.from({ length: n }, (_, i) => randomView(np.random.key(1000 + i), 7, cfg, aug));
  const span = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];
  const within = (xs: number[], lo: number, hi: number, edge: number, what: string) => {
    const [a, b] = span(xs), eps = 1e-9;
    t.ok(a >= lo - eps && b <= hi + eps, `${what} in [${lo.toFixed(3)}, ${hi.toFixed(3)}] (drawn ${a.toFixed(3)}..${b.toFixed(3)})`);
    t.ok(a < lo + edge && b > hi - edge, `${what} reaches within ${edge} of both ends`);
  };
  within(views.map((v) => v.crop[2] * v.crop[3]), 0.08, 1, 0.05, 'crop area');
  within(views.map((v) => v.crop[2] / v.crop[3]), 3 / 4, 4 / 3, 0.05, 'crop aspect w / h');
  t.ok(views.every((v) => v.crop[0] >= 0 && v.crop[1] >= 0 && v.crop[0] + v.crop[2] <= 1 + 1e-12 && v.crop[1] + v.crop[3] <= 1 + 1e-12), 'every crop inside the frame');
  within(views.map((v) => v.crop[0] / Math.max(1e-12, 1 - v.crop[2])).filter(Number.isFinite), 0, 1, 0.05, 'crop x0 over the room left');
  for (const [c, name] of ['brightness', 'contrast', 'saturation'].entries()) within(views.map((v) => v.jitter[c]), 0.6, 1.4, 0.02, `${name} factor`);
  within(views.map((v) => v.offset), -0.3, 0.3, 0.02, 'video offset (maxOffset 0.3 s)');
  within(views.map((v) => v.volume), 0.9, 1.1, 0.01, 'volume factor');
  within(views.map((v) => v.start), 0, 7 - cfg.audioSeconds, 0.05, 'audio window start');
  const flips = views.filter((v) => v.flip).length;
  t.ok(Math.abs(flips - n / 2) < 4 * Math.sqrt(n / 4), `flipped about half the time (${flips} of ${n})`);
  t.ok(Array.from({ length: 200 }, (_, i) => randomView(np.random.key(i), 7, cfg, { ...aug, flip: false })).every((v) => !v.flip), 'never flipped with flip off');
  const narrow = Array.from({ length: 500 }, (_, i) => randomView(np.random.key(i), 7, cfg, { ...aug, cropScale: [0.5, 0.6] }));
  const areas = narrow.map((v) => v.crop[2] * v.crop[3]);
  t.ok(Math.min(...areas) >= 0.5 - 1e-9 && Math.max(...areas) <= 0.6 + 1e-9, `cropScale [0.5, 0.6] is respected (${span(areas).map((v) => v.toFixed(3)).join('..')})`);
  t.end();
});

test('fromArrays: a source of its own arrays; subsets and ranges keep the mapping; bad arrays are named', (t) => {
  const clips = [clip(3), clip(3, 12), clip(4)];
  const src = fromArrays({ clips, labels: [0, 1, 0], classes: ['a', 'b'] }, cfg);
  const b = getBatch(src, [2, 0], np.random.key(0), tinyTrain);
  t.deepEqual(b.video.shape, [2, 3, 4, 8, 8], 'video batch');
  t.deepEqual(b.audio.shape, [2, 1, 100, 40], 'audio batch');
  t.deepEqual(Array.from(b.labels.dataSync()), [0, 0], 'labels');
  const sub = subset(src, [2, 1]);
  t.deepEqual([sub.n, sub.labels[1], sub.duration(0)], [2, 1, 4], 'subset maps items');
  t.equal(range(src, 1, 2).duration(1), 4, 'range');
  throwsWith(t, () => fromArrays({ clips: [{ ...clip(3), t: 47 }] }, cfg), [/clip 0/, /frame values/, /47/], 'wrong frame count');
  throwsWith(t, () => fromArrays({ clips: [clip(1)] }, cfg), [/clip 0/, /shorter than a window of 2 s/], 'too short');
  throwsWith(t, () => src.clip(3, plainView()), [/index 3 is out of range/], 'index out of range');
  t.end();
});
