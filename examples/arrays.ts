/**
 * Training AVID on clips you already hold as arrays (decoded by hand, generated, from another tool):
 * `fromArrays` makes them a source, and fit applies AVID's augmentation to them (random audio window,
 * video offset, crop, flip, colour jitter, volume), exactly as it does to the built-in data and to a
 * folder of videos.
 *
 *   npx tsx examples/arrays.ts
 */
import * as np from '../core/index.js';
import { tinyData } from '../avid/data.js';
import { fit } from '../avid/fit.js';
import { avidModel, tinyModel } from '../avid/model.js';
import { crossAvid } from '../avid/objectives.js';
import { fromArrays } from '../avid/source.js';
import { tinyTrain } from '../avid/train.js';

// 16 clips of 3 s: RGB frames [t, h, w, 3] at 16 fps (uint8, or float in [0, 1]) and mono audio at 16 kHz
const clips = Array.from({ length: 16 }, (_, i) => ({
  t: 48, h: 48, w: 48, frames: new Uint8Array(48 * 48 * 48 * 3).map((_, k) => (k % 3 === i % 3 ? 200 : 40) + (k % 7)),
  audio: Float32Array.from({ length: 48000 }, (_, k) => 0.3 * Math.sin((2 * Math.PI * (300 + 100 * (i % 3)) * k) / 16000)),
}));
const train = fromArrays({ clips, labels: clips.map((_, i) => i % 3), classes: ['red', 'green', 'blue'] }, tinyData);
const { history } = await fit(avidModel(tinyModel), crossAvid, train, { ...tinyTrain, batch: 8, negatives: 8, epochs: 2 }, { key: np.random.key(0) });
console.log(`NCE loss per step: ${history.map((m) => m.loss.toFixed(2)).join(', ')}`);
