/**
 * Seeing a computation: makeTrace lists a function's primitives with avals (and the backward pass of
 * a grad); toDot writes each small value and the gradient of the scalar output on its node, and those
 * numbers are the function's own values and np.grad's gradients; toSvg renders the graph.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { close } from '../helpers.js';

const f = (x: np.Tensor, w: np.Tensor) => np.sum(np.tanh(np.mul(x, w)));
const x = np.tensor([0.5, -1], { dtype: 'float64' }), w = np.tensor([2, 3], { dtype: 'float64' });

test('makeTrace lists the primitives with their avals, and a grad\'s backward pass', (t) => {
  const fwd = String(np.makeTrace(f)(x, w));
  t.match(fwd, /v2: float64\[2\] = mul\(in0, in1\)\n {2}v3: float64\[2\] = tanh\(v2\)\n {2}v4: float64\[\] = sum\(v3\)/, fwd);
  const bwd = np.makeTrace(np.grad(f))(x, w);
  t.ok(bwd.steps.every((s) => !s.fused), 'nothing is fused in a trace');
  t.deepEqual(bwd.steps.map((s) => s.prim.name), ['mul', 'tanh', 'mul', 'sub', 'mul', 'mul'], `forward then tanh's and mul's rules:\n${bwd}`);
  t.end();
});

/** The numbers written on node `name` in DOT text: its value and grad lines. */
function nodeNumbers(dot: string, name: string): { value: number[]; grad: number[] } {
  const label = new RegExp(`\\n  ${name} \\[shape=box, label="([^"]*)"`).exec(`\n${dot}`)![1];
  const nums = (key: string) => {
    const m = new RegExp(`${key} \\[?([^\\]\\\\]*)`).exec(label);
    return m ? m[1].split(', ').map(Number) : [];
  };
  return { value: nums('value'), grad: nums('grad') };
}

test('toDot writes values and the gradients of the scalar output on the nodes', (t) => {
  const dot = np.toDot(f, [x, w]);
  t.match(dot, /^digraph program \{/, 'DOT text');
  const gx = np.grad(f)(x, w).dataSync(), gw = np.grad(f, { argnums: 1 })(x, w).dataSync();
  close(t, { shape: [2], data: nodeNumbers(dot, 'in0').grad }, { shape: [2], data: gx }, 'd out / d x on the x node', { rtol: 1e-3, atol: 1e-4 });
  close(t, { shape: [2], data: nodeNumbers(dot, 'in1').grad }, { shape: [2], data: gw }, 'd out / d w on the w node', { rtol: 1e-3, atol: 1e-4 });
  const xw = np.mul(x, w);
  close(t, { shape: [2], data: nodeNumbers(dot, 'v2').value }, xw, 'the product node holds x * w', { rtol: 1e-3 });
  const dt = np.sub(1, np.square(np.tanh(xw)));
  close(t, { shape: [2], data: nodeNumbers(dot, 'v2').grad }, dt, 'and the gradient through tanh, 1 - tanh^2', { rtol: 1e-3, atol: 1e-4 });
  t.deepEqual(nodeNumbers(dot, 'v4').grad, [1], 'the output\'s own gradient is 1');
  t.ok(!/value/.test(np.toDot(f, [x, w], { values: 0 })), 'values: 0 leaves numbers off');
  t.end();
});

test('toSvg renders the graph with Graphviz', async (t) => {
  const svg = await np.toSvg(np.toDot(f, [x, w]));
  t.match(svg, /<svg[\s\S]*<\/svg>/, 'an SVG document');
  t.match(svg, /<text[^>]*>tanh<\/text>/, 'with the tanh node drawn');
  t.end();
});
