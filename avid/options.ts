/**
 * The options of the `avid` command line and of a run folder's config.json: each one's io-ts type,
 * help text and default, and their decoding (command line > config file > defaults) into typed
 * values, or a UsageError naming the option (or config key), the value and what is allowed.
 */
import { existsSync } from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { readJson, UsageError } from './run.js';

const Positive = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
const NonNegative = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0');
const Rate = t.refinement(t.number, (n) => n > 0 && n < 1, 'a number between 0 and 1');
const PositiveNumber = t.refinement(t.number, (n) => n > 0 && Number.isFinite(n), 'a positive number');

/** Every option: its io-ts type, help text and default. Commands pick theirs from here. */
export const fields = {
  data: { type: t.string, help: 'a folder of videos (train/ and test/ splits, class folders); default: the built-in synthetic data', arg: 'DIR' },
  objective: { type: t.keyof({ cross: null, self: null, joint: null, cma: null }), help: 'AVID objective', def: 'cross' },
  objectives: { type: t.array(t.keyof({ cross: null, self: null, joint: null, cma: null })), help: 'objectives to compare, comma-separated', def: ['cross'], list: true },
  epochs: { type: Positive, help: 'training epochs', def: 18 },
  batch: { type: Positive, help: 'clips per step', def: 16 },
  lr: { type: Rate, help: 'Adam learning rate (the authors use 1e-4 .. 5e-4)', def: 5e-4 },
  negatives: { type: Positive, help: 'NCE negatives per clip (at most clips - 1)', def: 256 },
  zWarmup: { type: NonNegative, help: 'epochs before NCE\'s Z is frozen, once the banks hold real embeddings (0: from the first batch, as the authors)', def: 1 },
  seed: { type: NonNegative, help: 'random seed: same seed, same run', def: 0 },
  seeds: { type: Positive, help: 'seeds to run, from --seed on; more than one prints mean ± sd', def: 1 },
  backend: { type: t.keyof({ cpu: null, gpu: null }), help: 'compute backend', def: 'cpu' },
  train: { type: Positive, help: 'built-in data: training clips', def: 384 },
  test: { type: Positive, help: 'built-in data: test clips', def: 192 },
  frames: { type: Positive, help: 'video frames per clip', def: 8 },
  size: { type: Positive, help: 'frame size in pixels (square)', def: 32 },
  fps: { type: PositiveNumber, help: 'video frames per second', def: 16 },
  sampleRate: { type: Positive, help: 'audio sample rate (Hz)', def: 16000 },
  audioSeconds: { type: PositiveNumber, help: 'audio window (s)', def: 2 },
  mels: { type: NonNegative, help: 'log-mel bands (0: the linear 129-bin spectrogram)', def: 40 },
  maxSeconds: { type: PositiveNumber, help: 'decode at most this much of each video (s)', def: 10 },
  windows: { type: Positive, help: 'evaluation windows averaged per clip (compare: per test clip)', def: 10 },
  cache: { type: t.string, help: 'decoded-clip cache folder (default ~/.cache/avid-fn)', arg: 'DIR' },
  cacheGb: { type: PositiveNumber, help: 'cache size bound in GB', def: 4 },
  jobs: { type: Positive, help: 'ffmpeg processes at once (default: CPU count)' },
} as const;

type Fields = typeof fields;
export type Name = keyof Fields;
export type Options = { [K in Name]: t.TypeOf<Fields[K]['type']> };

export const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const typeName = (c: t.Mixed): string => c instanceof t.KeyofType ? `one of ${Object.keys(c.keys).join(', ')}` : c instanceof t.ArrayType ? `a comma-separated list of ${typeName(c.type)}` : c.name;

/** Turn a typed string into the field's type (numbers stay strings when they are not numbers, so io-ts names them). */
function coerce(name: Name, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const f = fields[name] as { type: t.Mixed; list?: boolean };
  if ('list' in f && f.list) return v.split(',').map((s) => s.trim()).filter(Boolean);
  const numeric = !(f.type === t.string || f.type instanceof t.KeyofType);
  return numeric && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

/** A --data folder must exist (it is read long before anything else would fail). */
export const checkData = (dir: unknown) => { if (typeof dir === 'string' && !existsSync(dir)) throw new UsageError(`--data: no such folder ${JSON.stringify(dir)}`); };

/** Decode the options `names` from (command line > config file > defaults), or throw a UsageError naming the culprit. */
export function decodeOptions<N extends Name>(names: readonly N[], cli: Record<string, unknown>, configFile?: string): Pick<Options, N> {
  const fromFile: Record<string, unknown> = {};
  if (configFile) {
    if (!existsSync(configFile)) throw new UsageError(`--config: no such file ${JSON.stringify(configFile)}`);
    let raw: unknown;
    try { raw = readJson(configFile); } catch (e) { throw new UsageError(`--config: ${(e as Error).message}`); }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`--config: ${configFile} must hold a JSON object of options, e.g. {"epochs": 4}`);
    for (const [k, v] of Object.entries(raw)) {
      if (!(names as readonly string[]).includes(k)) throw new UsageError(`--config: ${configFile} has unknown key "${k}"; this command takes: ${names.join(', ')}`);
      fromFile[k] = v;
    }
  }
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const f = fields[name] as { type: t.Mixed; def?: unknown };
    const given = cli[name] !== undefined ? { v: coerce(name, cli[name]), where: flag(name) } : fromFile[name] !== undefined ? { v: fromFile[name], where: `${configFile}: "${name}"` } : undefined;
    if (!given) { out[name] = f.def; continue; }
    const r = f.type.decode(given.v);
    if (isLeft(r)) throw new UsageError(`${given.where}: expected ${typeName(f.type)}, got ${JSON.stringify(cli[name] ?? given.v)}`);
    out[name] = r.right;
  }
  return out as Pick<Options, N>;
}

/**
 * Check the options a run folder's config.json recorded (`file` names it in errors): every known one
 * must decode to its type; keys this version does not know are left alone. Throws naming the key.
 */
export function checkSavedOptions(file: string, saved: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(saved)) {
    if (!(k in fields)) continue;
    const f = fields[k as Name] as { type: t.Mixed };
    if (isLeft(f.type.decode(v))) throw new Error(`${file}: "options.${k}": expected ${typeName(f.type)}, got ${JSON.stringify(v)}`);
  }
}
