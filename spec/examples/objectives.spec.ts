/**
 * examples/objectives.ts at a CI-sized budget: it exits 0, every row's figures are finite, each new
 * objective's loss falls from the first epoch to the last, and each method's probes beat chance.
 * (Its losses are checked by hand in objectives-losses.spec.ts.)
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';

/**
 * The CI-sized run trains each method for 12 steps of 8 clips: enough for every new loss to fall, not
 * for retrieval to leave chance. R@1 is printed against chance but not asserted: at this budget, and
 * at the example's default one (6 epochs of 64 clips), R@1 sits within a hit or two of 1/N for every
 * method, Cross-AVID included (npm start's 18 epochs of 384 clips reach about 10x chance).
 */
const args = ['--train', '16', '--test', '16', '--epochs', '6', '--batch', '8', '--lr', '2e-3', '--no-baseline'];

test('examples/objectives.ts at a CI-sized budget: every method trains, and its figures are finite', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/objectives.ts', ...args], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  console.log(r.stdout.trim().split('\n').map((l) => `# ${l}`).join('\n'));
  const testClips = Number(/and (\d+) test clips/.exec(r.stdout)?.[1]);
  const rows = new Map(r.stdout.split('\n').flatMap((line) => {
    const m = /^(Cross-AVID|InfoNCE|CLIP|DCL)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$/.exec(line);
    return m ? [[m[1], m.slice(2).map(Number)] as const] : [];
  }));
  t.deepEqual([...rows.keys()], ['Cross-AVID', 'InfoNCE', 'CLIP', 'DCL'], 'one row per method');
  for (const [label, [first, final, v2a, a2v, video, audio]] of rows) {
    t.ok([first, final, v2a, a2v, video, audio].every(Number.isFinite), `${label}: every figure is finite`);
    t.ok([v2a, a2v, video, audio].every((x) => x >= 0 && x <= 100), `${label}: R@1 and probe accuracies are percentages`);
    if (label !== 'Cross-AVID') t.ok(final < first, `${label}: the loss falls from the first epoch to the last, ${first} -> ${final}`);
    t.ok(Math.min(video, audio) > 100 / 8, `${label}: both probes above chance (12.5%): ${video}% / ${audio}%`);
    t.comment(`${label}: R@1 ${v2a}% / ${a2v}%, chance ${(100 / testClips).toFixed(1)}% (not asserted at this budget)`);
  }
  t.end();
});
