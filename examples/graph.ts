/**
 * Seeing autodiff: a neuron's program, printed (makeTrace), with its backward pass, and drawn with
 * each value and gradient on its node (toDot, rendered by Graphviz: micrograd's draw_dot).
 * `npx tsx examples/graph.ts [out.svg]` prints both programs and writes the picture (default graph.svg).
 */
import { writeFileSync } from 'node:fs';
import * as np from '../core/index.js';

// a neuron: tanh(x . w + b)
const neuron = (x: np.Tensor, w: np.Tensor, b: np.Tensor) => np.tanh(np.add(np.sum(np.mul(x, w)), b));
const x = np.tensor([2, 0]), w = np.tensor([-3, 1]), b = np.tensor(6.8813735870195432);

console.log('the forward pass:');
console.log(String(np.makeTrace(neuron)(x, w, b)));
console.log('\nits gradient with respect to w, forward and backward:');
console.log(String(np.makeTrace(np.grad(neuron, { argnums: 1 }))(x, w, b)));

const out = process.argv[2] ?? 'graph.svg';
writeFileSync(out, await np.toSvg(np.toDot(neuron, [x, w, b])));
console.log(`\nwrote ${out}`);
