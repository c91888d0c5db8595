/** The whole tree typechecks under strict TypeScript: a type error fails the suite like any test. */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

test('tsc --noEmit (strict) reports no errors', (t) => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', root], { encoding: 'utf8' });
  t.equal(r.status, 0, r.status === 0 ? 'typechecks' : `type errors:\n${r.stdout.slice(0, 4000)}`);
  t.end();
});
