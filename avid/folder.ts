/**
 * A dataset folder as a listing: which video files, in which split, with which class label. Nothing is
 * decoded here (avid/ffmpeg.ts does that), only names are read, so a listing is quick and deterministic.
 *
 * The layout is UCF-101's, or torchvision's ImageFolder: `dir/train/<class>/clip.mp4` and
 * `dir/test/<class>/clip.mp4`; without a train/ or test/ folder, the whole of `dir` is the split `train`.
 * A clip's class is the first folder below its split root; a clip directly in the split root is unlabelled.
 * Videos are found by extension, in any letter case; other files, and names starting with '.', are
 * ignored; symbolic links are followed. With train/ or test/ present, nothing else in `dir` is read.
 */
import * as fs from 'node:fs';
import { extname, join, resolve } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';

/** The extensions taken for video files (any container ffmpeg reads has one of these). */
export const videoExtensions = ['mp4', 'm4v', 'mkv', 'webm', 'avi', 'mov', 'mpg', 'mpeg', 'ogv', 'flv', 'wmv', '3gp', 'ts'];

export type Split = 'train' | 'test';

export interface Item {
  /** absolute path */
  path: string;
  /** path relative to the dataset folder, with '/', for display */
  name: string;
  /** index into Listing.classes; -1 if unlabelled */
  label: number;
}

export interface Listing {
  /** the dataset folder, absolute */
  dir: string;
  /** items sorted by name; an absent split is [] */
  splits: Record<Split, Item[]>;
  /** sorted union of the class folder names of all splits, so labels agree across splits */
  classes: string[];
}

const stat = (path: string) => { try { return fs.statSync(path); } catch { return undefined; } };
const isVideo = (name: string) => videoExtensions.includes(extname(name).slice(1).toLowerCase());
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Video files below `dir` as relative path segments, following links (a link back up is not followed). */
function walk(dir: string, above: ReadonlySet<string> = new Set()): string[][] {
  let real: string, names: string[];
  try { real = fs.realpathSync(dir); names = fs.readdirSync(dir); } catch { return []; }
  if (above.has(real)) return [];
  const here = new Set(above).add(real);
  return names.filter((n) => !n.startsWith('.')).flatMap((n) => {
    const st = stat(join(dir, n));
    if (st?.isDirectory()) return walk(join(dir, n), here).map((rest) => [n, ...rest]);
    return st?.isFile() && isVideo(n) ? [[n]] : [];
  });
}

/**
 * Lists a dataset folder into splits, items and classes, or says why it cannot (naming the path).
 * `listFolder('data/ucf')` -> Right({dir, splits: {train: [...], test: [...]}, classes: ['ApplyEyeMakeup', ...]})
 */
export function listFolder(dir: string): E.Either<string, Listing> {
  const root = resolve(dir), st = stat(root);
  if (!st) return E.left(`${root}: no such folder`);
  if (!st.isDirectory()) return E.left(`${root}: not a folder`);
  const hasSplits = (['train', 'test'] as const).some((s) => stat(join(root, s))?.isDirectory());
  const found = {
    train: hasSplits ? walk(join(root, 'train')).map((p) => ['train', ...p]) : walk(root).map((p) => ['', ...p]),
    test: hasSplits ? walk(join(root, 'test')).map((p) => ['test', ...p]) : [],
  };
  const all = [...found.train, ...found.test];
  if (all.length === 0) return E.left(`${root}: no video files (looked for .${videoExtensions.join(', .')} in any letter case)`);
  // a path is [split root, ...folders, file]; its class is the first folder
  const classes = [...new Set(all.filter((p) => p.length > 2).map((p) => p[1]))].sort(byName);
  const items = (paths: string[][]): Item[] => paths.map((p) => {
    const name = p.filter(Boolean).join('/');
    return { path: join(root, ...p), name, label: p.length > 2 ? classes.indexOf(p[1]) : -1 };
  }).sort((a, b) => byName(a.name, b.name));
  return E.right({ dir: root, splits: { train: items(found.train), test: items(found.test) }, classes });
}
