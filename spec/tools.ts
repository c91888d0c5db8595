/**
 * System tools some specs need (ffmpeg, chromium). Where one is missing a spec says it is skipped and
 * why, as the GPU specs do; in CI (CI=true) a missing tool is a failure, since .ci/run installs them all.
 *
 *   const ffmpeg = needTool(test, 'ffmpeg', 'ffmpeg');   // false (and one skip or failure) if absent
 */
import { spawnSync } from 'node:child_process';
import type tape from 'tape';

export const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Whether `command` runs here (`command -v`). */
export const hasTool = (command: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${JSON.stringify(command)}`], { encoding: 'utf8' }).status === 0;

/**
 * True if `command` is on PATH. Otherwise registers one test that is skipped (or, in CI, fails)
 * naming the Debian package to install, and returns false so the caller registers nothing else.
 */
export function needTool(test: typeof tape, command: string, debianPackage: string): boolean {
  if (hasTool(command)) return true;
  const why = `${command} is not installed (apt-get install ${debianPackage})`;
  if (inCi) test(`${command} is available`, (t) => { t.fail(`${why}; .ci/run must install it`); t.end(); });
  else test(`needs ${command}`, { skip: true }, (t) => { t.comment(`skipped: ${why}`); t.end(); });
  return false;
}
