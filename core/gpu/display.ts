/**
 * headless-GL needs an X display even to render off-screen. Entry points that want the GPU (npm start,
 * npm run bench) call `ensureDisplay()` first: with no DISPLAY and `xvfb-run` installed, it runs the same
 * command again under `xvfb-run -a` and exits with its status. Otherwise it does nothing, and the
 * GPU backend, if asked for, reports that it cannot start.
 */
import { spawnSync } from 'node:child_process';

export function ensureDisplay(): void {
  if (process.env.DISPLAY || process.env.AVID_NO_XVFB || process.platform !== 'linux') return;
  if (spawnSync('sh', ['-c', 'command -v xvfb-run'], { stdio: 'ignore' }).status !== 0) return;
  const r = spawnSync('xvfb-run', ['-a', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, AVID_NO_XVFB: '1' },
  });
  process.exit(r.status ?? 1);
}
