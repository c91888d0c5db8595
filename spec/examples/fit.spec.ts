/** examples/fit.ts, an MLP of nn layers fitted with a jitted gradient and Adam, learns the spirals. */
import test from 'tape';
import { spawnSync } from 'node:child_process';

test('examples/fit.ts fits the spirals', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/fit.ts'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  const losses = [...r.stdout.matchAll(/loss ([\d.]+)/g)].map((m) => Number(m[1]));
  t.equal(losses.length, 4, 'a loss every 100 steps');
  t.ok(losses[0] > 1 && losses[3] < 0.2, `the loss falls from about log 3 to under 0.2: ${losses.join(', ')}`);
  const acc = Number(/training accuracy ([\d.]+)%/.exec(r.stdout)?.[1]);
  t.ok(acc > 90, `training accuracy ${acc}% > 90%`);
  t.end();
});
