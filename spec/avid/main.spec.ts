/** npm start's options: defaults, parsing, and errors that name the option and what it wants; the table's shape. */
import test from 'tape';
import { formatTable, parseOptions } from '../../avid/main.js';
import { throwsWith } from '../helpers.js';

test('options parse, with defaults', (t) => {
  const o = parseOptions(['--objectives', 'self,cross', '--epochs', '3', '--resume']);
  t.deepEqual(o.objectives, ['self', 'cross'], 'list option');
  t.equal(o.epochs, 3, 'number option');
  t.equal(o.resume, true, 'flag');
  t.equal(parseOptions([]).backend, 'cpu', 'default backend');
  t.end();
});

test('bad options name themselves and what was expected', (t) => {
  throwsWith(t, () => parseOptions(['--epochs', 'x']), [/--epochs/, /PositiveInteger/, /"x"/], 'not a number');
  throwsWith(t, () => parseOptions(['--objectives', 'cros']), [/--objectives/, /"cross"/, /"cros"/], 'unknown objective');
  throwsWith(t, () => parseOptions(['--objectivs', 'cross']), [/unknown option --objectivs/, /--objectives/], 'misspelt option');
  throwsWith(t, () => parseOptions(['--epochs']), [/--epochs needs a value/], 'missing value');
  t.end();
});

test('the report is shaped like the paper\'s Table 1', (t) => {
  const report = { probe: { video: [0.1, 0.2, 0.3, 0.4], audio: [0.5, 0.6, 0.7, 0.8] }, best: { video: 0.4, audio: 0.8 }, retrieval: { v2a: [0.01, 0.05] as [number, number], a2v: [0.02, 0.06] as [number, number] } };
  const lines = formatTable([{ label: 'random init', report }, { label: 'Cross-AVID', report }]).split('\n');
  t.equal(lines.length, 4, 'two header lines and one row per method');
  t.ok(/block1 +block2 +block3 +block4 +best/.test(lines[1]), 'block columns and best');
  t.ok(lines[3].startsWith('Cross-AVID') && lines[3].includes('40.0') && lines[3].includes('80.0') && lines[3].includes('1.0 / 5.0'), lines[3]);
  t.end();
});
