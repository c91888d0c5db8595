/**
 * A small real video dataset for specs and benchmarks, made by ffmpeg from its lavfi sources, so nothing
 * is checked in or downloaded. Class c is a solid background of hue c / classes (`classColour`) with a
 * white square moving over it, and a tone of pitch `classPitch(c)`; clips of one class differ in the
 * square's start and speed and the tone's phase and loudness. Clips alternate mp4 (H.264 + AAC) and webm
 * (VP8 + Opus). With `damaged`, train/<first class>/ also gets what real datasets hold: see `damagedFiles`.
 *
 *   npx tsx spec/avid/fixtures.ts OUTDIR [classes] [perClassTrain] [perClassTest]   # builds one
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface DatasetOptions {
  classes?: number;
  perClass?: { train: number; test: number };
  seconds?: number;
  damaged?: boolean;
  width?: number;
  height?: number;
}

/** The good clip with a hostile name (an HTML payload and a space); it must decode. */
export const weirdName = '<img src=x onerror=alert(1)> clip.mp4';

/** What `damaged` adds to train/<first class>/, and what each is. */
export const damagedFiles = {
  'truncated.mp4': 'the first half of the bytes of an mp4 whose index (moov) comes first: it probes, but decodes half',
  'truncated.webm': 'the first half of the bytes of a webm: it probes, but decodes half',
  'unfinished.mp4': 'the first half of an mp4 whose index comes last, as a killed recorder leaves it: unreadable',
  'noaudio.mp4': 'a good video with no audio track',
  'empty.mp4': 'zero bytes',
  'notes.mp4': 'a text file',
  'short.mp4': 'a good clip of 0.5 s (it decodes; a caller wanting 1 s rejects it)',
} as const;

/** The background colour of class c, as RGB bytes (a saturated hue, as in avid/data.ts). */
export function classColour(c: number, classes: number): [number, number, number] {
  const f = (n: number) => { const k = (n + (c / classes) * 6) % 6; return Math.round(255 * (1 - Math.max(0, Math.min(k, 4 - k, 1)))); };
  return [f(5), f(3), f(1)];
}

/** The tone of class c in Hz: a third of an octave apart, from 250 Hz. */
export const classPitch = (c: number) => 250 * 2 ** (c / 3);

const ffmpeg = (args: string[]) => execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });

/** Encodes clip `i` of class c to `out` (mp4 or webm by its extension). */
function clip(out: string, c: number, i: number, o: Required<DatasetOptions>, seconds = o.seconds, audio = true): void {
  const [r, g, b] = classColour(c, o.classes), { width: w, height: h } = o, sq = Math.max(4, Math.round(w / 8));
  const hex = ((r << 16) | (g << 8) | b).toString(16).padStart(6, '0');
  const video = `color=c=0x${hex}:s=${w}x${h}:r=25:d=${seconds},`
    + `drawbox=x='mod(${(7 * i) % w}+${20 + 9 * (i % 5)}*t,${w - sq})':y='mod(${(5 * i) % h}+${15 + 7 * (i % 3)}*t,${h - sq})':w=${sq}:h=${sq}:c=white:t=fill`;
  const tone = `aevalsrc='${(0.3 + 0.05 * (i % 5)).toFixed(2)}*sin(2*PI*${classPitch(c).toFixed(2)}*t+${(0.7 * i).toFixed(2)})':s=44100:d=${seconds}`;
  const codecs = out.endsWith('.webm')
    ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-c:a', 'libopus']
    : ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
  ffmpeg(['-f', 'lavfi', '-i', video, ...(audio ? ['-f', 'lavfi', '-i', tone] : []), ...codecs, '-t', String(seconds), out]);
}

const firstHalf = (from: string, to: string) => { const b = fs.readFileSync(from); fs.writeFileSync(to, b.subarray(0, b.length >> 1)); };

/**
 * Builds `dir/train/class<c>/*` and `dir/test/class<c>/*` (replacing what was there); returns the number
 * of good clips and the names (relative to dir) of the damaged files.
 * `makeVideoDataset('/tmp/ds')` -> {good: 11, damaged: ['train/class0/empty.mp4', ...]}  (about 5 s)
 */
export function makeVideoDataset(dir: string, opts: DatasetOptions = {}): { good: number; damaged: string[] } {
  const o: Required<DatasetOptions> = { classes: 2, perClass: { train: 3, test: 2 }, seconds: 3, damaged: true, width: 64, height: 48, ...opts };
  let good = 0, i = 0;
  for (const split of ['train', 'test'] as const) {
    fs.rmSync(join(dir, split), { recursive: true, force: true });
    for (let c = 0; c < o.classes; c++) {
      fs.mkdirSync(join(dir, split, `class${c}`), { recursive: true });
      for (let k = 0; k < o.perClass[split]; k++, i++, good++) clip(join(dir, split, `class${c}`, `clip${k}.${k % 2 ? 'webm' : 'mp4'}`), c, i, o);
    }
  }
  if (!o.damaged) return { good, damaged: [] };
  const at = (name: string) => join(dir, 'train', 'class0', name);
  fs.mkdirSync(at(''), { recursive: true });
  clip(at(weirdName), 0, i++, o);
  clip(at('good.tmp.mp4'), 0, i++, o);
  clip(at('good.tmp.webm'), 0, i++, o);
  ffmpeg(['-i', at('good.tmp.mp4'), '-c', 'copy', '-movflags', '+faststart', at('faststart.tmp.mp4')]);
  firstHalf(at('faststart.tmp.mp4'), at('truncated.mp4'));
  firstHalf(at('good.tmp.webm'), at('truncated.webm'));
  firstHalf(at('good.tmp.mp4'), at('unfinished.mp4'));
  for (const f of ['good.tmp.mp4', 'good.tmp.webm', 'faststart.tmp.mp4']) fs.rmSync(at(f));
  clip(at('noaudio.mp4'), 0, i++, o, o.seconds, false);
  fs.writeFileSync(at('empty.mp4'), '');
  fs.writeFileSync(at('notes.mp4'), 'Notes on this dataset: clip 3 has no sound.\n');
  clip(at('short.mp4'), 0, i++, o, 0.5);
  return { good: good + 1, damaged: Object.keys(damagedFiles).map((f) => `train/class0/${f}`) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [out, classes, train, test] = process.argv.slice(2);
  if (!out) { console.error('usage: npx tsx spec/avid/fixtures.ts OUTDIR [classes] [perClassTrain] [perClassTest]'); process.exit(2); }
  const t0 = Date.now();
  const r = makeVideoDataset(out, { classes: Number(classes ?? 2), perClass: { train: Number(train ?? 3), test: Number(test ?? 2) } });
  console.log(`${out}: ${r.good} good clips, ${r.damaged.length} damaged (${r.damaged.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
