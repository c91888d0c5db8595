/**
 * The test runner: runs every spec/**\/*.spec.ts (or those whose path contains an argument), each in
 * its own Node process under tape, echoes the TAP, and ends with the plain line `N passed, N failed`
 * that CI reads. A spec file that crashes (dies before tape's closing plan `1..N`, or by a signal)
 * counts as one failure of its own on top of any failed assertions before it, since the tests after the
 * crash never ran; so does a file that exits non-zero with no failed assertion, and a file that ran no
 * assertion at all (tests skipped on purpose, `# SKIP`, are reported as skipped instead). Exits
 * non-zero if anything failed or nothing ran.
 *
 * A file whose first line is `/** @backends cpu gpu` runs once per backend (AVID_BACKEND=gpu for the
 * second run, under `xvfb-run -a` when there is no display). `gpu-hw` is the gpu backend again, on
 * the routes it takes on a real GPU (AVID_GPU_SOFTWARE=0: larger one-launch matmuls, for one) on
 * whatever renderer is here: in CI, Mesa's llvmpipe, which would otherwise test only its own routes.
 * Where the GPU cannot start, the GPU runs are skipped with a message, except in CI (CI=true), where
 * that is a failure: the GPU suite must run there, and AVID_REQUIRE_GPU=1 stops gpu.js from silently
 * falling back to the CPU.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const only = process.argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
const inCi = process.env.CI === 'true' || process.env.CI === '1';

function find(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'bench' ? [] : find(p);
    return name.endsWith('.spec.ts') ? [p] : [];
  });
}

const hasXvfb = spawnSync('sh', ['-c', 'command -v xvfb-run'], { encoding: 'utf8' }).status === 0;

/** The command that runs a spec file on `backend`. */
function command(file: string, backend: string): [string, string[], NodeJS.ProcessEnv] {
  const node: [string, string[]] = [process.execPath, ['--expose-gc', '--import', 'tsx', file]];
  const gpu = backend.startsWith('gpu');
  const env = { ...process.env, AVID_BACKEND: gpu ? 'gpu' : backend, ...(gpu ? { AVID_REQUIRE_GPU: '1' } : {}), ...(backend === 'gpu-hw' ? { AVID_GPU_SOFTWARE: '0' } : {}) };
  if (gpu && !process.env.DISPLAY && hasXvfb) return ['xvfb-run', ['-a', ...node[0] ? [node[0], ...node[1]] : []], env];
  return [node[0], node[1], env];
}

let gpuOk: boolean | undefined;
function gpuWorks(): boolean {
  if (gpuOk !== undefined) return gpuOk;
  const probe = join(root, 'gpu-probe.ts');
  const [cmd, args, env] = command(probe, 'gpu');
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  gpuOk = r.status === 0;
  if (!gpuOk) console.log(`# the gpu backend cannot start here: ${(r.stdout + r.stderr).trim().split('\n').filter((l) => !/Unknown user config/.test(l)).slice(-3).join(' | ')}`);
  return gpuOk;
}

const files = find(root).filter((f) => filters.length === 0 || filters.some((q) => relative(root, f).includes(q)));
let passed = 0, failed = 0, skipped = 0;
const failures: string[] = [];

for (const file of files) {
  const tag = /^\/\*\* @backends ([a-z -]+)/.exec(readFileSync(file, 'utf8'));
  const backends = (tag ? tag[1].trim().split(/\s+/) : ['cpu']).filter((b) => !only || b === only);
  for (const backend of backends) {
    const name = relative(root, file) + (tag ? ` [${backend}]` : '');
    if (backend.startsWith('gpu') && !gpuWorks()) {
      if (inCi) { failed++; failures.push(`${name}: the gpu backend cannot start in CI`); }
      else { skipped++; console.log(`# ${name}: skipped (no GPU context here; run under xvfb-run)`); }
      continue;
    }
    console.log(`\n### ${name}`);
    const t0 = Date.now();
    const [cmd, args, env] = command(file, backend);
    const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
    let p = 0, f = 0, s = 0, plan: number | undefined;
    const lines = (r.stdout ?? '').split('\n');
    lines.forEach((line, i) => {
      if (/^ok \d+.*# SKIP/.test(line) || /^# SKIP /.test(line)) s++;
      else if (/^ok \d+/.test(line)) p++;
      else if (/^not ok \d+/.test(line)) {
        f++;
        failures.push(`${name}: ${line}\n${lines.slice(i + 1, i + 9).filter((l) => l.startsWith('  ')).join('\n')}`);
      }
      const m = /^1\.\.(\d+)$/.exec(line);
      if (m) plan = Number(m[1]);
    });
    skipped += s;
    process.stdout.write(r.stdout ?? '');
    if (r.stderr) process.stdout.write(r.stderr.split('\n').filter((l) => !/Unknown user config/.test(l)).join('\n'));
    const how = r.signal ?? `code ${r.status}`, stderrTail = (r.stderr ?? '').slice(-2000);
    if (r.signal || plan === undefined) {
      // tape prints its plan when every test has run: without it the tests after the crash never ran
      f++;
      failures.push(`${name}: crashed (exited with ${how} before tape's closing plan) after ${p} passed and ${f - 1} failed assertions; the tests after the crash never ran\n${stderrTail}`);
    } else if (r.status !== 0 && f === 0) {
      f++;
      failures.push(`${name}: exited with ${how} after ${p} assertions and none failed\n${stderrTail}`);
    } else if (p + f === 0 && s === 0) {
      f++;
      failures.push(`${name}: ran no assertion (a test file that checks nothing passes whatever the code does)`);
    }
    console.log(`# ${name}: ${p} passed, ${f} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    passed += p;
    failed += f;
  }
}

if (failures.length) console.log(`\nFailures:\n${failures.join('\n')}`);
if (files.length === 0) console.log(`no spec file matched ${JSON.stringify(filters)}`);
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
