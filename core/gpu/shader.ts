/**
 * What a primitive gives the GPU backend: a shader, written as the JavaScript source of a gpu.js
 * kernel that computes one output element. Every tensor lives on the GPU as a flat float32 texture
 * read as a 1-D array (`a[k]`), so a shader is index arithmetic plus the op's scalar expression.
 *
 * Shapes, strides and attrs are baked into the source as literal numbers (kernels are compiled once
 * per (primitive, shapes, attrs) and cached), so the GLSL compiler sees constant loop bounds and
 * folds the index math. This file imports nothing from gpu.js: primitives stay loadable without it.
 */
import type { Aval, KernelArg } from '../backend.js';
import { OpError, sizeOf, stridesOf, type Shape } from '../shape.js';

/** The largest int32 magnitude a float32 texture holds exactly, and so the GPU backend's int32 range. */
export const EXACT_INT = 2 ** 24;

/**
 * Refuse int32 values beyond ±2^24 where they enter the GPU (an upload, a fill value): a float32
 * texture would round them silently. `what` names them in the message, e.g. 'int32 value'.
 */
export function checkExactInt(op: string, values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (Math.abs(values[i]) > EXACT_INT) {
      throw new OpError(op, `${what} ${values[i]}${values.length > 1 ? ` (element ${i})` : ''} is beyond ±2^24 = ${EXACT_INT}, ` +
        'which the gpu backend cannot hold exactly (it stores int32 as float32); keep int32 values within ±2^24, or use the cpu backend');
    }
  }
}

export type { GpuBuf, GpuContext, GpuKernel } from '../backend.js';
import type { GpuBuf, GpuKernel } from '../backend.js';


/** A GPU kernel that is a single shader made from the avals and attrs. */
export const shader = <A>(make: (inputs: readonly Aval[], attrs: A, out: Aval) => string): GpuKernel<A> =>
  (ctx, inputs, attrs, out) => ctx.run(make(inputs, attrs, out), inputs.map((x) => x.buf), sizeOf(out.shape));

/** A float literal for GLSL (gpu.js needs `1.0`, not `1`, where a float is meant). */
export function lit(v: number): string {
  if (Number.isNaN(v)) return '(0.0 / 0.0)';
  if (v === Infinity) return '(1.0 / 0.0)';
  if (v === -Infinity) return '(-1.0 / 0.0)';
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Statements that split the flat output index into coordinates `c0 .. c{r-1}` of `shape`.
 * Division is done as floor((r + 0.5) / d): exact for indices below 2^24 despite float rounding.
 */
export function coords(shape: Shape, prefix = 'c'): string {
  const lines = ['let r_ = this.thread.x;'];
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d];
    if (d === 0) lines.push(`const ${prefix}${d} = r_;`);
    else {
      lines.push(`const q${d}_ = Math.floor((r_ + 0.5) / ${lit(n)});`);
      lines.push(`const ${prefix}${d} = r_ - q${d}_ * ${lit(n)};`);
      lines.push(`r_ = q${d}_;`);
    }
  }
  return lines.join('\n  ');
}

/** An expression for the flat index sum(c_d * strides_d), skipping zero strides. */
export function dot(coordNames: readonly string[], strides: readonly number[], offset = 0): string {
  const terms = coordNames.flatMap((c, d) => (strides[d] === 0 ? [] : strides[d] === 1 ? [c] : [`${c} * ${lit(strides[d])}`]));
  if (offset) terms.push(lit(offset));
  return terms.length ? terms.join(' + ') : '0.0';
}

/** Coordinate names c0..c{r-1}. */
export const names = (r: number, prefix = 'c'): string[] => Array.from({ length: r }, (_, d) => `${prefix}${d}`);

/** Strides to read an input of `shape` at coordinates of the broadcast shape `out`. */
export function readStrides(shape: Shape, out: Shape): number[] {
  const st = stridesOf(shape);
  return out.map((o, i) => {
    const j = i - (out.length - shape.length);
    return j < 0 || shape[j] === 1 ? 0 : st[j];
  });
}

/** The flat index into `inp` for the current output element of broadcast shape `out` (after `coords(out)`). */
export const broadcastIndex = (inp: Shape, out: Shape): string =>
  out.length === 0 || sizeOf(inp) === sizeOf(out) && inp.length === out.length ? 'this.thread.x' : dot(names(out.length), readStrides(inp, out));
