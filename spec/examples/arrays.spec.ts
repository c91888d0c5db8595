/** examples/arrays.ts, the "AVID on your own arrays" example, runs and trains. */
import test from 'tape';
import { spawnSync } from 'node:child_process';

test('examples/arrays.ts trains on arrays in memory', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/arrays.ts'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  const losses = (/NCE loss per step: (.*)/.exec(r.stdout)?.[1] ?? '').split(', ').map(Number);
  t.equal(losses.length, 4, 'two epochs of two batches');
  t.ok(losses.every(Number.isFinite), `finite losses: ${losses.join(', ')}`);
  t.end();
});
