/**
 * System tools some specs need (ffmpeg, chromium). Where one is missing a spec says it is skipped and
 * why, as the GPU specs do; in CI (CI=true) a missing tool is a failure, since .ci/run installs them all.
 *
 *   const ffmpeg = needTool(test, 'ffmpeg', 'ffmpeg');   // false (and one skip or failure) if absent
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
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

const require = createRequire(import.meta.url);

/** Whether an npm package resolves from here; if not, one skipped test (a failure in CI) saying so. */
export function needPackage(test: typeof tape, name: string): boolean {
  try { require.resolve(name); return true; } catch { /* not installed */ }
  const why = `the npm package ${name} is not installed (npm install)`;
  if (inCi) test(`${name} is available`, (t) => { t.fail(`${why}; CI must have it`); t.end(); });
  else test(`needs ${name}`, { skip: true }, (t) => { t.comment(`skipped: ${why}`); t.end(); });
  return false;
}

/** Debian's Chromium, headless, with WebGL2 on SwiftShader (no GPU needed), as the browser specs run it. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
