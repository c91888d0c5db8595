/**
 * `npm run bench [-- args]`: every benchmark in turn, each in its own process: the op table against
 * tfjs and jax-js (index.ts, which takes the arguments, e.g. --json FILE or --quick), one training step
 * of the tiny encoders against tfjs (nn-step.ts), the Cross-AVID step per backend (avid-step.ts), and
 * the memory bank's update cost (bank.ts).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const args = process.argv.slice(2);
const runs: [string, string[]][] = [
  ['index.ts', args],
  ['nn-step.ts', args.includes('--quick') ? ['--quick'] : []],
  ['avid-step.ts', []],
  ['bank.ts', []],
];
let failed = 0;
for (const [file, a] of runs) {
  console.log(`\n=== spec/bench/${file} ${a.join(' ')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', here(file), ...a], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.log(`spec/bench/${file} exited with ${r.status ?? r.signal}`); }
}
process.exitCode = failed ? 1 : 0;
