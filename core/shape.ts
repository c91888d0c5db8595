/**
 * Shapes: sizes, row-major strides, numpy broadcasting, axis normalisation, and the error type
 * every op throws, so a mistake is reported with the op's name and the shapes involved.
 */
export type Shape = readonly number[];

/** An error raised by an op for bad input: says which op, what it got and what it expected. */
export class OpError extends Error {
  constructor(readonly op: string, readonly detail: string, options?: { cause?: unknown }) {
    super(`${op}: ${detail}`, options);
    this.name = 'OpError';
  }
}

/**
 * A function under jit or vmap asked for something only a concrete value has (reading a tensor's
 * values, drawing from a key passed to jit): the transformation cannot proceed, though the function
 * may run fine without it (JAX's ConcretizationTypeError). Callers may catch it and run eagerly.
 */
export class ConcretizationError extends OpError {
  constructor(op: string, detail: string) {
    super(op, detail);
    this.name = 'ConcretizationError';
  }
}

/**
 * `f` as the public op `op`: an OpError raised inside it, by the ops it is built from, is raised
 * again under `op`, so a user of softmax reads "softmax: axis 5 ...", not "max: axis 5 ...".
 * Nested named ops: the outermost, the one the user called, wins. The inner error is the `cause`.
 */
export function named<F extends (...args: any[]) => any>(op: string, f: F): F {
  const g = function (this: unknown, ...args: unknown[]) {
    try {
      return f.apply(this, args);
    } catch (e) {
      // a NanError (core/nans.ts) names the primitive where a NaN was born, a ConcretizationError what
      // a transformation could not do: subclasses are kept as they are
      if (e instanceof OpError && e.op !== op && e.name === 'OpError') throw new OpError(op, e.detail, { cause: e });
      throw e;
    }
  };
  return Object.defineProperty(g, 'name', { value: op }) as unknown as F;
}

export const fmt = (s: Shape): string => `[${s.join(', ')}]`;

export const sizeOf = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** Row-major strides: `stridesOf([2, 3, 4])` is `[12, 4, 1]`. */
export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) { st[i] = acc; acc *= s[i]; }
  return st;
}

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Numpy broadcasting of several shapes, or an OpError naming `op` and the shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new OpError(op, `shapes ${shapes.map(fmt).join(' and ')} do not broadcast ` +
          `(axis ${o - rank} has sizes ${out[o]} and ${d})`);
      }
    }
  }
  return out;
}

/** Whether `s` broadcasts to `out` (numpy's rule, right-aligned). `broadcastsTo([3, 1], [2, 3, 4])` → true */
export const broadcastsTo = (s: Shape, out: Shape): boolean =>
  s.length <= out.length && s.every((d, i) => d === out[out.length - s.length + i] || d === 1);

/**
 * Strides to read an array of shape `s` (its own strides `st`: row-major unless given) as if it had
 * the broadcast shape `out`: 0 along axes that are broadcast.
 */
export function broadcastStrides(s: Shape, out: Shape, st: readonly number[] = stridesOf(s)): number[] {
  const res = new Array<number>(out.length).fill(0);
  for (let i = 0; i < s.length; i++) {
    const o = out.length - s.length + i;
    res[o] = s[i] === 1 && out[o] !== 1 ? 0 : st[i];
  }
  return res;
}

/** Normalise a possibly negative axis, or throw naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new OpError(op, `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise `axis` (undefined = all axes) to a sorted list of distinct axes. */
export function normAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return [...Array(rank).keys()];
  const list = (typeof axis === 'number' ? [axis] : axis).map((a) => normAxis(op, a, rank));
  const set = [...new Set(list)].sort((a, b) => a - b);
  if (set.length !== list.length) throw new OpError(op, `repeated axis in ${JSON.stringify(axis)}`);
  return set;
}

export function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new OpError(op, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}
