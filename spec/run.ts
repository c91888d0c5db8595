/**
 * The test runner: runs every spec/**\/*.spec.ts (or those whose path contains an argument), each in
 * its own Node process under tape, echoes the TAP, and ends with the plain line `N passed, N failed`
 * that CI reads. A spec file that crashes or exits non-zero without a failed assertion counts as one
 * failure, so a crash can never pass silently. Exits non-zero if anything failed or nothing ran.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);

function find(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'bench' ? [] : find(p);
    return name.endsWith('.spec.ts') ? [p] : [];
  });
}

const files = find(root).filter((f) => filters.length === 0 || filters.some((q) => relative(root, f).includes(q)));
let passed = 0, failed = 0;
const failures: string[] = [];

for (const file of files) {
  const name = relative(root, file);
  console.log(`\n### ${name}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  let p = 0, f = 0;
  const lines = (r.stdout ?? '').split('\n');
  lines.forEach((line, i) => {
    if (/^ok \d+/.test(line)) p++;
    else if (/^not ok \d+/.test(line)) {
      f++;
      failures.push(`${name}: ${line}\n${lines.slice(i + 1, i + 9).filter((l) => l.startsWith('  ')).join('\n')}`);
    }
  });
  process.stdout.write(r.stdout ?? '');
  if (r.stderr) process.stdout.write(r.stderr.split('\n').filter((l) => !/Unknown user config/.test(l)).join('\n'));
  if ((r.status !== 0 || r.signal) && f === 0) {
    f++;
    failures.push(`${name}: exited with ${r.signal ?? `code ${r.status}`} after ${p} assertions\n${(r.stderr ?? '').slice(-2000)}`);
  }
  console.log(`# ${name}: ${p} passed, ${f} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  passed += p;
  failed += f;
}

if (failures.length) console.log(`\nFailures:\n${failures.join('\n')}`);
if (files.length === 0) console.log(`no spec file matched ${JSON.stringify(filters)}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
