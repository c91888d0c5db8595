/**
 * Test helpers for layers: init a layer in float64, run it, and check its gradient with respect to
 * its input and every parameter at once by central differences (spec/helpers.ts's checkGrad).
 */
import type { Test } from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { checkGrad, input, nextKey } from '../helpers.js';

/** All of a layer output's tensors as one flat vector (outputs may be arrays or records). */
export const flatOut = (y: nn.Value): np.Tensor =>
  (y instanceof np.Tensor ? y : np.concat(np.treeLeaves(y).map((l) => np.reshape(l, [-1])), 0));

/** A float64 input of a (possibly nested) shape. */
export const inputOf = (s: nn.Shapes): nn.Value =>
  (nn.isShape(s) ? input([...(s as number[])]) : Array.isArray(s) ? s.map(inputOf) : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, inputOf(v)])));

export interface LayerCase { layer: nn.Layer; shape: nn.Shapes; train?: boolean; key?: np.Key }

/** init (float64) then apply: the output's shape must be the one init promised, in train and in eval. */
export function checkShapes(t: Test, { layer, shape, key }: LayerCase): void {
  const r = layer.init(nextKey(), shape, { dtype: 'float64' });
  const x = inputOf(shape);
  for (const train of [true, false]) {
    const { y } = layer.apply(r.params, r.state, x, { train, key: key ?? nextKey() });
    const got = np.treeLeaves(y).map((l) => [...l.shape]);
    const want = shapeLeaves(r.outputShape);
    t.deepEqual(got, want, `${layer.name}: apply (${train ? 'train' : 'eval'}) gives the output shape init promised ${JSON.stringify(r.outputShape)}`);
  }
}

/** The shapes of an output-shape tree in pytree leaf order (object keys sorted, as flatten does). */
function shapeLeaves(s: nn.Shapes): number[][] {
  if (nn.isShape(s)) return [[...(s as number[])]];
  if (Array.isArray(s)) return s.flatMap(shapeLeaves);
  return Object.keys(s).sort().flatMap((k) => shapeLeaves((s as Record<string, nn.Shapes>)[k]));
}

/** Gradient of the layer's output with respect to its input and all its params (float64, CPU). */
export function checkLayerGrad(t: Test, { layer, shape, train = true, key }: LayerCase, opts: { second?: boolean } = {}): void {
  const r = layer.init(nextKey(), shape, { dtype: 'float64' });
  const x = inputOf(shape);
  const [xLeaves, xDef] = np.treeFlatten(x);
  const [pLeaves, pDef] = np.treeFlatten(r.params);
  const k = key ?? nextKey();
  const f = (...zs: np.Tensor[]) => {
    const xs = np.treeUnflatten(xDef, zs.slice(0, xLeaves.length));
    const ps = np.treeUnflatten(pDef, zs.slice(xLeaves.length));
    return flatOut(layer.apply(ps, r.state, xs, { train, key: k }).y);
  };
  checkGrad(t, f, [...xLeaves, ...pLeaves], `${layer.name} (${train ? 'train' : 'eval'}) d/d(input, ${pLeaves.length} params)`, opts);
}
