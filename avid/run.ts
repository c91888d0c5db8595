/**
 * A run folder: everything one training run writes, so it can be resumed, evaluated and looked at
 * later without the command line that made it.
 *
 *   RUNDIR/config.json     the decoded options, the clip settings and the audio statistics
 *   RUNDIR/checkpoint/     the training state after the last finished epoch (nn/checkpoint.ts)
 *   RUNDIR/checkpoint-cross/  --objective cma only: the Cross-AVID stage CMA starts from
 *   RUNDIR/metrics.jsonl   one JSON line per training step
 *   RUNDIR/summary.json    clips used, files skipped and why, time taken
 *   RUNDIR/eval.json       probe and retrieval figures (avid eval), eval-random.json the baseline's
 *   RUNDIR/report.html     the report (avid report)
 *
 * Every whole-file write is atomic (temporary file, rename), so a run killed at any moment keeps
 * what it had; metrics.jsonl is appended to and cut back to the checkpoint's step on resume.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A usage error (a bad option, a run folder in the way): reported without a stack, exit code 2. */
export class UsageError extends Error {}

export const runFiles = (dir: string) => ({
  config: join(dir, 'config.json'),
  checkpoint: join(dir, 'checkpoint'),
  metrics: join(dir, 'metrics.jsonl'),
  summary: join(dir, 'summary.json'),
  eval: join(dir, 'eval.json'),
  evalRandom: join(dir, 'eval-random.json'),
  report: join(dir, 'report.html'),
});

/** Write `text` to `file` atomically. */
export function writeAtomic(file: string, text: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export const writeJson = (file: string, value: unknown) => writeAtomic(file, `${JSON.stringify(value, null, 2)}\n`);

/** Parse a JSON file, with an error naming it. */
export function readJson(file: string): unknown {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { throw new Error(`${file}: cannot be read (is this a run folder?)`); }
  try { return JSON.parse(text); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message})`); }
}

/** The metrics rows of a run (a torn last line, from a kill mid-write, is dropped). */
export function readMetrics(dir: string): Record<string, number>[] {
  const file = runFiles(dir).metrics;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').flatMap((line) => {
    try { return line ? [JSON.parse(line) as Record<string, number>] : []; } catch { return []; }
  });
}

/** Keep only the metrics rows up to `step` (what the checkpoint a run resumes from had seen). */
export function cutMetrics(dir: string, step: number): void {
  const rows = readMetrics(dir).filter((r) => r.step <= step);
  writeAtomic(runFiles(dir).metrics, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export const appendMetrics = (dir: string, row: Record<string, number>) => appendFileSync(runFiles(dir).metrics, `${JSON.stringify(row)}\n`);
