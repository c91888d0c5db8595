/**
 * Debug mode for NaN and Inf (JAX's jax_debug_nans). When on, every primitive's output is read back,
 * and the first primitive that makes a NaN or an Inf from finite inputs raises a NanError naming it,
 * its input and output avals, the pass (forward, or the backward pass of which primitive) and the
 * user's call site. A NaN that comes in (an input, or a NaN/Inf attribute such as a pad value) goes
 * through silently: only where one is born is reported. Off by default; when off it costs one boolean
 * check per primitive. When on, every op reads its values back (synchronous, slow): a debugging aid.
 *
 * On with `AVID_DEBUG_NANS=1` in the environment, or at a REPL:
 * `np.debugNans(true); np.log(np.tensor([0]))` → NanError: log: -Inf from finite inputs ...
 */
import { isFloat, type TypedArray } from './dtype.js';
import { env } from './platform/platform.js';
import { fmt, OpError } from './shape.js';
import type { Tensor } from './tensor.js';

/** Whether the check runs: read by trace.ts's `run` once per primitive. */
export let debugNansOn = env('AVID_DEBUG_NANS') === '1';

/** Switch the NaN/Inf check on or off; returns the previous setting. `np.debugNans(true)` */
export function debugNans(on = true): boolean {
  const was = debugNansOn;
  debugNansOn = on;
  return was;
}

let backwardOf: string | undefined;

/** Mark that the vjp rule of `prim` is running (undefined: none); returns the previous mark. */
export function setBackwardOf(prim: string | undefined): string | undefined {
  const was = backwardOf;
  backwardOf = prim;
  return was;
}

/** A primitive made a NaN or an Inf from finite inputs (debug mode only). */
export class NanError extends OpError {
  constructor(op: string, readonly value: string, readonly backwardOf: string | undefined, readonly callSite: string, avals: string) {
    super(op, `${value} from finite inputs (${avals}), in ${backwardOf ? `the backward pass of ${backwardOf}` : 'the forward pass'}, called at ${callSite}`);
    this.name = 'NanError';
  }
}

const firstBad = (a: TypedArray): number => {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) return i;
  return -1;
};

const aval = (t: Tensor) => `${t.dtype} ${fmt(t.shape)}`;

/** Raise a NanError if `out` holds a NaN or Inf that no input (tensor or attribute) brought in. */
export function checkFinite(prim: string, inputs: readonly Tensor[], attrs: unknown, out: Tensor): void {
  if (!isFloat(out.dtype)) return;
  const vals = out.dataSync(), i = firstBad(vals);
  if (i < 0) return;
  if (inputs.some((t) => isFloat(t.dtype) && firstBad(t.dataSync()) >= 0)) return;
  if (attrs && Object.values(attrs).some((v) => typeof v === 'number' && !Number.isFinite(v))) return;
  const v = vals[i] as number, value = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf';
  const avals = `${inputs.length === 1 ? 'input' : 'inputs'} ${inputs.map(aval).join(', ')} -> output ${aval(out)}`;
  throw new NanError(prim, value, backwardOf, callSite(), avals);
}

const coreDir = new URL('.', import.meta.url).pathname;

/** The first stack frame outside core/: where the user's code called in. */
function callSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frame = stack.split('\n').slice(1).find((l) => !l.includes(coreDir) && !l.includes('node:internal'));
  return frame?.trim().replace(/^at /, '') ?? 'an unknown place';
}
