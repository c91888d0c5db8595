/** @backends cpu gpu
 *
 * NaN debug mode (core/nans.ts): off by default; when on, the first primitive that makes a NaN or Inf
 * from finite inputs raises a NanError naming it, its avals, the pass and the caller's line, forward
 * or inside a vjp; NaNs that come in pass through.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import * as np from '../../core/index.js';
import { throwsWith } from '../helpers.js';

const T = (x: np.NestedArray) => np.tensor(x);
const here = /nans\.spec\.ts:\d+:\d+/;

/** `f` with the debug mode on, then back to what it was. */
function debugging<R>(f: () => R): R {
  const was = np.debugNans(true);
  try { return f(); } finally { np.debugNans(was); }
}

test('off by default: log(0) and 0/0 give -Inf and NaN silently', (t) => {
  t.equal(np.debugNans(false), false, 'the mode was off');
  t.deepEqual(np.log(T([0, 1])).toArray(), [-Infinity, 0], 'log(0) = -Inf');
  t.ok(Number.isNaN(np.div(T([0]), T([0])).toArray()[0]), '0/0 = NaN');
  t.end();
});

test('forward: the primitive that makes -Inf or NaN is named, with its avals and the caller', (t) => {
  debugging(() => {
    throwsWith(t, () => np.log(T([[1, 0]])), [/^log: -Inf from finite inputs/, /input float32 \[1, 2\] -> output float32 \[1, 2\]/, /forward pass/, here], 'log(0)');
    throwsWith(t, () => np.div(T([1, 0]), T([1, 0])), [/^div: NaN/, /inputs float32 \[2\], float32 \[2\] -> output float32 \[2\]/, here], '0/0');
    // a composite names the primitive inside it where the NaN was born, not itself
    throwsWith(t, () => np.mean(np.zeros([0])), [/^div: NaN/, here], 'mean of nothing: 0/0 inside mean');
    try { np.log(T([0])); } catch (e) { t.ok(e instanceof np.NanError && e instanceof np.OpError, 'a NanError is an OpError'); }
  });
  t.end();
});

test('backward: a NaN/Inf born in a vjp rule says whose backward pass', (t) => {
  debugging(() => {
    // d sqrt(x)/dx = 1 / (2 sqrt(x)) is Inf at 0, while sqrt(0) = 0 is fine
    throwsWith(t, () => np.grad((x: np.Tensor) => np.sum(np.sqrt(x)))(T([0, 1])), [/^div: Inf/, /in the backward pass of sqrt/, here], 'grad of sqrt at 0');
    const f = np.customVjp((x: np.Tensor) => np.mul(x, 2), (x: np.Tensor) => [np.mul(x, 2), x], (x, _ct) => [np.div(np.sub(x, x), np.sub(x, x))]);
    throwsWith(t, () => np.grad((x: np.Tensor) => np.sum(f(x)))(T([3])), [/^div: NaN/, /in the backward pass of customVjp/, here], 'a custom vjp making 0/0');
    // the pass is restored after the error: a later forward NaN says forward
    throwsWith(t, () => np.log(T([0])), [/^log: -Inf/, /forward pass/], 'forward again after a backward error');
  });
  t.end();
});

test('a NaN or Inf that comes in (an input, or an attribute such as a pad value) is not reported', (t) => {
  debugging(() => {
    t.ok(Number.isNaN(np.add(T([NaN, 1]), 1).toArray()[0]), 'NaN input through add: NaN out, no error');
    t.deepEqual(np.exp(T([-Infinity])).toArray(), [0], 'exp(-Inf) = 0');
    // maxPool pads with -Inf (an attribute of unfold): that padding is not a NaN born there
    t.deepEqual(np.maxPool(np.ones([1, 1, 2, 2]), { kernel: [2, 2], padding: 1 }).toArray(), [[[[1, 1], [1, 1]]]], 'maxPool with padding: windows of 1 value and 3 pads');
    t.deepEqual(np.sqrt(T([4])).toArray(), [2], 'finite in, finite out');
  });
  t.end();
});

test('AVID_DEBUG_NANS=1 switches the mode on for a whole run', (t) => {
  const code = `import * as np from ${JSON.stringify(new URL('../../core/index.ts', import.meta.url).href)};
    try { np.log(np.tensor([0])); console.log('silent'); } catch (e) { console.log(String(e)); }`;
  const run = (v: string) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, AVID_DEBUG_NANS: v } }).stdout.trim();
  t.match(run('1'), /NanError: log: -Inf/, 'AVID_DEBUG_NANS=1: log(0) raises');
  t.equal(run(''), 'silent', 'unset: silent');
  t.end();
});
