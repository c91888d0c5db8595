/**
 * `npm run repl`: a Node REPL with the library loaded. Every export of core/ is in scope, and `np` is
 * the whole namespace. Tensors print like numpy arrays.
 *
 *   np> x = tensor([[1, 2], [3, 4]])
 *   np> grad(x => sum(mul(x, x)))(x)
 */
import repl from 'node:repl';
import * as np from '../core/index.js';

console.log('avid-fn REPL: every core export is in scope (tensor, grad, matmul, random, ...), and np is the namespace.');
console.log("Try: x = tensor([[1, 2], [3, 4]]); grad(x => sum(mul(x, x)))(x)");
const r = repl.start({ prompt: 'np> ', useGlobal: false });
Object.assign(r.context, np, { np });
