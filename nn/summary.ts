/**
 * A model summary: one row per layer and sub-layer (indented by depth) with its output shape and
 * parameter count, read off the `parts` that combinators report from init.
 */
import * as np from '../core/index.js';
import { type Layer, type Part, paramCount, type Shapes } from './layer.js';

const fmtShapes = (s: Shapes): string =>
  Array.isArray(s) && s.every((d) => typeof d === 'number') ? `[${s.join(', ')}]`
    : Array.isArray(s) ? `(${s.map(fmtShapes).join(', ')})`
      : `{${Object.entries(s).map(([k, v]) => `${k}: ${fmtShapes(v)}`).join(', ')}}`;

/**
 * The table as a string: layer, output shape, params; `depth` limits how far sub-layers unfold.
 * `console.log(summary(videoEncoder(), [16, 3, 8, 32, 32]))`
 */
export function summary(layer: Layer, inputShape: Shapes, { depth = Infinity, key = np.random.key(0) } = {}): string {
  const r = layer.init(key, inputShape);
  const rows: [string, string, string][] = [['layer', 'output shape', 'params']];
  const walk = (parts: Part[] | undefined, indent: number) => {
    if (!parts || indent > depth) return;
    for (const p of parts) {
      rows.push([`${'  '.repeat(indent)}${p.path}: ${p.name}`, fmtShapes(p.outputShape), String(p.params)]);
      walk(p.parts, indent + 1);
    }
  };
  rows.push([layer.name, fmtShapes(r.outputShape), String(paramCount(r.params))]);
  walk(r.parts, 1);
  const w = [0, 1].map((i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map(([a, b, c]) => `${a.padEnd(w[0])}  ${b.padEnd(w[1])}  ${c.padStart(8)}`);
  lines.splice(1, 0, '-'.repeat(w[0] + w[1] + 12));
  lines.push(`input ${fmtShapes(inputShape)}; ${paramCount(r.params)} params, ${paramCount(r.state)} state values`);
  return lines.join('\n');
}
