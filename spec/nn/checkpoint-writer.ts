/**
 * A child process for the crash test in checkpoint.spec.ts: saves checkpoint version 1, 2, 3, ...
 * to the directory in argv[2] forever, printing each version once it is committed, until killed.
 * Version v holds tensors whose every element is v, so a reader can tell a torn checkpoint.
 */
import * as np from '../../core/index.js';
import { saveCheckpoint } from '../../nn/index.js';

const dir = process.argv[2];
for (let v = 1; ; v++) {
  const tree = { big: np.full([1 << 20], v, 'float64'), params: [np.full([1000], v), np.full([3], v, 'int32')], step: v };
  saveCheckpoint(dir, tree, { version: v });
  process.stdout.write(`${v}\n`);
}
