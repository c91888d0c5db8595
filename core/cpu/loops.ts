/**
 * The one CPU loop generator. Every CPU kernel that walks tensors element by element (elementwise
 * ops, where, sum, max, the BatchNorm primitives, jit's fused chains) is a body of statements over
 * one value per operand, and this module writes the loop around it:
 *
 * - The operands are arrays read or written at strides over one shape: the output's for an
 *   elementwise op (inputs broadcast, stride 0 along their broadcast axes), the input's for a
 *   reduction (its outputs with stride 0 along the reduced axes). `plan` collapses that shape into as
 *   few axes as possible, so that the common cases become long runs along the last axis.
 * - The loop visits the runs, an odometer over the other axes moving each operand's offset. Along a
 *   run each operand steps by its last stride, or stays put: then it is read (and, if written,
 *   stored) once per run instead of once per element, e.g. a per-channel scale or a sum's
 *   accumulator held in a register.
 * - The source is generated with `new Function` per loop and per pattern of array kinds and last
 *   strides (`0` or the step), each copy with its own source text, so V8 sees one typed-array kind per
 *   operand and one function per call site and inlines them (see `compile`).
 */
import type { Shape } from '../shape.js';
import { sizeOf, stridesOf } from '../shape.js';

/** What the body calls an operand, and whether it reads it, writes it, or both (an accumulator). */
export interface Operand {
  readonly name: string;
  readonly role: 'in' | 'out' | 'acc';
  /** array slots per element (default 1): the body sees name0.. (where's float64 as two int32 words) */
  readonly width?: number;
}

/**
 * An operand from its short form: `x` is read, `y=` written, `s+=` read and written back. The body
 * assigns the written ones (`y = f(x)`, `s += x`); the loop loads and stores them.
 */
export const operand = (s: string | Operand): Operand =>
  (typeof s !== 'string' ? s : s.endsWith('+=') ? { name: s.slice(0, -2), role: 'acc' } : s.endsWith('=') ? { name: s.slice(0, -1), role: 'out' } : { name: s, role: 'in' });

/** A loop: its name (in its source text), its operands in the order their arrays are passed, and its body. */
export interface LoopDef {
  readonly name: string;
  readonly operands: readonly (string | Operand)[];
  /** other values the body uses by name (scalar functions), passed with each call */
  readonly params?: readonly string[];
  /** statements run per element; the names it may not use start with `$` */
  readonly body: string;
}

/** The collapsed iteration space: its shape and each operand's strides (in elements), and its size. */
export interface Plan {
  readonly shape: readonly number[];
  readonly strides: readonly (readonly number[])[];
  readonly n: number;
}

/**
 * The walk over `shape` in as few axes as possible: size-1 axes are dropped and neighbours merged
 * while every operand steps through them alike (contiguous across the boundary, or stride 0 along
 * both). Same shapes become one run; a per-channel [1, C, 1, 1] against [B, C, H, W] runs of H * W
 * with a constant; a sum of [B, C, H, W] over [0, 2, 3] [B, C, H * W] with the first and last reduced.
 */
export function plan(shape: Shape, strides: readonly (readonly number[])[]): Plan {
  const dims: number[] = [], st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const r = dims.length - 1;
    if (r >= 0 && strides.every((s, i) => st[i][r] === s[d] * shape[d])) {
      dims[r] *= shape[d];
      strides.forEach((s, i) => { st[i][r] = s[d]; });
    } else {
      dims.push(shape[d]);
      strides.forEach((s, i) => st[i].push(s[d]));
    }
  }
  if (dims.length === 0) { dims.push(1); st.forEach((s) => s.push(0)); }
  return { shape: dims, strides: st, n: sizeOf(shape) };
}

/** For each axis of `shape`, its stride in the array of the axes not in `axes` (0 along those). */
export function reducedStrides(shape: Shape, axes: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) if (!axes.includes(i)) { st[i] = acc; acc *= shape[i]; }
  return st;
}

/** The plan of a reduction over `axes` of `shape`: `ins` arrays of that shape, then `outs` over the kept axes. */
export const reducePlan = (shape: Shape, axes: readonly number[], ins: number, outs: number): Plan =>
  plan(shape, [...Array(ins).fill(stridesOf(shape)), ...Array(outs).fill(reducedStrides(shape, axes))]);

type Arrays = readonly ArrayLike<number>[];
export type Loop = (plan: Plan, arrays: Arrays, params?: readonly unknown[]) => void;

/**
 * The loop of `def`, generated on first use for each pattern of array kinds and last strides it
 * meets. `loop(def)(plan(shape, strides), [arrays], [params])` runs `def.body` at every element.
 */
export function loop(def: LoopDef): Loop {
  const ops = def.operands.map(operand), params = def.params ?? [];
  const widths = ops.map((o) => o.width ?? 1), wide = widths.some((w) => w !== 1);
  const copies = new Map<string, Compiled>();
  return (p, arrays, values = []) => {
    if (p.n === 0) return;
    const strides = wide ? p.strides.map((s, i) => s.map((v) => v * widths[i])) : p.strides;
    let key = '';
    for (let i = 0; i < arrays.length; i++) key += `${arrays[i].constructor.name} ${strides[i][strides[i].length - 1]} `;
    let f = copies.get(key);
    if (!f) { f = compile(def.name, key, ops, params, strides.map((s) => s[s.length - 1]), def.body); copies.set(key, f); }
    f(p.shape, p.n, strides, values, arrays);
  };
}

type Compiled = (shape: readonly number[], n: number, strides: readonly (readonly number[])[], params: readonly unknown[], arrays: Arrays) => void;

/**
 * The source of one copy. Arrays are $a0.., their offsets $o0.. and strides $s0..; an operand
 * constant along the run (last stride 0) is loaded before it and stored after it, the others at
 * every element. NOTE: the source must differ per copy (hence the comment naming loop and key): V8
 * caches what `new Function` compiles by source text, and copies with the same text share their type
 * feedback, so after `add` the loop in `greater` would call its `f` through a megamorphic site (4x slower).
 */
function compile(name: string, key: string, ops: Operand[], params: readonly string[], last: readonly number[], body: string): Compiled {
  const at = (i: number, q: number) => `$a${i}[$o${i}${last[i] === 0 ? '' : last[i] === 1 ? ' + $j' : ` + $j * ${last[i]}`}${q ? ` + ${q}` : ''}]`;
  const slots = (o: Operand) => (o.width ? Array.from({ length: o.width }, (_, q) => [`${o.name}${q}`, q] as const) : [[o.name, 0] as const]);
  const load = (i: number) => slots(ops[i]).map(([v, q]) => `${ops[i].role === 'in' ? 'const' : 'let'} ${v}${ops[i].role === 'out' ? '' : ` = ${at(i, q)}`};`).join(' ');
  const store = (i: number) => (ops[i].role === 'in' ? '' : slots(ops[i]).map(([v, q]) => `${at(i, q)} = ${v};`).join(' '));
  const each = (pick: (i: number) => boolean, f: (i: number) => string) => ops.map((_, i) => (pick(i) ? f(i) : '')).filter(Boolean).join(' ');
  const idx = ops.map((_, i) => i), run = (i: number) => last[i] === 0, step = (i: number) => last[i] !== 0;
  const src = `/* ${name}: ${key} */
  ${idx.map((i) => `const $s${i} = $S[${i}], $a${i} = $A[${i}];`).join(' ')}
  ${params.map((v, i) => `const ${v} = $P[${i}];`).join(' ')}
  const $r = $shape.length, $last = $shape[$r - 1], $idx = new Int32Array($r);
  let ${idx.map((i) => `$o${i} = 0`).join(', ')};
  for (let $k = 0; $k < $n; $k += $last) {
    ${each(run, load)}
    for (let $j = 0; $j < $last; $j++) {
      ${each(step, load)}
      ${body}
      ${each(step, store)}
    }
    ${each(run, store)}
    for (let $d = $r - 2; $d >= 0; $d--) {
      $idx[$d]++; ${idx.map((i) => `$o${i} += $s${i}[$d];`).join(' ')}
      if ($idx[$d] < $shape[$d]) break;
      ${idx.map((i) => `$o${i} -= $s${i}[$d] * $shape[$d];`).join(' ')} $idx[$d] = 0;
    }
  }`;
  return new Function('$shape', '$n', '$S', '$P', '$A', src) as Compiled;
}
