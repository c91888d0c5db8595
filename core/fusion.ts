/**
 * Fusion: a chain of elementwise primitives becomes one kernel, so its intermediates are never
 * written to memory. jit (core/jit.ts) finds the chains; this file turns one into a primitive with a
 * kernel per backend, generated from the ops' scalar forms (Primitive.elementwise):
 * - cpu: one loop over the output (core/cpu/loops.ts), every operand read through its broadcast
 *   strides, and each op's result rounded to its dtype as its own kernel would store it
 *   (Math.fround for float32, `| 0` for int32), so fused and unfused agree bit for bit;
 * - gpu: one gpu.js shader whose body is the ops' expressions, one `const` per op.
 * A chain whose result only a sum reads fuses into the sum (`fusedSumPrimitive`), so the chain's result
 * is never written: on the CPU the loop walks the chain's shape in the sum's own order, adding each
 * rounded result to its output's float64 accumulator (the unfused total bit for bit); on the GPU each
 * output's shader loops over its reduced positions as sum's does, computing the chain at each.
 */
import type { Aval, GpuBuf, Kernel } from './backend.js';
import { alloc, allocResult, type DType, type TypedArray } from './dtype.js';
import type { Primitive } from './primitive.js';
import { registerKernels } from './primitive.js';
import { type Bound, boundCheck, coords, dot, elementwiseSource, type GpuKernel, lit, names, readStrides, splitReduction, splitStrides } from './gpu/shader.js';
import { reduceRuns } from './prims/sum.js';
import { loop, plan, reducedStrides } from './cpu/loops.js';
import { simdChain } from './cpu/simd.js';
import { broadcastStrides, sizeOf, stridesOf } from './shape.js';

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
 * Where a fused kernel finds an input that is a slice of another tensor (jit reads slices through
 * rather than copying them out): the element at coordinates c of the input's aval is the source's
 * flat element `offset + sum(c[d] * strides[d])`.
 */
export interface View { readonly offset: number; readonly strides: readonly number[] }

export interface FusedOptions {
  /**
   * For an input that never changes (a 0-d constant of the program), a function giving its value,
   * called once when the GPU shader is first written; the shader then has it as a literal instead of
   * reading a texture at every element.
   */
  readonly constants?: readonly ((() => number) | undefined)[];
  /**
   * The ops whose values it writes, when more than the last (all of out's shape); its kernels then
   * return one buffer per result, in that order (trace.ts runMany).
   */
  readonly results?: readonly number[];
  /** For an input that is read through a slice of its tensor: where its elements lie (View). */
  readonly views?: readonly (View | undefined)[];
}

/**
 * A primitive that runs `ops` (in order; the last one's result is the output) as one kernel over
 * `out`, reading `inputs` (avals broadcastable to out.shape). Its name lists the ops.
 */
export function fusedPrimitive(ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval, { constants = [], results = [ops.length - 1], views = [] }: FusedOptions = {}): Primitive<{}> {
  const name = `fused[${ops.map((o) => o.prim.name).join(' ')}]#${++fusedCount}`;
  const prim: Primitive<{}> = {
    name,
    infer: () => out,
    kernels: { cpu: cpuKernel(name, ops, inputs, out, results, views), gpu: gpuKernel(ops, inputs, out, constants, results, views) },
  };
  registerKernels(name, prim.kernels);
  return prim;
}

const round = (dtype: DType, e: string): string =>
  dtype === 'float32' ? `Math.fround(${e})` : dtype === 'int32' ? `(${e}) | 0` : dtype === 'bool' ? `+((${e}) !== 0)` : e;

/** Op j's operands by name: the group's inputs x0.., earlier ops' results t0.. */
const operands = (op: FusedOp): string[] => op.args.map((a) => ('input' in a ? `x${a.input}` : `t${a.op}`));

/** The chain for the CPU: statements `const tj = ...;` calling the ops' scalar functions F0.., each rounded. */
const chain = (ops: readonly FusedOp[]): string[] =>
  ops.map((op, j) => `const t${j} = ${round(op.out.dtype, `F${j}(${operands(op).join(', ')})`)};`);

/** The scalar functions F0.. the CPU chain calls. */
const scalarFns = (ops: readonly FusedOp[]) => ops.map((op) => op.prim.elementwise!.cpu(op.inDtypes, op.attrs, op.out.dtype));

/**
 * The chain for the GPU: statements `const tj = ...;` with each op's shader expression inlined,
 * reading inputs `xs` (default x0..) and naming results with `suffix`.
 *
 * A product or quotient is multiplied by a 1 the compiler cannot see is one (from this.thread.x).
 * GPU compilers contract a * b + c into one fused multiply-add, rounding once where eager code rounds
 * the product as it stores it: on an H200, max(x, y) - min(y, x) * s gave -6.5e37 where the product
 * overflows and eager code gives -inf, and z * c + c differed at c = 2^-126. With the product
 * rounded first, what is left to contract, p * 1 + c, rounds as p + c does.
 */
const gpuChain = (ops: readonly FusedOp[], xs?: readonly string[], suffix = ''): string[] =>
  ops.map((op, j) => {
    const e = op.prim.elementwise!.gpu(op.args.map((a) => ('input' in a ? xs?.[a.input] ?? `x${a.input}` : `t${a.op}${suffix}`)), op.inDtypes, op.attrs, op.out.dtype);
    const rounded = (op.prim.name === 'mul' || op.prim.name === 'div') && op.out.dtype !== 'int32' && op.out.dtype !== 'bool';
    return `const t${j}${suffix} = ${rounded ? `(${e}) * (1.0 + Math.min(this.thread.x, 0.0))` : e};`;
  });

/**
 * The chain `ops` over `shape` (inputs broadcast onto it), summed over `axes` into `out` (the sum's
 * aval). On the CPU floats accumulate in float64 and round once, as sum's own kernel.
 */
export function fusedSumPrimitive(ops: readonly FusedOp[], inputs: readonly Aval[], shape: readonly number[], axes: readonly number[], out: Aval): Primitive<{}> {
  const name = `fused[${ops.map((o) => o.prim.name).join(' ')} sum]#${++fusedCount}`;
  const run = loop({
    name, operands: [...inputs.map((_, i) => `x${i}`), 's+='], params: ops.map((_, j) => `F${j}`),
    body: `${chain(ops).join(' ')} s += t${ops.length - 1};`,
  });
  const p = plan(shape, [...inputs.map((x) => broadcastStrides(x.shape, shape)), reducedStrides(shape, axes)]);
  const fns = scalarFns(ops);
  const cpu: Kernel<TypedArray, {}> = (args) => {
    const acc = new Float64Array(sizeOf(out.shape));
    run(p, [...args.map((a) => a.buf), acc], fns);
    const res = alloc(out.dtype, acc.length);
    res.set(acc);
    return res;
  };
  // on the GPU a long walk per output goes in passes, as sum's own kernel (reduceRuns); a lone
  // long axis is split in two, and each input is read through strides on the split shape
  const sp = splitReduction(shape, axes, 'padded');
  const gpu: GpuKernel<{}> = (ctx, args) => {
    const bufs = args.map((a) => a.buf);
    const strides = inputs.map((x) => readStrides(x.shape, shape));
    if (!sp) return ctx.run(gpuSumSource(ops, strides, shape, axes), bufs, sizeOf(out.shape));
    const part = ctx.run(gpuSumSource(ops, strides.map((st) => splitStrides(st, shape, sp.shape)), sp.shape, sp.inner, sp.bound), bufs, sizeOf(sp.mid));
    const res = reduceRuns(ctx, part, sp.mid, sp.midOuter, '0.0', 's += v;', sizeOf(out.shape));
    ctx.release(part);
    return res;
  };
  const prim: Primitive<{}> = { name, infer: () => out, kernels: { cpu, gpu } };
  registerKernels(name, prim.kernels);
  return prim;
}

/**
 * The GPU form: sum's shader (core/prims/sum.ts reduceShader), the chain computed at each reduced
 * position, input i read through `strides[i]` on `shape`.
 */
function gpuSumSource(ops: readonly FusedOp[], strides: readonly (readonly number[])[], shape: readonly number[], axes: readonly number[], bound?: Bound): string {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d)), keptNames = names(kept.length);
  const at = shape.map((_, d) => (axes.includes(d) ? `k${axes.indexOf(d)}` : keptNames[kept.indexOf(d)]));
  const reads = strides.map((st, i) => `const x${i} = X${i}[${dot(at, st)}];`);
  const body = [...reads, ...gpuChain(ops), `s += t${ops.length - 1};`].join('\n    ');
  return `function (${strides.map((_, i) => `X${i}`).join(', ')}) {
  ${coords(kept.map((d) => shape[d]))}
  let s = 0.0;
  ${axes.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ')}
    ${bound ? `if (${boundCheck(bound, shape, (d) => at[d])}) {\n    ${body}\n    }` : body}
  ${'}'.repeat(axes.length)}
  return s;
}`;
}

function cpuKernel(name: string, ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval, results: readonly number[], views: readonly (View | undefined)[]): Kernel<TypedArray, {}> {
  const body = chain(ops);
  const run = loop({
    name, operands: [...inputs.map((_, i) => `x${i}`), ...results.map((_, r) => `y${r}=`)], params: ops.map((_, j) => `F${j}`),
    body: `${body.join(' ')} ${results.map((k, r) => `y${r} = t${k};`).join(' ')}`,
  });
  const fns = scalarFns(ops);
  const p = plan(out.shape, [...inputs.map((x, i) => broadcastStrides(x.shape, out.shape, views[i]?.strides)), ...results.map(() => stridesOf(out.shape))]);
  // a view's array is the part of its tensor's that it spans (a subarray: no copy)
  const spans = views.map((v, i) => v && [v.offset, v.offset + 1 + inputs[i].shape.reduce((a, n, d) => a + (n - 1) * v.strides[d], 0)]);
  const arraysOf = (args: { buf: TypedArray }[]) => args.map((a, i) => (spans[i] ? a.buf.subarray(spans[i]![0], spans[i]![1]) : a.buf));
  if (results.length > 1) {
    return ((args: { buf: TypedArray }[]) => {
      const res = results.map((k) => allocResult(ops[k].out.dtype, p.n));
      run(p, [...arraysOf(args), ...res], fns);
      return res;
    }) as unknown as Kernel<TypedArray, {}>;
  }
  // a float32 chain runs as WebAssembly SIMD where it can (core/cpu/simd.ts), bit for bit the same;
  // its inputs may be float64 or int32 when they are only cast to float32 (as the optimizers' scalars)
  const castIn = (o: FusedOp) => o.prim.name === 'cast' && 'input' in o.args[0] && (o.inDtypes[0] === 'float64' || o.inDtypes[0] === 'int32');
  const float32 = ops.every((o) => o.out.dtype === 'float32' && (castIn(o) || o.inDtypes.every((d) => d === 'float32')));
  const fast = float32 ? simdChain(ops.map((o) => ({ name: o.prim.name, args: o.args })), inputs.length) : undefined;
  return (args) => {
    const res = allocResult(out.dtype, p.n);
    const arrays = [...arraysOf(args), res];
    if (!fast?.(p, arrays as Float32Array[])) run(p, arrays, fns);
    return res;
  };
}

/**
 * A constant's value as a GLSL literal, where a fused GPU kernel writes it in rather than reading a
 * texture: only a finite, normal, nonzero value. Shader compilers fold x * 0.0 to 0.0 and x + 0.0 to x
 * (wrong for inf, nan and -0), may treat nan and inf literals as they like, and textures flush
 * subnormals to 0 where a literal might not.
 */
export function literal(value: (() => number) | undefined): string | undefined {
  const v = value?.();
  return v !== undefined && Number.isFinite(v) && Math.abs(v) >= 2 ** -126 ? lit(v) : undefined;
}

function gpuKernel(ops: readonly FusedOp[], inputs: readonly Aval[], out: Aval, constants: readonly ((() => number) | undefined)[], results: readonly number[],
  views: readonly (View | undefined)[]): GpuKernel<{}> {
  let made: { src: string; glsl: string[] } | undefined, literals: (string | undefined)[] | undefined;
  return (ctx, args) => {
    literals ??= inputs.map((_, i) => literal(constants[i]));
    made ??= elementwiseSource(inputs.map((x) => x.shape), out.shape, (xs, l) => ({ stmts: gpuChain(ops, xs, `_${l}`), result: results.map((k) => `t${k}_${l}`) }),
      literals, views);
    // a literal is written into the shader, not bound as a texture
    const bufs = args.filter((_, i) => literals![i] === undefined).map((a) => a.buf);
    if (results.length > 1) return ctx.run4Many(made.src, bufs, sizeOf(out.shape), results.length, made.glsl) as unknown as GpuBuf;
    return ctx.run4(made.src, bufs, sizeOf(out.shape), made.glsl);
  };
}
