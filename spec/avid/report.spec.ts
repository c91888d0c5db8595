/**
 * The run report: a synthetic run whose names, labels, title and skipped files are script injections
 * renders to a page with no script, no network load and every such string shown only escaped; the
 * PNG encoder round-trips through zlib; and in Debian's chromium the page raises no error, no dialog
 * and no request, every plot has marks and every image decodes. A full-page screenshot is saved to
 * $AVID_SCREENSHOT (default: the temp folder's avid-report.png) for a person to look at.
 */
import test from 'tape';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { type ClipView, type EvalJson, type ReportData, renderReport, writeReport } from '../../avid/report.js';
import { crc32, encodePng } from '../../avid/png.js';
import { needTool } from '../tools.js';
import { inspectReport } from './browser.js';

const EVIL = ['<img src=x onerror=alert(1)>', '</script><script>alert(2)</script>', 'x" onmouseover="alert(3)" y="', "<svg onload=alert(4)>"];
/** The forms an escaped string may take: in text (vega's) and in text or attributes (esc's, quotes too). */
const escaped = (s: string) => {
  const text = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [text, text.replace(/"/g, '&quot;')];
};

/** A small seeded generator, so the synthetic run is the same every time. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const rand = rng(7);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const classes = ['drum', EVIL[0], 'violin', 'speech'];

function clip(name: string, label: string | undefined, hue: number): ClipView {
  const t = 6, h = 12, w = 16, bins = 20, frames = 30;
  const data = new Uint8Array(t * h * w * 3).map((_, i) => (i % 3 === hue % 3 ? 200 : 40) + Math.floor(rand() * 50));
  const spec = Float32Array.from({ length: frames * bins }, (_, i) => Math.sin(i % bins / (2 + hue)) + 0.3 * gauss());
  return { name, label, frames: { t, h, w, data }, spec: { frames, bins, data: spec } };
}

function evalJson(scale: number): EvalJson {
  const block = (b: number) => Math.round((20 + scale * 10 * b + 5 * rand()) * 10) / 10;
  const mod = () => ({ block1: block(1), block2: block(2), block3: block(3), block4: block(4) });
  const video = mod(), audio = mod();
  return {
    video: { ...video, best: Math.max(...Object.values(video)) }, audio: { ...audio, best: Math.max(...Object.values(audio)) },
    retrieval: { v2a_r1: 10 * scale + 2, a2v_r1: 9 * scale + 2, v2a_r5: 30 * scale + 8, a2v_r5: 28 * scale + 8 },
  };
}

function syntheticRun(): ReportData {
  const metrics = Array.from({ length: 50 }, (_, i) => {
    const row: Record<string, number> = { step: i + 1, epoch: Math.floor(i / 10) + 1 };
    for (const [k, term] of ['v2a', 'a2v'].entries()) {
      row[`loss_${term}`] = 6 - 2 * (1 - Math.exp(-i / 15)) + 0.15 * gauss() + k * 0.2;
      row[`sim_pos_${term}`] = 0.1 + 0.6 * (1 - Math.exp(-i / 20)) + 0.04 * gauss();
      row[`sim_neg_${term}`] = 0.05 - 0.03 * (1 - Math.exp(-i / 20)) + 0.02 * gauss();
    }
    return { ...row, loss: (row.loss_v2a + row.loss_a2v) / 2, clips_per_s: 40 + 3 * gauss() };
  });
  const n = 60, centres = classes.map(() => Array.from({ length: 128 }, gauss));
  const labels = Array.from({ length: n }, (_, i) => classes[i % 4]);
  const names = labels.map((_, i) => (i === 5 ? EVIL[1] : `clips/${String(i).padStart(3, '0')}.mp4`));
  const points = labels.map((_, i) => centres[i % 4].map((c) => 0.6 * c + gauss()));   // classes that overlap a little, as real ones do
  const queryNames = [EVIL[0], 'clips/007.mp4', 'clips/011.mp4'];
  const retrieval = queryNames.map((q, e) => {
    const query = clip(q, classes[e % 4], e);
    const neighbours = [0, 1, 2, 3, 4].map((k) => ({
      ...clip(k === e ? q : `clips/${String(20 + 5 * e + k).padStart(3, '0')}.mp4`, k === e + 1 ? EVIL[2] : classes[(e + (k % 2)) % 4], e + k), similarity: 0.9 - 0.07 * k,
    }));
    return { direction: e % 2 === 0 ? 'v2a' as const : 'a2v' as const, query, neighbours };
  });
  return {
    title: `runs/${EVIL[0]}`,
    config: { objective: 'cross', epochs: 5, batch: 32, lr: 1e-3, data: EVIL[1], augment: { flip: true, crop: 0.8 }, [EVIL[3]]: EVIL[2] },
    metrics, eval: { trained: evalJson(1), random: evalJson(0) },
    embeddings: { points, labels, names, modality: 'video' },
    retrieval,
    data: { source: 'data/clips', clips: 60, skipped: [{ file: EVIL[0], reason: 'no audio stream' }, { file: 'clips/bad.mp4', reason: EVIL[1] }] },
  };
}

/** Decode an 8-bit RGB PNG written with filter 0, checking every chunk's CRC against `crc`. */
function decodePng(png: Buffer, crc: (b: Uint8Array) => number) {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('bad signature');
  const idat: Buffer[] = [];
  let width = 0, height = 0, crcOk = true;
  for (let o = 8; o < png.length;) {
    const len = png.readUInt32BE(o), type = png.toString('latin1', o + 4, o + 8), data = png.subarray(o + 8, o + 8 + len);
    crcOk &&= png.readUInt32BE(o + 8 + len) === crc(png.subarray(o + 4, o + 8 + len));
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IHDR' && (data[8] !== 8 || data[9] !== 2)) throw new Error('not 8-bit RGB');
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat)), rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    if (raw[y * (width * 3 + 1)] !== 0) throw new Error('unexpected filter');
    rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  }
  return { width, height, rgb, crcOk };
}

test('png: CRC-32 matches a known vector and zlib; pixels round-trip through inflate', (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
  const zcrc = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
  const reference = zcrc ?? crc32;
  if (zcrc) t.equal(crc32(Buffer.from('avid report')), zcrc(Buffer.from('avid report')), 'crc32 agrees with zlib.crc32');
  else t.comment('zlib.crc32 is not in this Node; checked against the known vector only');
  for (const [w, h] of [[1, 1], [7, 3], [64, 40]]) {
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rand() * 256));
    const out = decodePng(encodePng(w, h, rgb), reference);
    t.ok(out.crcOk, `${w}x${h}: every chunk's CRC is right`);
    t.deepEqual([out.width, out.height], [w, h], `${w}x${h}: size`);
    t.ok(Buffer.from(out.rgb).equals(Buffer.from(rgb)), `${w}x${h}: pixels`);
  }
  t.throws(() => encodePng(2, 2, new Uint8Array(5)), /not 2 x 2 x 3/, 'a wrong buffer size is refused');
  t.end();
});

test('report: no script, no network, untrusted text only escaped, deterministic', async (t) => {
  const data = syntheticRun();
  const html = await renderReport(data);
  t.notOk(/<script/i.test(html), 'no <script> at all');
  t.notOk(/\b(src|href|xlink:href)\s*=\s*["']?\s*(https?:|\/\/|ftp:)/i.test(html), 'no src/href to the network');
  t.notOk(/url\(\s*["']?(https?:|\/\/)|@import/i.test(html), 'no CSS url() or @import to the network');
  t.match(html, /Content-Security-Policy" content="default-src 'none'/, 'a CSP that allows no script');
  const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
  const attributeNames = (tag: string) => tag.replace(/"[^"]*"/g, '""');   // every attribute we and vega write is double-quoted
  t.deepEqual(tags.filter((tag) => /\son[a-z]+\s*=/i.test(attributeNames(tag))), [], 'no tag has an event-handler attribute');
  const imgs = tags.filter((tag) => /^<img\b/i.test(tag));
  t.ok(imgs.length > 0 && imgs.every((tag) => /^<img class="(frames|spec)" src="data:image\/png;base64,[A-Za-z0-9+/=]+"/.test(tag)), `all ${imgs.length} <img> are ours, with PNG data URLs`);
  for (const evil of EVIL) {
    t.notOk(html.includes(evil), `${JSON.stringify(evil)} never appears raw`);
    t.ok(escaped(evil).some((e) => html.includes(e)), `${JSON.stringify(evil)} appears escaped`);
  }
  t.notOk(html.includes('" onmouseover="'), 'no attribute is broken out of');
  const [, b64, w, h] = /src="data:image\/png;base64,([^"]+)" alt="[^"]*" width="(\d+)" height="(\d+)"/.exec(html)!;
  const png = decodePng(Buffer.from(b64, 'base64'), crc32);
  t.deepEqual([png.width, png.height, png.crcOk], [Number(w), Number(h), true], 'an inlined PNG decodes to its stated size');
  t.equal(await renderReport(data), html, 'the same data gives the same page (UMAP is seeded)');
  t.end();
});

test('report: absent parts are notes, not errors; few points fall back to PCA', async (t) => {
  const bare: ReportData = { title: 'empty', config: {}, metrics: [], data: { source: 'synthetic', clips: 0, skipped: [] } };
  const html = await renderReport(bare);
  for (const text of ['No training steps recorded yet', 'Not evaluated yet', 'No embeddings yet', 'No retrieval examples yet', 'No file was skipped'])
    t.ok(html.includes(text), `note: ${text}`);
  const run = syntheticRun();
  const few = await renderReport({ ...run, eval: { trained: run.eval!.trained }, embeddings: { points: run.embeddings!.points.slice(0, 8), labels: [], names: run.embeddings!.names.slice(0, 8), modality: 'audio' } });
  t.ok(few.includes('PCA (too few points for UMAP)'), '8 points: PCA');
  t.ok(few.includes('No class labels'), 'no labels: a note');
  t.ok(few.includes('No random-init baseline yet'), 'no baseline: a note');
  t.equal((few.match(/<title>/g) ?? []).length, 9, 'a hover title per point (and the page title)');
  t.notOk(few.includes('class P@1'), 'an eval without class retrieval has no class columns');
  const withClass = { ...run.eval!.trained, retrieval: { ...run.eval!.trained.retrieval, v2a_class_p1: 61.5, a2v_class_p1: 58.25, v2a_class_p5: 40, a2v_class_p5: 41 } };
  const cls = await renderReport({ ...run, eval: { trained: withClass } });
  t.ok(cls.includes('class P@1') && cls.includes('61.5') && cls.includes('58.3'), 'class precision columns when eval has them');
  t.end();
});

test('report: every loss_* key and every complete sim_pos_*/sim_neg_* pair is plotted', async (t) => {
  const metrics = Array.from({ length: 20 }, (_, i) => ({ step: i + 1, loss: 5 - i / 10, loss_v2v: 4, loss_cma_video: 1 + rand(), sim_pos_v2v: 0.5, sim_neg_v2v: 0.1, sim_pos_lonely: 0.3 }));
  const html = await renderReport({ title: 'joint', config: {}, metrics, data: { source: 'synthetic', clips: 8, skipped: [] } });
  const loss = /<svg class="plot-loss"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '', sim = /<svg class="plot-similarity"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
  for (const key of ['loss', 'loss_v2v', 'loss_cma_video']) t.ok(loss.includes(`>${key}</text>`), `loss plot: ${key}`);
  t.ok(sim.includes('>v2v</text>'), 'similarity plot: v2v');
  t.notOk(sim.includes('lonely'), 'a sim_pos_ without its sim_neg_ is left out');
  t.end();
});

test('report: writeReport writes atomically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'avid-report-'));
  const file = join(dir, 'report.html');
  await writeReport(file, syntheticRun());
  t.ok(readFileSync(file, 'utf8').startsWith('<!doctype html>'), 'written');
  t.deepEqual(readdirSync(dir), ['report.html'], 'no temporary file left');
  rmSync(dir, { recursive: true, force: true });
  t.end();
});

if (needTool(test, 'chromium', 'chromium')) {
  test('report in chromium: no error, dialog or request; plots have marks; images load', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'avid-report-'));
    const file = join(dir, 'report.html');
    const run = syntheticRun();
    await writeReport(file, run);
    try {
      const shot = process.env.AVID_SCREENSHOT ?? join(tmpdir(), 'avid-report.png');
      const seen = await inspectReport(file, shot);
      for (const [cls, got] of Object.entries(seen.plots)) t.ok(got && got.marks > 0 && got.w > 0 && got.h > 0, `${cls}: rendered with marks (${JSON.stringify(got)})`);
      const expected = run.retrieval!.reduce((a, r) => a + 2 + r.neighbours.length, 0);
      t.equal(seen.images.length, expected, `${expected} images (query frames and spectrogram, one per neighbour)`);
      t.ok(seen.images.every((i) => i.ok && i.w > 0), 'every image decoded and is visible');
      t.equal(seen.pointTitles, run.embeddings!.points.length, 'a hover title per embedded point');
      t.equal(seen.h1, run.title, 'the evil title shows as text');
      t.equal(seen.foreign, 0, 'no script, frame or foreign image element');
      t.ok(existsSync(shot), `screenshot: ${shot}`);
      t.deepEqual(seen.problems, [], 'no console error, page error or failed request');
      t.deepEqual(seen.dialogs, [], 'no dialog (no alert ran)');
      t.deepEqual(seen.requests, [], 'no request beyond the file itself');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    t.end();
  });
}
