/**
 * What a primitive gives the GPU backend: a shader, written as the JavaScript source of a gpu.js
 * kernel that computes one output element. Every tensor lives on the GPU as a flat float32 texture
 * (four values to a texel) read as a 1-D array (`a[k]`), so a shader is index arithmetic plus the
 * op's scalar expression. Elementwise ops are written once, as scalar expressions, and
 * `elementwiseSource` makes a kernel computing four elements a thread from them.
 *
 * Shapes, strides and attrs are baked into the source as literal numbers (kernels are compiled once
 * per (primitive, shapes, attrs) and cached), so the GLSL compiler sees constant loop bounds and
 * folds the index math. This file imports nothing from gpu.js: primitives stay loadable without it.
 */
import type { Aval, KernelArg } from '../backend.js';
import type { DType } from '../dtype.js';
import { broadcastStrides, OpError, sizeOf, stridesOf, type Shape } from '../shape.js';

/**
 * The most tensors one kernel reads. Each is a texture, and a fragment shader samples at most
 * MAX_TEXTURE_IMAGE_UNITS of them (8 guaranteed by WebGL1, 16 on many GPUs, 32 on desktop ones);
 * gpu.js moreover binds the textures it makes on unit 15 while it sets a kernel up, so a 16th input
 * would read the kernel's own output. Beyond the limit the GPU silently read zeros or the wrong
 * input; the backend now refuses, concat joins in rounds and jit's fusion stops at it.
 */
export const MAX_KERNEL_INPUTS = 15;

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
import type { GpuBuf, GpuContext, GpuKernel } from '../backend.js';

/**
 * The most loop steps one shader invocation may take: Mesa's llvmpipe counts them and, past 65535,
 * ends every loop of the invocation, silently. The count is the invocation's: nested loops share it
 * (`walkable`), and so do the four values of a texel that a `run` kernel computes by calling its
 * function four times (a walk of 16384 there lost the texel's last value's last terms). A longer walk
 * is cut into launches over stretches (`stretches`), and their results added.
 */
export const LOOP_STEPS = 65535;

/** The steps of nested loops over `sizes` (outermost first) as llvmpipe counts them: each loop's iterations, and its exit. */
const loopSteps = (sizes: readonly number[]): number => sizes.reduceRight((c, k) => k * (c + 1) + 1, 0);

/**
 * The longest walk an invocation computing `values` values may take within LOOP_STEPS, each value
 * walking it in an outer loop around inner loops over `inner`: `walkable(4)` for a `run` kernel's
 * single loop is 16382, `walkable(1)` 65534.
 */
export const walkable = (values: number, inner: readonly number[] = []): number => Math.floor((LOOP_STEPS / values - 1) / (loopSteps(inner) + 1));

/**
 * `part(from, to)` launched for each stretch of at most `most` of 0 .. n, its results (of `size`
 * values) added up: one launch when n is within `most`.
 */
export function stretches(ctx: GpuContext, n: number, most: number, size: number, part: (from: number, to: number) => GpuBuf): GpuBuf {
  let res = part(0, Math.min(n, most));
  for (let from = most; from < n; from += most) {
    const next = part(from, Math.min(n, from + most));
    const sum = ctx.run('function (X, Y) { return X[this.thread.x] + Y[this.thread.x]; }', [res, next], size);
    ctx.release(res);
    ctx.release(next);
    res = sum;
  }
  return res;
}

/**
 * What decides a kernel's shaders: its inputs' and output's avals and its attrs, as a Map key. Numbers
 * JSON cannot tell apart (NaN, the infinities and -0 all print as null or 0) are spelled out: a pad
 * with NaN and one with Infinity write different shaders.
 */
export function kernelKey(inputs: readonly Aval[], attrs: unknown, out: Aval): string {
  const exact = (_: string, v: unknown) => (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? { number: Object.is(v, -0) ? '-0' : String(v) } : v);
  return `${inputs.map((x) => `${x.shape.join('x')}${x.dtype}`).join(',')}>${out.shape.join('x')}${out.dtype}${attrs === undefined ? '' : JSON.stringify(attrs, exact)}`;
}

/**
 * An elementwise kernel from the scalar form of its op (`expr`, as Primitive.elementwise.gpu: the
 * output element's expression in its inputs' values): see `elementwiseSource`.
 */
export const elementwiseShader = <A>(expr: (xs: readonly string[], dtypes: readonly DType[], attrs: A, out: DType) => string): GpuKernel<A> => {
  // the source, made once per (shapes, dtypes, attrs): making it anew was a fifth of a small launch's JavaScript
  const made = new Map<string, { src: string; glsl: string[] }>();
  return (ctx, inputs, attrs, out) => {
    const key = kernelKey(inputs, attrs, out);
    let m = made.get(key);
    if (!m) {
      m = elementwiseSource(inputs.map((x) => x.shape), out.shape, (xs) => ({ stmts: [], result: expr(xs, inputs.map((x) => x.dtype), attrs, out.dtype) }));
      made.set(key, m);
    }
    return ctx.run4(m.src, inputs.map((x) => x.buf), sizeOf(out.shape), m.glsl);
  };
};

/**
 * The shader of an elementwise kernel over `out`, four elements a thread (GpuContext.run4), with
 * inputs of `shapes` broadcast onto it. `lane(xs, l)` gives one element's statements and result from
 * its inputs' values `xs`; names it declares must end in `_${l}` (lanes share one function body).
 * Each input is read the cheapest way its broadcast allows:
 * - one value for every element (a scalar, or a constant in `literals`): read once, or written in;
 * - four consecutive values, one texel (the output's shape; or a broadcast whose last axis is the
 *   output's, a multiple of 4 long, as a bias): one texture fetch for all four lanes, through a
 *   GLSL function `ld{i}`;
 * - otherwise each lane reads its own element.
 * A lane may give several results (`result` an array, at most 8): the first is the kernel's return
 * value, the others go to render targets 1.. through GLSL functions `put{t}` (GpuContext.run4Many).
 */
export function elementwiseSource(shapes: readonly Shape[], out: Shape, lane: (xs: readonly string[], l: number) => { stmts: readonly string[]; result: string | readonly string[] },
  literals: readonly (string | undefined)[] = [], views: readonly ({ offset: number; strides: readonly number[] } | undefined)[] = []): { src: string; glsl: string[] } {
  const glsl: string[] = [], pre: string[] = [];
  const last = out.length - 1;
  // lane 0's coordinates are needed up front (a broadcast read a texel at a time); each lane's own (a read per element)
  let lane0 = false, perLane = false;
  const reads = shapes.map((shape, i): ((l: number) => string) => {
    if (literals[i] !== undefined) return () => literals[i]!;
    // a view (a slice read through: jit) is read element by element at its offset and strides
    const view = views[i], at = view?.offset ?? 0;
    const st = view ? broadcastStrides(shape, out, view.strides) : readStrides(shape, out);
    if (st.every((s) => s === 0)) {
      pre.push(`const s${i} = X${i}[${lit(at)}];`);
      return () => `s${i}`;
    }
    const whole = !view && sizeOf(shape) === sizeOf(out) && shape.length === out.length;
    if (!view && (whole || st[last] === 1 && out[last] % 4 === 0)) {
      glsl.push(`vec4 ld${i}(float t) {
  return texture(user_X${i}, flatTexel(t, float(user_X${i}Size.x)) / vec2(user_X${i}Size));
}`);
      if (!whole) lane0 = true;
      pre.push(`const w${i} = ld${i}(${whole ? 'j' : `(${dot(names(out.length, 'c_0_'), st)}) * 0.25`});`);
      return (l) => `w${i}[${l}]`;
    }
    perLane = true;
    return (l) => `X${i}[${dot(names(out.length, `c_${l}_`), st, at)}]`;
  });
  let results = 1;
  const body = [0, 1, 2, 3].map((l) => {
    const { stmts, result } = lane(shapes.map((_, i) => `x${i}_${l}`), l);
    const rs = typeof result === 'string' ? [result] : result;
    results = rs.length;
    return [
      ...(perLane && out.length && !(lane0 && l === 0) ? [coords(out, `c_${l}_`, `j * 4.0 + ${lit(l)}`)] : []),
      ...shapes.map((_, i) => `const x${i}_${l} = ${reads[i](l)};`),
      ...stmts,
      ...rs.map((r, t) => `const y${t || ''}_${l} = ${r};`),
    ].join('\n  ');
  });
  const lanes = (t: number) => [0, 1, 2, 3].map((l) => `y${t || ''}_${l}`).join(', ');
  for (let t = 1; t < results; t++) glsl.push(`float put${t}(float a, float b, float c, float d) {\n  target${t} = vec4(a, b, c, d);\n  return 0.0;\n}`);
  return {
    src: `function (${shapes.flatMap((_, i) => (literals[i] === undefined ? [`X${i}`] : [])).join(', ')}) {
  const j = this.thread.x;
  ${lane0 ? coords(out, 'c_0_', 'j * 4.0') : ''}
  ${pre.join('\n  ')}
  ${body.join('\n  ')}
  ${Array.from({ length: results - 1 }, (_, t) => `const p${t + 1} = put${t + 1}(${lanes(t + 1)});`).join('\n  ')}
  return [${lanes(0)}];
}`,
    glsl,
  };
}

/** A GPU kernel that is a single shader made from the avals and attrs. */
export const shader = <A>(make: (inputs: readonly Aval[], attrs: A, out: Aval) => string): GpuKernel<A> =>
  (ctx, inputs, attrs, out) => ctx.run(make(inputs, attrs, out), inputs.map((x) => x.buf), sizeOf(out.shape));

/**
 * A float literal for GLSL (gpu.js needs `1.0`, not `1`, where a float is meant). NaN has none: the
 * constant 0.0 / 0.0 is 0 on NVIDIA's compiler (pad with NaN gave 0 on an H200), so it is made at
 * run time, 0 times infinity, from a 0 the compiler cannot see is one: for kernel bodies (which have
 * this.thread), not GLSL functions.
 */
export function lit(v: number): string {
  if (Number.isNaN(v)) return '(Math.min(this.thread.x, 0.0) * (1.0 / 0.0))';
  if (v === Infinity) return '(1.0 / 0.0)';
  if (v === -Infinity) return '(-1.0 / 0.0)';
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Statements that split the flat output index into coordinates `c0 .. c{r-1}` of `shape`, by
 * `floorDiv` (exact for every index a tensor of the GPU backend has, below 2^24).
 */
export function coords(shape: Shape, prefix = 'c', index = 'this.thread.x'): string {
  const lines = [`let ${prefix}r_ = ${index};`];
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d];
    if (d === 0) lines.push(`const ${prefix}${d} = ${prefix}r_;`);
    else {
      lines.push(floorDiv(`${prefix}q${d}_`, `${prefix}r_`, n, sizeOf(shape.slice(0, d + 1))));
      lines.push(`const ${prefix}${d} = ${prefix}r_ - ${prefix}q${d}_ * ${lit(n)};`);
      lines.push(`${prefix}r_ = ${prefix}q${d}_;`);
    }
  }
  return lines.join('\n  ');
}

/**
 * A statement declaring `q` = floor(r / d), for an integer r in [0, max) and an integer d > 0.
 * floor((r + 0.5) / d) is exact while r + 0.5 is (float32, below 2^23: the quotient is then at
 * least 0.5 / d from an integer, more than the division's rounding); past that r + 0.5 rounds, and
 * a tensor of 2^23 + 4 elements read its element 2^23 + 3 from the wrong texel. There floor(r / d)
 * is at most one too many (where r / d rounds up to an integer) and is corrected by the remainder's sign.
 */
export function floorDiv(q: string, r: string, d: number, max: number): string {
  if (max <= 2 ** 23) return `const ${q} = Math.floor((${r} + 0.5) / ${lit(d)});`;
  return `let ${q} = Math.floor((${r}) / ${lit(d)});
  if ((${r}) - ${q} * ${lit(d)} < 0.0) { ${q} -= 1.0; }`;
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

/**
 * How to split a long reduction into two passes. A reduction shader runs one thread per output, and
 * that thread walks every reduced position in turn: BatchNorm's statistics of [16, C, 8, 32, 32] are
 * C threads of 131072 serial steps each, which a GPU of thousands of lanes runs on a handful of them.
 * On an H100 the AVID step spent most of a second waiting on such loops; on an H200, BatchNorm's 32
 * channels of 4000 positions each took 10 ms a launch, where a launch costs about 0.15 ms. And Mesa's
 * llvmpipe stops any loop after 65535 steps, so a longer walk there is silently cut short. Passes fix
 * that: the first keeps the `outer` reduced axes as partial results and walks only the `inner` ones,
 * the next reduces the partials (sum's reduceRuns again, so in as many passes as it takes). The cut is
 * the one between reduced axes that makes the longer of the two walks shortest; a single long reduced
 * axis of n is first refactored into two, a x b (the data's layout is unchanged: row-major [n] is
 * row-major [a, b] when n = a b). `refactor`:
 * - 'exact': a the largest divisor of n up to its square root, when that is at least 16;
 * - 'padded': that when a is at least a quarter of sqrt n; or else a x b = ceil(sqrt n) x ceil(n / a),
 *   at least n, and `bound` says which positions are real (a prime n has no divisor), for a shader
 *   that skips the others (`boundCheck`) and partials of unequal counts (moments weighs them);
 * - false: cuts between the axes only.
 *
 * Returns undefined when one pass is fine: a walk under `MIN_WALK` steps, outputs enough to fill the
 * GPU, or no cut that shortens the walk. Otherwise: `shape` (x's shape, perhaps refactored), `inner`
 * and `outer` (a partition of the reduced axes in it), `mid` (the first pass's output
 * shape: `shape` without `inner`) and `midOuter` (where `outer` sits in `mid`).
 * `splitReduction([16, 8, 4, 32, 32], [0, 2, 3, 4])` → inner [3, 4], outer [0, 2], mid [16, 8, 4], midOuter [0, 2]
 * `splitReduction([65537], [0], 'padded')` → shape [257, 256], inner [1], outer [0], bound { axis: 0, n: 65537 }
 */
export function splitReduction(shape: Shape, axes: readonly number[], refactor: 'exact' | 'padded' | false = 'exact'):
  { shape: Shape; inner: number[]; outer: number[]; mid: Shape; midOuter: number[]; bound?: Bound } | undefined {
  const MIN_WALK = 256, ENOUGH_OUTPUTS = 1 << 16;
  const sorted = [...axes].sort((a, b) => a - b);
  const walk = sizeOf(sorted.map((a) => shape[a]));
  if (walk < MIN_WALK || sizeOf(shape) / walk >= ENOUGH_OUTPUTS) return undefined;
  // a lone long axis: refactor it into a x b
  let s = [...shape], ax = sorted, bound: Bound | undefined;
  const longest = sorted.reduce((m, a) => (shape[a] > shape[m] ? a : m), sorted[0]);
  if (refactor && shape[longest] * shape[longest] > walk) {
    const n = shape[longest];
    let a = Math.floor(Math.sqrt(n));
    while (n % a) a--;
    // padded where no divisor comes within 4x of the square root (841504 = 32 x 26297 left 32 threads
    // walking 26297 each: 20 ms on an H200, against 918 x 917)
    if (refactor === 'padded' && a * a * 16 < n) {
      a = Math.ceil(Math.sqrt(n));
      bound = { axis: longest, n };
    }
    if (a >= 16) {
      s = [...shape.slice(0, longest), a, Math.ceil(n / a), ...shape.slice(longest + 1)];
      ax = sorted.flatMap((d) => (d < longest ? [d] : d === longest ? [d, d + 1] : [d + 1]));
    }
  }
  // the cut: inner = the last j reduced axes; keep the one whose longer walk is shortest (after a
  // padded split, the one between its two axes: the second pass then has no padding to skip)
  let best = -1, bestWalk = walk;
  for (let j = 1; j < ax.length; j++) {
    if (bound && ax[ax.length - j - 1] !== longest) continue;
    const inner = sizeOf(ax.slice(ax.length - j).map((a) => s[a]));
    const longer = Math.max(inner, sizeOf(ax.slice(0, ax.length - j).map((a) => s[a])));
    if (longer < bestWalk) { best = j; bestWalk = longer; }
  }
  if (best < 0 || bestWalk * 4 > walk) return undefined;
  const inner = ax.slice(ax.length - best), outer = ax.slice(0, ax.length - best);
  const keptDims = s.map((_, d) => d).filter((d) => !inner.includes(d));
  return { shape: s, inner, outer, mid: keptDims.map((d) => s[d]), midOuter: outer.map((d) => keptDims.indexOf(d)), ...(bound ? { bound } : {}) };
}

/**
 * Of a padded split (splitReduction): axes `axis` and `axis + 1` of its shape are one of `n`, padded;
 * the first pass walks `axis + 1`, the second `axis`.
 */
export interface Bound { readonly axis: number; readonly n: number }

/**
 * Strides `st` of a tensor of `shape` as strides of `split`, which is `shape` with one axis d split in
 * two (splitReduction's, exact or padded): d's stride times the second part's length, then d's.
 * `splitStrides([70001, 1], [3, 70001], [3, 265, 265])` → [70001, 265, 1]
 */
export function splitStrides(st: readonly number[], shape: Shape, split: Shape): number[] {
  const d = shape.findIndex((n, i) => n !== split[i]);
  return d < 0 ? [...st] : [...st.slice(0, d), st[d] * split[d + 1], st[d], ...st.slice(d + 1)];
}

/**
 * A shader's condition that its position is a real one under `bound`, `at(d)` naming the coordinate
 * along axis d of the split shape `shape`.
 */
export const boundCheck = (bound: Bound, shape: Shape, at: (d: number) => string): string =>
  `${at(bound.axis)} * ${lit(shape[bound.axis + 1])} + ${at(bound.axis + 1)} < ${lit(bound.n)}`;

/** A split reduction's two launches: `first` over `inputs` into `midSize` partials, then `second` over those into `size`. */
export function twoPasses(ctx: GpuContext, first: string, inputs: readonly GpuBuf[], midSize: number, second: string, size: number): GpuBuf {
  const part = ctx.run(first, inputs, midSize);
  const res = ctx.run(second, [part], size);
  ctx.release(part);
  return res;
}
