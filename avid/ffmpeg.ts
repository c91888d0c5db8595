/**
 * Real video for AVID: probe a file, decode it to RGB frames and a mono waveform with Debian's ffmpeg,
 * and keep the results in a bounded on-disk cache so that each clip is decoded once, not every epoch.
 *
 * ffmpeg and ffprobe are spawned directly with an argument array, never through a shell, and every
 * input goes in as `-i file:<absolute path>`, so no file name can be read as an option, a protocol
 * (`http:`, `concat:`) or stdin (`-`). ffmpeg writes into a temporary folder rather than a pipe, so it
 * runs on while the training loop holds the event loop. Failures are values, `Left` with a short reason
 * for a user; only a missing ffmpeg throws, since that is the machine's problem, not the file's.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import type { Decoded as SourceDecoded } from './source.js';

/** What ffprobe found: duration in seconds, and the first video stream's size. A Right has both streams. */
export interface Probe { duration: number; hasVideo: boolean; hasAudio: boolean; width: number; height: number }

export interface DecodeSettings {
  /** video frames per second after decoding */
  fps: number;
  /** frames are scaled to cover size x size, then centre-cropped */
  size: number;
  /** audio sample rate in Hz */
  sampleRate: number;
  /** decode at most this many seconds from the start (Infinity: all) */
  maxSeconds: number;
}

/** What ffmpeg gives: a source's decoded clip (avid/source.ts) with uint8 RGB frames, h = w = s.size. */
export type Decoded = SourceDecoded & { frames: Uint8Array };

/** Processes spawned, running now, and the most at once: for tests and benchmarks (reset `peak` yourself). */
export const counters = { spawns: 0, running: 0, peak: 0 };

const checked = new Map<string, boolean>();

/** Throws a clear Error unless ffmpeg and ffprobe are on PATH (checked once per PATH). `checkFfmpeg()` */
export function checkFfmpeg(): void {
  const path = process.env.PATH ?? '';
  if (!checked.has(path)) checked.set(path, ['ffmpeg', 'ffprobe'].every((c) => spawnSync(c, ['-version'], { stdio: 'ignore' }).status === 0));
  if (!checked.get(path)) throw new Error("ffmpeg is not installed: install Debian's package with `apt-get install ffmpeg` (it provides ffmpeg and ffprobe)");
}

type Ran = { code: number | null; signal: string | null; stdout: string; stderr: string };

/** Runs a tool to the end; rejects only if it cannot be started (or floods stdout). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<Ran> {
  counters.spawns++;
  counters.peak = Math.max(counters.peak, ++counters.running);
  return new Promise((done, fail) => execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
    counters.running--;
    const e = err as (Error & { code?: number | string; signal?: string | null }) | null;
    if (typeof e?.code === 'string') fail(e);
    else done({ code: e ? e.code ?? null : 0, signal: e?.signal ?? null, stdout, stderr });
  }).stdin?.end()); // nothing reads stdin, even if a name slipped through as '-'
}

const input = (file: string) => `file:${resolve(file)}`;

/** ffmpeg's stderr as lines, without the `[demuxer @ 0x55...]` prefixes and the input's own name. */
const messages = (stderr: string, file: string) => stderr.split('\n')
  .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').replace(`${input(file)}: `, '').trim()).filter(Boolean);

function fileSize(file: string): E.Either<string, number> {
  try { return E.right(fs.statSync(file).size); }
  catch (e) { return E.left((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read (${(e as Error).message})`); }
}

type Stream = { codec_type?: string; duration?: string; width?: number; height?: number; disposition?: { attached_pic?: number } };

/** What ffprobe says about a file, or why it is no use to AVID. `await probe('clip.mp4')` -> Right({duration: 3, ...}) */
export async function probe(file: string): Promise<E.Either<string, Probe>> {
  checkFfmpeg();
  const size = fileSize(file);
  if (E.isLeft(size)) return size;
  if (size.right === 0) return E.left('empty file (0 bytes)');
  const r = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', input(file)], 60_000);
  if (r.signal) return E.left(`interrupted (ffprobe got ${r.signal})`);
  let info: { format?: { duration?: string }; streams?: Stream[] } = {};
  try { info = JSON.parse(r.stdout); } catch { /* reported below */ }
  if (r.code !== 0 || !info.format) return E.left(`not a video ffmpeg can read (${messages(r.stderr, file)[0] ?? `ffprobe exited with ${r.code}`})`);
  const streams = info.streams ?? [];
  // NOTE: a cover picture in an mp4 or mkv is a "video" stream of one frame: not a video.
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video) return E.left('no video stream');
  if (!streams.some((s) => s.codec_type === 'audio')) return E.left('no audio track');
  const duration = [info.format.duration, ...streams.map((s) => s.duration)].map(Number).find((d) => d > 0 && Number.isFinite(d));
  if (duration === undefined) return E.left('unknown duration');
  return E.right({ duration, hasVideo: true, hasAudio: true, width: video.width ?? 0, height: video.height ?? 0 });
}

const readOr = (path: string) => fs.promises.readFile(path).catch(() => Buffer.alloc(0));

/**
 * Decodes the first s.maxSeconds of a clip: frames at s.fps, scaled to cover size x size and centre-cropped,
 * and mono audio resampled by ffmpeg to s.sampleRate.
 * Pass what `probe` said about the file, if you have it, to save a second ffprobe.
 * `await decode('clip.mp4', {fps: 16, size: 48, sampleRate: 16000, maxSeconds: 10})` -> Right({t: 48, h: 48, ...})
 */
export async function decode(file: string, s: DecodeSettings, probed?: Probe): Promise<E.Either<string, Decoded>> {
  const p = probed ? E.right(probed) : await probe(file);
  if (E.isLeft(p)) return p;
  const dir = await fs.promises.mkdtemp(join(tmpdir(), 'avid-ffmpeg-'));
  try {
    const [vOut, aOut, n] = [join(dir, 'video.rgb'), join(dir, 'audio.f32'), s.size];
    const limit = Number.isFinite(s.maxSeconds) ? ['-t', String(s.maxSeconds)] : [];
    // NOTE: 0:V (capital) is the first video stream that is not a cover picture.
    const r = await run('ffmpeg', ['-nostdin', '-v', 'error', ...limit, '-i', input(file),
      '-map', '0:V:0', '-vf', `fps=${s.fps},scale=${n}:${n}:force_original_aspect_ratio=increase,crop=${n}:${n}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', vOut,
      '-map', '0:a:0', '-ac', '1', '-ar', String(s.sampleRate), '-f', 'f32le', aOut,
    ], Math.round(1000 * (120 + 10 * Math.min(p.right.duration, s.maxSeconds))));
    if (r.signal) return E.left(`interrupted (ffmpeg got ${r.signal})`);
    if (r.code !== 0) return E.left(`ffmpeg failed (${messages(r.stderr, file).at(-1) ?? `exit code ${r.code}`})`);
    const [v, a] = await Promise.all([readOr(vOut), readOr(aOut)]);
    const t = Math.floor(v.length / (n * n * 3)), samples = a.length >> 2;
    if (t === 0) return E.left('decoded no frames');
    if (samples === 0) return E.left('decoded no audio');
    // NOTE: ffmpeg exits 0 on most truncated files; only the length tells. One frame of slack for fps rounding.
    const want = Math.min(p.right.duration, s.maxSeconds), got = Math.min(t / s.fps, samples / s.sampleRate);
    if (Math.min((t + 1) / s.fps, samples / s.sampleRate) < 0.9 * want) return E.left(`truncated: decoded ${got.toFixed(1)} s of ${want.toFixed(1)} s`);
    const audio = new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + 4 * samples)); // f32le: this machine's order on x86 and arm
    return E.right({ frames: new Uint8Array(v.buffer, v.byteOffset, t * n * n * 3), t, h: n, w: n, audio });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

export interface Cache {
  readonly dir: string;
  /** The cached decode of a file, read synchronously (for the training loop); undefined if absent or failed. */
  load(file: string, s: DecodeSettings): Decoded | undefined;
  /** The cached result (a failure too), or decode, store and return it. */
  ensure(file: string, s: DecodeSettings, probed?: Probe): Promise<E.Either<string, Decoded>>;
  /** `probe`, remembered (a few hundred bytes per file, keyed like entries), so reopening a folder is quick. */
  probe(file: string): Promise<E.Either<string, Probe>>;
  /** Bytes held by entries this process knows of. */
  bytes(): number;
}

/** `$XDG_CACHE_HOME/avid-fn`, else `~/.cache/avid-fn`. */
export const defaultCacheDir = (): string => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'avid-fn');

const FORMAT = 1;
const pad4 = (n: number) => (n + 3) & ~3;

/** An entry: u32 header length, the JSON header, zeros to a multiple of 4, then the frames and the audio. */
function encodeEntry(r: E.Either<string, Decoded>): Buffer {
  const head = Buffer.from(JSON.stringify(E.isLeft(r) ? { reason: r.left } : { t: r.right.t, h: r.right.h, w: r.right.w, samples: r.right.audio.length }));
  const pre = Buffer.alloc(4 + pad4(head.length));
  pre.writeUInt32LE(head.length, 0);
  head.copy(pre, 4);
  if (E.isLeft(r)) return pre;
  const { frames, audio } = r.right;
  return Buffer.concat([pre, frames, new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength)]);
}

/** The entry's result, or undefined if it is not a whole entry (so a damaged entry is a miss, never garbage). */
function decodeEntry(b: Buffer): E.Either<string, Decoded> | undefined {
  if (b.length < 4) return undefined;
  const n = b.readUInt32LE(0), off = 4 + pad4(n);
  let h: { reason?: string; t?: number; h?: number; w?: number; samples?: number };
  try { h = JSON.parse(b.toString('utf8', 4, 4 + n)); } catch { return undefined; }
  if (typeof h.reason === 'string') return b.length === off ? E.left(h.reason) : undefined;
  const { t = 0, h: height = 0, w = 0, samples = 0 } = h, fb = t * height * w * 3;
  if (b.length !== off + fb + 4 * samples) return undefined;
  const audio = new Float32Array(b.buffer.slice(b.byteOffset + off + fb, b.byteOffset + b.length));
  return E.right({ frames: new Uint8Array(b.buffer, b.byteOffset + off, fb), t, h: height, w, audio });
}

/**
 * A decode cache in `dir` holding at most about maxBytes; least recently used entries go first.
 * Entries are keyed by the file's absolute path, size and mtime, the settings and the format version,
 * so a changed file is decoded again. Each is written under a temporary name and renamed, so a killed
 * writer leaves no entry that loads. `const c = openCache(defaultCacheDir(), 2 ** 30); await c.ensure(f, s)`
 */
export function openCache(dir: string, maxBytes: number): Cache {
  fs.mkdirSync(dir, { recursive: true });
  const entries = () => fs.readdirSync(dir).filter((f) => f.endsWith('.avid')).flatMap((f) => {
    try { const st = fs.statSync(join(dir, f)); return [{ path: join(dir, f), size: st.size, used: st.mtimeMs }]; } catch { return []; }
  });
  let total = entries().reduce((sum, e) => sum + e.size, 0);

  const entryPath = (file: string, s?: DecodeSettings): string | undefined => {
    const path = resolve(file);
    let st: fs.Stats;
    try { st = fs.statSync(path); } catch { return undefined; }
    const key = JSON.stringify([FORMAT, path, st.size, st.mtimeMs, ...(s ? [s.fps, s.size, s.sampleRate, s.maxSeconds] : ['probe'])]);
    return join(dir, `${createHash('sha256').update(key).digest('hex')}.${s ? 'avid' : 'probe'}`);
  };
  const read = (entry: string) => {
    let b: Buffer;
    try { b = fs.readFileSync(entry); } catch { return undefined; }
    const r = decodeEntry(b);
    if (r) try { const now = new Date(); fs.utimesSync(entry, now, now); } catch { /* evicted meanwhile */ }
    return r;
  };
  const evict = () => {
    const now = Date.now();
    for (const f of fs.readdirSync(dir)) { // a killed writer's leftovers, after an hour
      if (f.endsWith('.tmp')) try { if (now - fs.statSync(join(dir, f)).mtimeMs > 3600e3) fs.unlinkSync(join(dir, f)); } catch { /* gone */ }
    }
    const all = entries().sort((a, b) => a.used - b.used);
    total = all.reduce((sum, e) => sum + e.size, 0);
    for (const e of all) {
      if (total <= 0.9 * maxBytes) break;
      try { fs.unlinkSync(e.path); } catch { /* another process evicted it */ }
      total -= e.size;
    }
  };
  const store = async (entry: string, r: E.Either<string, Decoded>) => {
    const data = encodeEntry(r), tmp = `${entry}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, entry);
    total += data.length;
    if (total > maxBytes) evict();
  };

  return {
    dir,
    load(file, s) {
      const entry = entryPath(file, s), r = entry === undefined ? undefined : read(entry);
      return r && E.isRight(r) ? r.right : undefined;
    },
    async ensure(file, s, probed) {
      const entry = entryPath(file, s);
      if (entry === undefined) return decode(file, s, probed); // unreadable: decode says why
      const hit = read(entry);
      if (hit) return hit;
      const r = await decode(file, s, probed);
      if (E.isRight(r) || !r.left.startsWith('interrupted')) await store(entry, r); // a kill is no property of the file
      return r;
    },
    async probe(file) {
      const entry = entryPath(file);
      if (entry === undefined) return probe(file); // unreadable: probe says why
      try { return JSON.parse(fs.readFileSync(entry, 'utf8')) as E.Either<string, Probe>; } catch { /* not cached yet */ }
      const r = await probe(file);
      if (E.isRight(r) || !r.left.startsWith('interrupted')) {
        const tmp = `${entry}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        await fs.promises.writeFile(tmp, JSON.stringify(r));
        await fs.promises.rename(tmp, entry);
      }
      return r;
    },
    bytes: () => total,
  };
}

/**
 * Decodes (through the cache, if given) every file with at most `concurrency` at once; results in input order.
 * `await decodeAll(files, s, cache, {concurrency: 2, onDone: (f, r) => bar.increment()})`
 */
export async function decodeAll(files: readonly string[], s: DecodeSettings, cache: Cache | undefined,
  opts: { concurrency?: number; onDone?: (file: string, result: E.Either<string, Decoded>) => void } = {}): Promise<E.Either<string, Decoded>[]> {
  const out = new Array<E.Either<string, Decoded>>(files.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      out[i] = await (cache ? cache.ensure(files[i], s) : decode(files[i], s));
      opts.onDone?.(files[i], out[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? cpus().length, files.length)) }, worker));
  return out;
}
