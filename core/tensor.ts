/**
 * The tensor: an immutable value with a shape, a dtype and data held by a backend.
 *
 * A tensor is either concrete (a backend buffer) or a tracer (made while `vjp` watches a function):
 * a tracer wraps a primal tensor one level down and remembers the primitive call that made it.
 * Users see one type either way; reading a tracer's values reads its primal, so printing inside a
 * function under `grad` works.
 */
import type { Backend } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { type Shape, sizeOf, OpError } from './shape.js';
import type { Recipe, VjpTrace } from './trace.js';
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
    readonly trace: VjpTrace | undefined,
    /** @internal the value one level down */
    readonly primal: Tensor | undefined,
    /** @internal the call that made this tracer; undefined for a traced argument */
    readonly recipe: Recipe | undefined,
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
  static tracer(trace: VjpTrace, primal: Tensor, recipe?: Recipe): Tensor {
    return new Tensor(primal.shape, primal.dtype, undefined, undefined, trace, primal, recipe);
  }

  get rank(): number { return this.shape.length; }

  /** The concrete value under any tracers. */
  concrete(): Tensor {
    let t: Tensor = this;
    while (t.primal) t = t.primal;
    return t;
  }

  /** The values as a fresh flat typed array (row-major). `tensor([[1, 2]]).dataSync()` */
  dataSync(): TypedArray {
    const c = this.concrete();
    return c.backend!.read(c.buf, c);
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
