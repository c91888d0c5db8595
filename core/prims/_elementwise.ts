/**
 * Shared machinery of the elementwise primitives: the shape rule (numpy broadcasting), lifting JS
 * numbers to tensors (weakly typed, as in JAX), and the CPU kernels (loops from core/cpu/loops.ts).
 * It imports no primitive but cast, so the op files can call its helpers while the module graph is
 * still loading.
 */
import type { Aval, Kernel, KernelArg } from '../backend.js';
import { getBackend } from '../backend.js';
import { alloc, allocResult, type DType, isFloat, isInt32, promote, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, OpError, type Shape, sizeOf, stridesOf } from '../shape.js';
import { loop, plan, type Plan } from '../cpu/loops.js';
import { elementwiseShader, type GpuBuf, type GpuContext, type GpuKernel } from '../gpu/shader.js';
import { Tensor, isTensor } from '../tensor.js';
import { bind } from '../trace.js';
import { astype } from './cast.js';

/** What ops accept where a tensor is expected: a tensor, or a plain number (weakly typed). */
export type TensorLike = Tensor | number | boolean;

/** A scalar tensor of `dtype` on the backend of `like` (or the current one), made for the op `op`. */
export function scalar(v: number, dtype: DType = 'float32', like?: Tensor, op = 'tensor'): Tensor {
  const backend = like ? like.concrete().backend! : getBackend();
  const data = alloc(dtype, 1);
  data[0] = v;
  return Tensor.fromBuffer(backend, backend.upload(data, { shape: [], dtype }, op), [], dtype);
}

/** Lift operands to tensors: numbers take the dtype of the tensors they meet. */
export function lift(op: string, xs: readonly (TensorLike | unknown)[]): Tensor[] {
  const ts = xs.filter(isTensor) as Tensor[];
  for (const x of xs) {
    if (!isTensor(x) && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new OpError(op, `expected a tensor or a number, got ${x === null ? 'null' : typeof x}`);
    }
  }
  const dtype = ts.length ? ts.map((t) => t.dtype).reduce(promote) : 'float32';
  const like = ts[0];
  return xs.map((x) => (isTensor(x) ? x : scalar(Number(x), weakDtype(x as number | boolean, dtype), like, op)));
}

/**
 * The dtype a JS number or boolean takes beside tensors of `dtype` (JAX's weak typing): a number an
 * int32 cannot hold (fraction, out of range, nan, inf) makes int32 and bool float32, never wraps.
 */
function weakDtype(x: number | boolean, dtype: DType): DType {
  if (typeof x === 'boolean' || isFloat(dtype)) return dtype;
  return isInt32(x) ? (dtype === 'bool' ? 'int32' : dtype) : 'float32';
}

// ---- CPU loops ----

/**
 * The CPU kernels: core/cpu/loops.ts writes the loop, one per op (its name in the loop's), so that
 * each op's copy of the loop calls only its own scalar function, which V8 then inlines.
 */
export function unaryKernel(f: (x: number) => number, op = ''): Kernel<TypedArray> {
  const run = loop({ name: op, operands: ['x', 'y='], params: ['f'], body: 'y = f(x);' });
  return ([x], _attrs, out) => {
    const res = allocResult(out.dtype, x.buf.length);
    run(plan([res.length], [[1], [1]]), [x.buf, res], [f]);
    return res;
  };
}

/**
 * `f` on float inputs; `fInt` (default `f`) on int32 and bool ones, whose results the storage wraps
 * to int32; a bool result of bool inputs is stored as `!= 0` (add is or, mul is and).
 */
export function binaryKernel(f: (a: number, b: number) => number, op = '', fInt = f): Kernel<TypedArray> {
  const run = loop({ name: op, operands: ['a', 'b', 'y='], params: ['f'], body: 'y = f(a, b);' });
  const fBool = (a: number, b: number) => +(fInt(a, b) !== 0);
  return ([a, b], _attrs, out) => {
    const res = allocResult(out.dtype, sizeOf(out.shape));
    const g = isFloat(a.dtype) ? f : a.dtype === 'bool' && out.dtype === 'bool' ? fBool : fInt;
    run(elementwisePlan(out.shape, [a.shape, b.shape]), [a.buf, b.buf, res], [g]);
    return res;
  };
}

/** The plan of an elementwise loop: inputs of `shapes` broadcast onto `shape`, then the output. */
export const elementwisePlan = (shape: Shape, shapes: readonly Shape[]): Plan =>
  plan(shape, [...shapes.map((s) => broadcastStrides(s, shape)), stridesOf(shape)]);

// ---- definitions ----

type VjpRule = NonNullable<Primitive['vjp']>;

/** A unary op's GPU kernel: `expr` computes the result from the input value `v`. */
export const unaryShader = (expr: string) => elementwiseShader(([x]) => substitute(expr, { v: x }));

/**
 * A binary op's GPU kernel: `expr` combines `a` and `b`, read with broadcasting (`exprInt`, default
 * `expr`, for int32 and bool inputs); bool results of bools as `!= 0`.
 */
const binaryExpr = (expr: string, exprInt = expr) => ([a, b]: readonly string[], [da]: readonly DType[], _attrs: unknown, out: DType): string => {
  const e = substitute(isFloat(da) ? expr : exprInt, { a, b });
  return da === 'bool' && out === 'bool' ? `((${e}) != 0.0 ? 1.0 : 0.0)` : e;
};

/** Options of elementwise primitives. */
interface ElementwiseOpts {
  /** the output's dtype (default: the input's) */
  outDtype?: DType;
  /** refuse int and bool inputs */
  floatOnly?: boolean;
  /** refuse bool inputs, as numpy does for - on bools, with this hint */
  noBool?: string;
  /** the CPU function for int32 and bool inputs (default `f`), e.g. one that wraps as int32 */
  fInt?: (a: number, b: number) => number;
  /** the shader expression for int32 and bool inputs (default the float one), e.g. one exact for integers */
  gpuInt?: string;
  /** a check the GPU kernel runs before its shader, for what the CPU's `fInt` refuses (it may read inputs back) */
  gpuCheck?: (ctx: GpuContext, inputs: KernelArg<GpuBuf>[], out: Aval) => void;
}

function checkInput(name: string, x: Aval, opts: ElementwiseOpts): void {
  if (opts.floatOnly && !isFloat(x.dtype)) {
    throw new OpError(name, `needs a float tensor, got ${x.dtype}; cast it with astype(x, 'float32')`);
  }
  if (opts.noBool && x.dtype === 'bool') throw new OpError(name, `is not defined for bool tensors (as in numpy); ${opts.noBool}`);
}

/**
 * Define an elementwise unary primitive: `f` for the CPU, `gpu` the same as a shader expression in `v`.
 * `outDtype` defaults to the input's dtype.
 */
export function defineUnary(name: string, f: (x: number) => number, gpu: string, vjp?: VjpRule,
  opts: ElementwiseOpts = {}): Primitive {
  return definePrimitive<{}>({
    name,
    infer([x]) {
      checkInput(name, x, opts);
      return { shape: x.shape, dtype: opts.outDtype ?? x.dtype };
    },
    vjp,
    kernels: { cpu: unaryKernel(f, name) as Kernel<any, {}>, gpu: unaryShader(gpu) },
    elementwise: { cpu: () => f, gpu: ([x]) => substitute(gpu, { v: x }) },
  });
}

/** `expr` with the whole-word names in `vars` replaced by (their values): a shader expression inlined. */
export const substitute = (expr: string, vars: Record<string, string>): string =>
  expr.replace(new RegExp(`\\b(${Object.keys(vars).join('|')})\\b`, 'g'), (m) => `(${vars[m]})`);

/**
 * Define an elementwise binary primitive with broadcasting (both inputs share one dtype): `f` for the
 * CPU, `gpu` the same as a shader expression in `a` and `b`.
 */
export function defineBinary(name: string, f: (a: number, b: number) => number, gpu: string, vjp?: VjpRule,
  opts: ElementwiseOpts = {}): Primitive {
  return definePrimitive<{}>({
    name,
    infer([a, b]): Aval {
      if (a.dtype !== b.dtype) throw new OpError(name, `dtypes differ: ${a.dtype} and ${b.dtype}`);
      checkInput(name, a, opts);
      return { shape: broadcastShapes(name, a.shape, b.shape), dtype: opts.outDtype ?? a.dtype };
    },
    vjp,
    kernels: { cpu: binaryKernel(f, name, opts.fInt) as Kernel<any, {}>, gpu: withCheck(elementwiseShader(binaryExpr(gpu, opts.gpuInt)), opts.gpuCheck) },
    elementwise: {
      cpu: ([a], _attrs, out) => {
        const fInt = opts.fInt ?? f;
        return isFloat(a) ? f : a === 'bool' && out === 'bool' ? (x: number, y: number) => +(fInt(x, y) !== 0) : fInt;
      },
      gpu: binaryExpr(gpu, opts.gpuInt),
      // an op whose gpu kernel checks values on the host (int32 pow's exponents) runs on its own there
      fusible: opts.gpuCheck ? (dtypes) => isFloat(dtypes[0]) : undefined,
    },
  });
}

const withCheck = (k: GpuKernel, check?: ElementwiseOpts['gpuCheck']): GpuKernel =>
  (check ? (ctx, inputs, attrs, out) => { check(ctx, inputs, out); return k(ctx, inputs, attrs, out); } : k);

/** Apply a unary primitive to a tensor or number. */
export function applyUnary(p: Primitive, x: TensorLike): Tensor {
  return bind(p, lift(p.name, [x]), {});
}

/** Apply a binary primitive, promoting both operands to a common dtype first. */
export function applyBinary(p: Primitive, a: TensorLike, b: TensorLike): Tensor {
  let [x, y] = lift(p.name, [a, b]);
  const dt = promote(x.dtype, y.dtype);
  if (x.dtype !== dt) x = astype(x, dt);
  if (y.dtype !== dt) y = astype(y, dt);
  return bind(p, [x, y], {});
}

export type { KernelArg };
