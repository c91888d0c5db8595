/**
 * The tensor: an immutable value with a shape, a dtype and data held by a backend.
 *
 * A tensor is either concrete (a backend buffer) or a tracer (made while a transformation watches a
 * function). A vjp tracer wraps a primal tensor one level down and remembers the primitive call that
 * made it; a vmap tracer wraps a batched value with the batch along axis `bdim`; a jit tracer has only
 * an aval (its values exist when the recorded program runs). Users see one type either way; reading a
 * vjp tracer's values reads its primal, so printing inside a function under `grad` works.
 */
import type { Backend } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { ConcretizationError, type Shape, sizeOf, OpError, fmt as fmtShape } from './shape.js';
import type { Recipe, Trace } from './trace.js';
import { formatTensor } from './print.js';

export class Tensor {
  readonly size: number;
  private constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** @internal the backend holding `buf` (concrete tensors only) */
    readonly backend: Backend | undefined,
    /** @internal the backend's buffer (concrete tensors only) */
    readonly buf: unknown,
    /** @internal the trace recording this tracer */
    readonly trace: Trace | undefined,
    /** @internal the value one level down (for a vmap tracer, the batched value) */
    readonly primal: Tensor | undefined,
    /** @internal the call that made this tracer; undefined for a traced argument */
    readonly recipe: Recipe | undefined,
    /** @internal a vmap tracer's batch axis in `primal` */
    readonly bdim?: number,
  ) {
    this.size = sizeOf(shape);
    Object.freeze(shape);
  }

  /** @internal */
  static fromBuffer(backend: Backend, buf: unknown, shape: Shape, dtype: DType): Tensor {
    const t = new Tensor([...shape], dtype, backend, buf, undefined, undefined, undefined);
    backend.retain?.(t, buf);
    return t;
  }

  /** @internal a tracer of `trace` whose value is `primal` */
  static tracer(trace: Trace, primal: Tensor, recipe?: Recipe): Tensor {
    return new Tensor(primal.shape, primal.dtype, undefined, undefined, trace, primal, recipe);
  }

  /** @internal a vmap tracer: `value` holds the batch along axis `bdim` */
  static batched(trace: Trace, value: Tensor, bdim: number): Tensor {
    return new Tensor(value.shape.filter((_, i) => i !== bdim), value.dtype, undefined, undefined, trace, value, undefined, bdim);
  }

  /** @internal a jit tracer: an aval on `backend`, with the recorded call that makes it */
  static staged(trace: Trace, shape: Shape, dtype: DType, backend: Backend, recipe?: Recipe): Tensor {
    return new Tensor([...shape], dtype, backend, undefined, trace, undefined, recipe);
  }

  get rank(): number { return this.shape.length; }

  /** The concrete value under any vjp tracers (under jit, the jit tracer; under vmap, the batch). */
  concrete(): Tensor {
    let t: Tensor = this;
    while (t.primal) t = t.primal;
    return t;
  }

  /** The values as a fresh flat typed array (row-major). `tensor([[1, 2]]).dataSync()` */
  dataSync(): TypedArray {
    let t: Tensor = this;
    while (t.primal && t.bdim === undefined) t = t.primal;
    if (t.bdim !== undefined) {
      throw new ConcretizationError('vmap', `cannot read the values of one example inside vmap (shape ${fmtShape(this.shape)}); return it from the function instead`);
    }
    if (t.buf === undefined && t.trace) {
      throw new ConcretizationError('jit', `cannot read the values of a traced tensor (shape ${fmtShape(this.shape)} ${this.dtype}) inside jit: ` +
        'the function must compute with tensor ops only; return the value to read it, or call the function without jit');
    }
    return t.backend!.read(t.buf, t);
  }

  /** The values as nested JS arrays (numbers, or booleans for bool). `tensor([[1, 2]]).toArray()` */
  toArray(): any {
    const flat = this.dataSync();
    const conv = this.dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
    const build = (dim: number, off: number): any => {
      if (dim === this.shape.length) return conv(flat[off]);
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a size-1 tensor. `sum(x).item()` */
  item(): number {
    if (this.size !== 1) throw new OpError('item', `needs a tensor with one element, got shape [${this.shape.join(', ')}]`);
    return this.dataSync()[0];
  }

  toString(): string { return formatTensor(this); }

  [Symbol.for('nodejs.util.inspect.custom')](): string { return formatTensor(this); }
}

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;
