/**
 * Printing tensors the way numpy prints arrays: nested brackets, aligned columns, and a summary
 * with `...` when the tensor is large. Used by `util.inspect` (so the REPL shows values) and toString.
 */
import type { Tensor } from './tensor.js';

const EDGE = 3;
const THRESHOLD = 1000;

function formatNumber(v: number, isInt: boolean, exp: boolean): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (isInt) return String(v);
  if (exp) return v.toExponential(4);
  return Number.isInteger(v) ? `${v}.` : v.toFixed(4).replace(/0+$/, '');
}

export function formatTensor(t: Tensor): string {
  const tag = t.trace ? 'Traced' : 'tensor';
  let data;
  try { data = t.dataSync(); } catch {
    // a jit or vmap tracer has no values of its own to show
    return `Traced<${t.dtype}[${t.shape.join(', ')}]>`;
  }
  const shape = t.shape;
  const summarise = t.size > THRESHOLD;
  const isInt = t.dtype === 'int32' || t.dtype === 'bool';
  const finite = Array.from(data).filter((v) => Number.isFinite(v) && v !== 0).map(Math.abs);
  const exp = !isInt && finite.length > 0 && (Math.max(...finite.slice(0, 10000)) >= 1e8 || Math.min(...finite.slice(0, 10000)) < 1e-4);
  const fmt1 = (v: number) => (t.dtype === 'bool' ? (v ? 'true' : 'false') : formatNumber(v, isInt, exp));

  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { strides[i] = acc; acc *= shape[i]; }
  const indices = (n: number) =>
    summarise && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];

  let width = 0;
  const visit = (dim: number, off: number): void => {
    if (dim === shape.length) { width = Math.max(width, fmt1(data[off]).length); return; }
    for (const i of indices(shape[dim])) if (i >= 0) visit(dim + 1, off + i * strides[dim]);
  };
  visit(0, 0);

  const indent = tag.length + 1;
  const build = (dim: number, off: number): string => {
    if (dim === shape.length) return fmt1(data[off]).padStart(width);
    const parts = indices(shape[dim]).map((i) => (i < 0 ? '...' : build(dim + 1, off + i * strides[dim])));
    const sep = dim === shape.length - 1 ? ', ' : ',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(indent + dim + 1);
    return '[' + parts.join(sep) + ']';
  };
  return `${tag}(${build(0, 0)}, dtype=${t.dtype}, shape=[${shape.join(', ')}])`;
}
