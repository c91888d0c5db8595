/** examples/spirals.ts, core alone: an MLP trained by gradient descent with momentum learns the spirals. */
import test from 'tape';
import { spawnSync } from 'node:child_process';

test('examples/spirals.ts fits the spirals', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/spirals.ts'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  const rows = [...r.stdout.matchAll(/^\s*(\d+)\s+([\d.]+)\s+([\d.]+)%/gm)].map((m) => ({ step: Number(m[1]), loss: Number(m[2]), acc: Number(m[3]) }));
  t.ok(rows.length >= 4, `a row every 100 steps (${rows.length})`);
  t.ok(rows[0].loss > rows[rows.length - 1].loss * 5, `the loss falls: ${rows.map((x) => x.loss).join(', ')}`);
  const acc = Number(/final training accuracy ([\d.]+)%/.exec(r.stdout)?.[1]);
  t.ok(acc > 95, `final training accuracy ${acc}% > 95% (chance 33%)`);
  t.end();
});
