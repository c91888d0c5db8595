/**
 * Seeing a computation: `makeTrace(f)(...args)` is the program jit records (JAX's jaxpr), printed one
 * primitive per line with avals; traced through `grad` it shows the backward pass too. `toDot` draws
 * it as a Graphviz graph, with each value, and its gradient when the output is a scalar, written on
 * its node for small tensors (micrograd's draw_dot); `toSvg` renders that with Graphviz compiled to
 * WebAssembly (@viz-js/viz), in Node or a browser.
 */
import { grad } from './autodiff.js';
import { zeros } from './creation.js';
import { jit, type Program } from './jit.js';
import { flatten } from './pytree.js';
import { Tensor } from './tensor.js';
import { bind } from './trace.js';
import { add } from './prims/add.js';

/**
 * The primitives `f` runs for these arguments, unfused, as a printable program.
 * `String(makeTrace((x) => np.sum(np.mul(x, x)))(np.tensor([1, 2])))`
 */
export const makeTrace = <Args extends unknown[]>(f: (...args: Args) => unknown) =>
  (...args: Args): Program => jit(f, { fuse: false }).program(...args);

export interface DotOptions {
  /** Write values (and gradients) on nodes of at most this many elements (default 8; 0: none). */
  values?: number;
}

const fmtValues = (t: Tensor, dtype: string): string => {
  const v = Array.from(t.dataSync(), (x) => (dtype === 'bool' ? String(!!x) : String(Number(x.toPrecision(4)))));
  return v.length === 1 ? v[0] : `[${v.join(', ')}]`;
};

/**
 * The program of `f` at `args` as Graphviz DOT: a box per value (name, aval and, for small tensors,
 * its value and the gradient of a scalar output with respect to it), an ellipse per primitive.
 * `toDot((x) => np.sum(np.tanh(x)), np.tensor([0.5, -1]))`
 */
export function toDot<Args extends unknown[]>(f: (...args: Args) => unknown, args: Args, opts: DotOptions = {}): string {
  const prog = makeTrace(f)(...args);
  const limit = opts.values ?? 8;
  const [leaves] = flatten(args);
  const { values, grads } = limit > 0 ? evaluate(prog, leaves) : { values: [], grads: [] };
  const name = (v: number) => `${v < prog.nIn ? 'in' : v < prog.nIn + prog.consts.length ? 'k' : 'v'}${v}`;
  const lines = ['digraph program {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  const label = (v: number) => {
    const a = prog.avals[v];
    const rows = [`${name(v)}: ${a.dtype}[${a.shape.join(', ')}]`];
    const small = a.shape.reduce((x, y) => x * y, 1) <= limit;
    if (small && values[v]) rows.push(`value ${fmtValues(values[v], a.dtype)}`);
    if (small && grads[v]) rows.push(`grad ${fmtValues(grads[v], a.dtype)}`);
    return rows.join('\\n');
  };
  const used = new Set<number>([...prog.outs, ...prog.steps.flatMap((s) => [...s.ins, s.out])]);
  for (const v of [...used].sort((a, b) => a - b)) {
    const style = v < prog.nIn ? ', style=filled, fillcolor="#dbe9ff"' : prog.outs.includes(v) ? ', style=filled, fillcolor="#ffe2c6"' : '';
    lines.push(`  ${name(v)} [shape=box, label="${label(v)}"${style}];`);
  }
  prog.steps.forEach((s, j) => {
    lines.push(`  op${j} [shape=ellipse, label="${s.prim.name}"];`);
    s.ins.forEach((v, i) => lines.push(`  ${name(v)} -> op${j}${s.ins.length > 1 ? ` [label="${i}"]` : ''};`));
    lines.push(`  op${j} -> ${name(s.out)};`);
  });
  lines.push('}');
  return lines.join('\n');
}

/**
 * Every variable's value at `args` and, when the program's one output is a scalar, the gradient of
 * that output with respect to each float variable: a zero added after each equation, differentiated.
 */
function evaluate(prog: Program, args: readonly Tensor[]): { values: Tensor[]; grads: (Tensor | undefined)[] } {
  const run = (xs: readonly Tensor[], eps: readonly (Tensor | undefined)[]): Tensor[] => {
    const env: Tensor[] = [...xs, ...prog.consts];
    prog.steps.forEach((s, j) => {
      const y = bind(s.prim, s.ins.map((v) => env[v]), s.attrs);
      env[s.out] = eps[j] ? add(y, eps[j]!) : y;
    });
    return env;
  };
  const values = run(args, []);
  const grads: (Tensor | undefined)[] = [];
  const isFloat = (v: number) => prog.avals[v].dtype === 'float32' || prog.avals[v].dtype === 'float64';
  const out = prog.outs.length === 1 ? prog.outs[0] : -1;
  if (out >= 0 && prog.avals[out].shape.length === 0 && isFloat(out)) {
    const eps = prog.steps.map((s) => (isFloat(s.out) ? zeros(prog.avals[s.out].shape, prog.avals[s.out].dtype) : undefined));
    const [gx, ge] = grad((xs: Tensor[], es: (Tensor | undefined)[]) => run(xs, es)[out], { argnums: [0, 1] })([...args], eps) as [Tensor[], (Tensor | undefined)[]];
    gx.forEach((t, i) => { if (isFloat(i)) grads[i] = t; });
    prog.steps.forEach((s, j) => { if (ge[j]) grads[s.out] = ge[j]; });
  }
  return { values, grads };
}

/**
 * DOT text rendered to SVG by Graphviz (WebAssembly; loaded on first use).
 * `await toSvg(toDot(f, [x]))`
 */
export async function toSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg' });
}
