/**
 * The built-in synthetic data is a pure function of (key, instance, view), and the README's tables
 * were measured on it: a renderer change that moves a single bit moves every figure. These
 * fingerprints (sha256 of the float32 bytes) of the tiny default's clips pin it. A faster renderer
 * must keep them; a change meant to alter the data updates them, and the tables with them.
 */
import { createHash } from 'node:crypto';
import test from 'tape';
import * as np from '../../core/index.js';
import { synthetic, tinyData } from '../../avid/data.js';
import { evalViews, randomView } from '../../avid/source.js';
import { tinyTrain } from '../../avid/train.js';

const digest = (xs: Float32Array[]) => {
  const h = createHash('sha256');
  for (const x of xs) h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  return h.digest('hex').slice(0, 16);
};

test('the tiny default\'s synthetic clips, through evaluation and training views, are the ones the tables were measured on', (t) => {
  const src = synthetic(np.random.key(0), 576, tinyData);
  const items = [0, 1, 7, 100, 383, 575];
  const keys = np.random.split(np.random.key(1), items.length);
  const evalClips = items.flatMap((i) => evalViews(src.duration(i), tinyData, 3).map((v) => src.clip(i, v)));
  const trainClips = items.map((i, j) => src.clip(i, randomView(keys[j], src.duration(i), tinyData, tinyTrain)));
  t.equal(digest(evalClips.map((c) => c.video)), '98087114cf4a7d70', 'video, evaluation windows');
  t.equal(digest(evalClips.map((c) => c.spec)), '43fbaa567c7f2575', 'log-mel spectrograms, evaluation windows');
  t.equal(digest(trainClips.map((c) => c.video)), '6600f014c4e65473', 'video, random views (crop, flip, jitter, offset)');
  t.equal(digest(trainClips.map((c) => c.spec)), 'b64e109ddab0c6c8', 'log-mel spectrograms, random views (window, volume)');
  t.equal(digest([src.stats.mean, src.stats.std]), '8a41c17b67c3e368', 'the audio statistics');
  t.end();
});
