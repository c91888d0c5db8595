/**
 * Real video: listing a dataset folder, probing and decoding clips with ffmpeg (good, damaged and with
 * hostile names), the decode cache (hits spawn nothing, changed files miss, failures are kept, eviction,
 * torn entries) and decodeAll, on a small dataset that spec/avid/fixtures.ts makes with ffmpeg.
 */
import test from 'tape';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { needTool } from '../tools.js';
import { checkFfmpeg, counters, decode, decodeAll, openCache, probe, type DecodeSettings, type Decoded } from '../../avid/ffmpeg.js';
import { listFolder, type Listing } from '../../avid/folder.js';
import { openVideos } from '../../avid/videos.js';
import { classColour, classPitch, damagedFiles, makeVideoDataset, weirdName } from './fixtures.js';

if (needTool(test, 'ffmpeg', 'ffmpeg')) {
  const tmp = fs.mkdtempSync(join(tmpdir(), 'avid-ffmpeg-spec-'));
  test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const data = join(tmp, 'data'), classes = 2;
  const made = makeVideoDataset(data, { classes });
  const s: DecodeSettings = { fps: 16, size: 32, sampleRate: 16000, maxSeconds: 10 };
  const listing = (dir: string): Listing => { const l = listFolder(dir); if (E.isLeft(l)) throw new Error(l.left); return l.right; };
  const right = <A>(r: E.Either<string, A>): A => { if (E.isLeft(r)) throw new Error(`expected a value, got Left(${r.left})`); return r.right; };
  const ds = listing(data);
  const good = [...ds.splits.train, ...ds.splits.test].filter((it) => !made.damaged.includes(it.name));
  const at = (name: string) => join(data, name);
  const clip0 = at('train/class0/clip0.mp4'), clip1 = at('train/class0/clip1.webm'), clip2 = at('train/class1/clip2.mp4');
  const same = (a: Decoded, b: Decoded) => a.t === b.t && a.h === b.h && a.w === b.w
    && Buffer.from(a.frames).equals(Buffer.from(b.frames)) && Buffer.from(a.audio.buffer, a.audio.byteOffset, a.audio.byteLength).equals(Buffer.from(b.audio.buffer, b.audio.byteOffset, b.audio.byteLength));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('listing: splits, classes, labels and names of the fixture', (t) => {
    t.equal(ds.dir, data);
    t.deepEqual(ds.classes, ['class0', 'class1']);
    t.equal(ds.splits.train.length, 3 * classes + 1 + made.damaged.length, 'train: 3 per class, the weird name, the damaged');
    t.equal(ds.splits.test.length, 2 * classes, 'test: 2 per class');
    t.equal(good.length, made.good, 'the good clips are the listed ones less the damaged');
    for (const it of [...ds.splits.train, ...ds.splits.test]) {
      t.equal(ds.classes[it.label], it.name.split('/')[1], `${it.name}: label`);
      t.equal(it.path, at(it.name), `${it.name}: absolute path`);
    }
    const names = ds.splits.train.map((it) => it.name);
    t.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : 1)), 'sorted by name');
    t.ok(names.includes(`train/class0/${weirdName}`), 'the hostile name is listed as it is');
    t.end();
  });

  test('listing: no train/ or test/ folder is one unlabelled-or-labelled split; hidden, other and looping entries skipped', (t) => {
    const dir = join(tmp, 'flat'), elsewhere = join(tmp, 'elsewhere');
    for (const f of ['a.mp4', 'B.MKV', 'sub/c.webm', 'sub/deeper/d.mov', '.hidden.mp4', '.cache/e.mp4', 'readme.txt', 'sub/notes.md']) {
      fs.mkdirSync(join(dir, f, '..'), { recursive: true });
      fs.writeFileSync(join(dir, f), 'x');
    }
    fs.mkdirSync(elsewhere, { recursive: true });
    fs.writeFileSync(join(elsewhere, 'f.avi'), 'x');
    fs.symlinkSync(elsewhere, join(dir, 'linked'));
    fs.symlinkSync(join(elsewhere, 'f.avi'), join(dir, 'g.ts'));
    fs.symlinkSync(dir, join(dir, 'sub', 'loop'));
    fs.symlinkSync(join(tmp, 'nowhere'), join(dir, 'broken.mp4'));
    const l = listing(dir);
    t.deepEqual(l.classes, ['linked', 'sub']);
    t.deepEqual(l.splits.train.map((it) => [it.name, it.label]), [['B.MKV', -1], ['a.mp4', -1], ['g.ts', -1], ['linked/f.avi', 0], ['sub/c.webm', 1], ['sub/deeper/d.mov', 1]]);
    t.deepEqual(l.splits.test, []);
    t.end();
  });

  test('listing: a test/ folder alone is the test split; classes are the union over splits', (t) => {
    const dir = join(tmp, 'testonly');
    for (const f of ['test/zebra/a.mp4', 'test/ant/b.webm', 'test/c.mp4', 'other/ignored.mp4']) {
      fs.mkdirSync(join(dir, f, '..'), { recursive: true });
      fs.writeFileSync(join(dir, f), 'x');
    }
    const l = listing(dir);
    t.deepEqual(l.splits.train, []);
    t.deepEqual(l.classes, ['ant', 'zebra']);
    t.deepEqual(l.splits.test.map((it) => [it.name, it.label]), [['test/ant/b.webm', 0], ['test/c.mp4', -1], ['test/zebra/a.mp4', 1]]);
    t.end();
  });

  test('listing: errors name the path', (t) => {
    const empty = join(tmp, 'empty');
    fs.mkdirSync(join(empty, 'class0'), { recursive: true });
    fs.writeFileSync(join(empty, 'class0', 'readme.txt'), 'x');
    const fail = (dir: string) => { const l = listFolder(dir); return E.isLeft(l) ? l.left : 'no error'; };
    t.match(fail(join(tmp, 'missing')), new RegExp(`^${join(tmp, 'missing')}: no such folder`));
    t.match(fail(clip0), /clip0\.mp4: not a folder/);
    t.match(fail(empty), /empty: no video files \(looked for \.mp4, .*\.webm.*any letter case\)/);
    t.end();
  });

  test('probe and decode every good clip: shapes, lengths, the class colour and pitch', async (t) => {
    for (const it of good) {
      const p = right(await probe(it.path)), d = right(await decode(it.path, s)), c = it.label;
      t.ok(Math.abs(d.t - Math.round(p.duration * s.fps)) <= 1, `${it.name}: ${d.t} frames for ${p.duration} s`);
      t.ok(d.h === s.size && d.w === s.size && d.frames.length === d.t * d.h * d.w * 3, `${it.name}: [t, ${s.size}, ${s.size}, 3]`);
      t.ok(Math.abs(d.audio.length / s.sampleRate - p.duration) < 0.05, `${it.name}: ${d.audio.length} samples for ${p.duration} s`);
      t.deepEqual([p.width, p.height], [64, 48], `${it.name}: probed size`);
      const mid = d.frames.subarray((d.t >> 1) * d.h * d.w * 3, ((d.t >> 1) + 1) * d.h * d.w * 3);
      const median = [0, 1, 2].map((ch) => mid.filter((_, i) => i % 3 === ch).sort()[(d.h * d.w) >> 1]);
      const want = classColour(c, classes);
      t.ok(median.every((v, ch) => Math.abs(v - want[ch]) < 40), `${it.name}: colour ${median} ~ ${want}`);
      let up = 0; // upward zero crossings in the middle 2 s (clear of the codec's priming)
      for (let i = s.sampleRate / 2; i < 2.5 * s.sampleRate; i++) if (d.audio[i - 1] < 0 && d.audio[i] >= 0) up++;
      t.ok(Math.abs(up / 2 / classPitch(c) - 1) < 0.03, `${it.name}: pitch ${up / 2} Hz ~ ${classPitch(c).toFixed(0)} Hz`);
    }
  });

  test('decode stops at maxSeconds, and that is no truncation', async (t) => {
    const d = right(await decode(clip1, { ...s, maxSeconds: 1 }));
    t.equal(d.t, 16);
    t.ok(Math.abs(d.audio.length - 16000) < 400, `${d.audio.length} samples`);
  });

  test('each damaged file is a Left with the right kind of reason; short.mp4 decodes, under 1 s', async (t) => {
    const want: Record<keyof typeof damagedFiles, RegExp> = {
      'truncated.mp4': /^truncated: decoded 1\.\d s of 3\.0 s$/,
      'truncated.webm': /^truncated: decoded 1\.\d s of 3\.0 s$/,
      'unfinished.mp4': /^not a video ffmpeg can read \(moov atom not found\)$/,
      'noaudio.mp4': /^no audio track$/,
      'empty.mp4': /^empty file \(0 bytes\)$/,
      'notes.mp4': /^not a video ffmpeg can read \(.+\)$/,
      'short.mp4': /^$/,
    };
    t.deepEqual(made.damaged, Object.keys(want).map((f) => `train/class0/${f}`), 'the fixture names them all');
    for (const [f, reason] of Object.entries(want)) {
      const d = await decode(at(`train/class0/${f}`), s);
      if (f === 'short.mp4') {
        const p = right(await probe(at(`train/class0/${f}`)));
        t.ok(E.isRight(d) && p.duration < 1 && d.right.t >= 7 && d.right.t <= 9, `short.mp4 decodes (${p.duration} s)`);
      } else t.match(E.isLeft(d) ? d.left : 'decoded', reason, `${f}: ${E.isLeft(d) ? d.left : 'decoded'}`);
    }
    t.deepEqual(await probe(join(tmp, 'no-such.mp4')), E.left('no such file'), 'a missing file');
  });

  test('hostile file names are files, never options, protocols or shell', async (t) => {
    const dir = join(tmp, 'hostile');
    fs.mkdirSync(dir);
    const want = right(await decode(clip0, s));
    const names = ['-i.mp4', '-', '-y', 'http:x.mp4', 'concat:a.mp4|b.mp4', '$(touch pwned).mp4', '`touch pwned`.mp4', "it's \"q\" ;rm -rf x.mp4", '%d.mp4', 'a?b#c.mp4', 'ünï cødé 日本.mp4', weirdName];
    for (const name of names) {
      fs.copyFileSync(clip0, join(dir, name));
      const d = await decode(join(dir, name), s);
      t.ok(E.isRight(d) && same(d.right, want), `${JSON.stringify(name)} decodes as the original`);
    }
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const name of ['-i.mp4', '-', 'http:x.mp4', 'concat:a.mp4|b.mp4']) t.ok(E.isRight(await decode(name, s)), `relative ${JSON.stringify(name)} decodes`);
    } finally { process.chdir(cwd); }
    t.notOk(fs.existsSync(join(dir, 'pwned')) || fs.existsSync(join(cwd, 'pwned')), 'nothing ran');
    t.deepEqual(fs.readdirSync(dir).sort(), [...names].sort(), 'no file written beside them');
  });

  test('cache: a hit spawns nothing and loads the same bytes; a changed file misses; failures are kept', async (t) => {
    const cache = openCache(join(tmp, 'cache1'), 1e9);
    t.equal(cache.load(clip0, s), undefined, 'empty cache: load misses');
    const first = right(await cache.ensure(clip0, s)), n = counters.spawns;
    const t0 = performance.now(), again = right(await cache.ensure(clip0, s)), hit = performance.now() - t0;
    t.equal(counters.spawns, n, `second ensure spawns nothing (${hit.toFixed(1)} ms)`);
    t.ok(same(again, first) && same(cache.load(clip0, s)!, first), 'ensure and load give the same bytes');
    t.ok(same(first, right(await decode(clip0, s))), 'and the same as a decode');
    t.equal(cache.load(clip0, { ...s, size: 16 }), undefined, 'other settings miss');
    t.equal(cache.bytes(), fs.statSync(join(cache.dir, fs.readdirSync(cache.dir)[0])).size, 'bytes() is the entry');

    const copy = join(tmp, 'copy.mp4');
    fs.copyFileSync(clip0, copy);
    right(await cache.ensure(copy, s));
    t.ok(cache.load(copy, s), 'copy cached');
    fs.utimesSync(copy, new Date(2001, 0, 1), new Date(2001, 0, 1));
    t.equal(cache.load(copy, s), undefined, 'a changed mtime misses');
    const m = counters.spawns;
    right(await cache.ensure(copy, s));
    t.ok(counters.spawns > m, 'and decodes again');

    const notes = at('train/class0/notes.mp4'), bad = await cache.ensure(notes, s), k = counters.spawns;
    t.ok(E.isLeft(bad), 'notes.mp4 fails');
    t.deepEqual(await cache.ensure(notes, s), bad, 'a failure comes back the same');
    t.equal(counters.spawns, k, 'without running ffmpeg again');
    t.equal(cache.load(notes, s), undefined, 'load of a failure is undefined');
  });

  test('cache: probes are remembered too, failures included, and a changed file is probed again', async (t) => {
    const cache = openCache(join(tmp, 'cache-probe'), 1e9), copy = join(tmp, 'probe-copy.mp4');
    fs.copyFileSync(clip0, copy);
    const first = await cache.probe(copy), n = counters.spawns;
    t.deepEqual(first, await probe(copy), 'the same as probe');
    t.deepEqual(await cache.probe(copy), first, 'again: the same');
    t.equal(counters.spawns, n + 1, 'only the direct probe ran ffprobe');
    const notes = at('train/class0/notes.mp4'), bad = await cache.probe(notes), k = counters.spawns;
    t.ok(E.isLeft(bad) && E.isLeft(await cache.probe(notes)) && counters.spawns === k, 'a failed probe is remembered');
    fs.utimesSync(copy, new Date(2001, 0, 1), new Date(2001, 0, 1));
    await cache.probe(copy);
    t.equal(counters.spawns, k + 1, 'a changed mtime probes again');
    t.equal(cache.bytes(), 0, 'probes are not decode entries');
  });

  test('cache: a torn entry or a killed writer\'s temp file never loads', async (t) => {
    const cache = openCache(join(tmp, 'cache2'), 1e9), want = right(await cache.ensure(clip1, s));
    const [entry] = fs.readdirSync(cache.dir).map((f) => join(cache.dir, f)), bytes = fs.readFileSync(entry);
    fs.writeFileSync(`${entry}.4242.deadbeef.tmp`, bytes.subarray(0, bytes.length >> 1));
    fs.rmSync(entry);
    t.equal(cache.load(clip1, s), undefined, 'a half-written temp file is not an entry');
    for (const cut of [0, 3, 20, bytes.length >> 1, bytes.length - 1]) {
      fs.writeFileSync(entry, bytes.subarray(0, cut));
      t.equal(cache.load(clip1, s), undefined, `an entry cut at ${cut} bytes is a miss`);
    }
    t.equal(openCache(cache.dir, 1e9).bytes(), bytes.length - 1, 'temp files are not counted');
    const n = counters.spawns;
    t.ok(same(right(await cache.ensure(clip1, s)), want), 'ensure decodes it again');
    t.ok(counters.spawns > n && same(cache.load(clip1, s)!, want), 'and stores it whole');
  });

  test('cache: eviction keeps the total under maxBytes, least recently used first, and sweeps old temp files', async (t) => {
    const dir = join(tmp, 'cache3'), probeCache = openCache(join(tmp, 'cache-size'), 1e9);
    right(await probeCache.ensure(clip0, s));
    const size = probeCache.bytes(), max = 2.5 * size;
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'old.1.ab.tmp'), 'x');
    fs.utimesSync(join(dir, 'old.1.ab.tmp'), new Date(2001, 0, 1), new Date(2001, 0, 1));
    const cache = openCache(dir, max);
    right(await cache.ensure(clip0, s)); await sleep(30);
    right(await cache.ensure(clip2, s)); await sleep(30);
    t.ok(cache.load(clip0, s), 'clip0 used again'); await sleep(30);
    right(await cache.ensure(at('train/class1/clip0.mp4'), s));
    const onDisk = fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(join(dir, f)).size, 0);
    t.ok(cache.bytes() <= max && onDisk <= max, `${cache.bytes()} and ${onDisk} bytes on disk <= ${max}`);
    t.ok(cache.load(clip0, s) && cache.load(at('train/class1/clip0.mp4'), s), 'the recently used stay');
    t.equal(cache.load(clip2, s), undefined, 'the least recently used went');
    t.notOk(fs.existsSync(join(dir, 'old.1.ab.tmp')), 'an hour-old temp file went');
  });

  test('decodeAll: results in input order, at most `concurrency` processes, onDone for each', async (t) => {
    const files = [clip2, at('train/class0/empty.mp4'), clip0, at('test/class1/clip1.webm'), at('train/class0/notes.mp4'), clip1];
    const want = await Promise.all(files.map((f) => decode(f, s)));
    counters.peak = 0;
    const done: string[] = [];
    const got = await decodeAll(files, s, undefined, { concurrency: 2, onDone: (f) => done.push(f) });
    t.ok(counters.peak <= 2, `at most 2 at once (${counters.peak})`);
    t.deepEqual(done.slice().sort(), files.slice().sort(), 'onDone once per file');
    got.forEach((r, i) => t.ok(E.isLeft(r) ? E.isLeft(want[i]) && r.left === want[i].left : E.isRight(want[i]) && same(r.right, want[i].right), `result ${i} is ${files[i].split('/').pop()}'s`));
    const cache = openCache(join(tmp, 'cache4'), 1e9), cached = await decodeAll(files, s, cache, { concurrency: 3 });
    t.deepEqual(cached.map(E.isRight), want.map(E.isRight), 'through a cache, the same');
    t.deepEqual(await decodeAll([], s, cache), [], 'no files, no results');
  });

  test('openVideos: a folder whose every video is damaged fails naming the folder and the files, before training', async (t) => {
    const dir = join(tmp, 'all-damaged'), cls = join(dir, 'train', 'class0');
    fs.mkdirSync(cls, { recursive: true });
    fs.writeFileSync(join(cls, 'empty.mp4'), '');
    fs.writeFileSync(join(cls, 'notes.mp4'), 'not a video, a text file\n');
    fs.writeFileSync(join(cls, 'half.mp4'), fs.readFileSync(clip0).subarray(0, 200));
    const warnings: string[] = [];
    try {
      await openVideos(dir, { frames: 8, size: 32, fps: 16, sampleRate: 16000, audioSeconds: 1 }, { cacheDir: join(tmp, 'cache-damaged'), warn: (l) => warnings.push(l) });
      t.fail('opened a folder with no usable video');
    } catch (e) {
      const m = (e as Error).message;
      t.match(m, new RegExp(`^${dir}: no usable training videos \\(3 skipped: `), `names the folder and counts the skipped files: ${m}`);
      t.ok(['empty.mp4', 'notes.mp4', 'half.mp4'].every((f) => m.includes(f)), 'and names each file with its reason');
    }
    t.end();
  });

  test('checkFfmpeg: with ffmpeg off PATH, a clear error naming the Debian package', async (t) => {
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      t.throws(() => checkFfmpeg(), /^Error: ffmpeg is not installed: install Debian's package with `apt-get install ffmpeg` \(it provides ffmpeg and ffprobe\)$/);
      await probe(clip0).then(() => t.fail('probe ran'), (e) => t.match(String(e), /apt-get install ffmpeg/, 'probe says so too'));
    } finally { process.env.PATH = path; }
    t.doesNotThrow(() => checkFfmpeg(), 'and with PATH back, no error');
  });
}
