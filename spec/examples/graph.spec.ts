/** examples/graph.ts prints a neuron's program and its gradient's, and draws the graph as SVG. */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('examples/graph.ts prints both programs and writes the picture', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'graph-')), 'neuron.svg');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/graph.ts', out], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  t.match(r.stdout, /v6: float32\[\] = tanh\(v5\)/, 'the forward program ends in tanh');
  t.match(r.stdout, /= mul\(v13, in0\)\n {2}return v14/, 'd/dw is the broadcast cotangent times x');
  const svg = readFileSync(out, 'utf8');
  t.match(svg, /<svg/, 'an SVG was written');
  t.match(svg, />grad 0\.5</, 'the pre-activation node carries 1 - tanh^2 = 0.5 (micrograd\'s neuron)');
  t.end();
});
