/**
 * Fusion: a chain of elementwise primitives becomes one kernel, so its intermediates are never
 * written to memory. jit (core/jit.ts) finds the chains; this file turns one into a primitive with a
 * kernel per backend, generated from the ops' scalar forms (Primitive.elementwise):
 * - cpu: one loop over the output (core/cpu/loops.ts), every operand read through its broadcast
 *   strides, and each op's result rounded to its dtype as its own kernel would store it
 *   (Math.fround for float32, `| 0` for int32), so fused and unfused agree bit for bit;
 * - gpu: one gpu.js shader whose body is the ops' expressions, one `const` per op.
 */
import type { Aval, Kernel } from './backend.js';
import { alloc, type DType, type TypedArray } from './dtype.js';
import type { Primitive } from './primitive.js';
import { registerKernels } from './primitive.js';
import { broadcastIndex, coords, shader } from './gpu/shader.js';
import { elementwisePlan } from './prims/_elementwise.js';
import { loop } from './cpu/loops.js';

/** One op of a fused group: its primitive and attrs, and where its operands come from. */
export interface FusedOp {
  readonly prim: Primitive<any>;
  readonly attrs: any;
  /** operands: `{ input: i }` is the group's i-th input, `{ op: j }` the result of the group's j-th op */
  readonly args: readonly ({ input: number } | { op: number })[];
  readonly inDtypes: readonly DType[];
  readonly out: Aval;
}

let fusedCount = 0;

/**
 * A primitive that runs `ops` (in order; the last one's result is the output) as one kernel over
 * `out`, reading `inputs` (avals broadcastable to out.shape). Its name lists the ops.
 */
export function fusedPrimitive(ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval): Primitive<{}> {
  const name = `fused[${ops.map((o) => o.prim.name).join(' ')}]#${++fusedCount}`;
  const prim: Primitive<{}> = {
    name,
    infer: () => out,
    kernels: { cpu: cpuKernel(name, ops, inputs, out), gpu: shader(() => gpuSource(ops, inputs, out)) },
  };
  registerKernels(name, prim.kernels);
  return prim;
}

const round = (dtype: DType, e: string): string =>
  dtype === 'float32' ? `Math.fround(${e})` : dtype === 'int32' ? `(${e}) | 0` : dtype === 'bool' ? `+((${e}) !== 0)` : e;

function cpuKernel(name: string, ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval): Kernel<TypedArray, {}> {
  const body = ops.map((op, j) => {
    const xs = op.args.map((a) => ('input' in a ? `x${a.input}` : `t${a.op}`));
    return `const t${j} = ${round(op.out.dtype, `F${j}(${xs.join(', ')})`)};`;
  });
  const run = loop({
    name, operands: [...inputs.map((_, i) => `x${i}`), 'y='], params: ops.map((_, j) => `F${j}`),
    body: `${body.join(' ')} y = t${ops.length - 1};`,
  });
  const p = elementwisePlan(out.shape, inputs.map((x) => x.shape));
  const fns = ops.map((op) => op.prim.elementwise!.cpu(op.inDtypes, op.attrs, op.out.dtype));
  return (args) => {
    const res = alloc(out.dtype, p.n);
    run(p, [...args.map((a) => a.buf), res], fns);
    return res;
  };
}

function gpuSource(ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval): string {
  const reads = inputs.map((x, i) => `const x${i} = X${i}[${broadcastIndex(x.shape, out.shape)}];`);
  const body = ops.map((op, j) => {
    const xs = op.args.map((a) => ('input' in a ? `x${a.input}` : `t${a.op}`));
    return `const t${j} = ${op.prim.elementwise!.gpu(xs, op.inDtypes, op.attrs, op.out.dtype)};`;
  });
  return `function (${inputs.map((_, i) => `X${i}`).join(', ')}) {
  ${out.shape.length ? coords(out.shape) : ''}
  ${reads.join('\n  ')}
  ${body.join('\n  ')}
  return t${ops.length - 1};
}`;
}

