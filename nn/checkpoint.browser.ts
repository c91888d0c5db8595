/**
 * checkpoint.ts for browsers, swapped in by bundlers through package.json's "browser" field: a
 * checkpoint is a directory written with fsync and rename, which a page has no way to do. Saving and
 * loading say so; everything else in nn/ works in a page.
 */
import type { LoadOptions } from './checkpoint.js';

export type { LoadOptions };

const noFs = (what: string) => new Error(`${what}: checkpoints are directories on a filesystem, which a browser page has not (save and load them in Node)`);

export function saveCheckpoint(dir: string, _tree: unknown, _metadata: Record<string, unknown> = {}): void {
  throw noFs(`saveCheckpoint(${JSON.stringify(dir)})`);
}

export function loadCheckpoint<T = any>(dir: string, _opts: LoadOptions<T> = {}): { tree: T; metadata: Record<string, unknown> } {
  throw noFs(`loadCheckpoint(${JSON.stringify(dir)})`);
}
