/**
 * The `avid` command line: option decoding (a bad value names the option or config key, the value and
 * what is allowed, exit code 2), run-folder safety, the Table-1 layout, and a tiny end-to-end run on
 * the built-in data: train, refuse to overwrite, resume, eval --json, embed, report.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOptions, run, UsageError } from '../../avid/cli.js';
import { formatTable } from '../../avid/main.js';
import { loadRun } from '../../avid/jobs.js';
import { throwsWith } from '../helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'avid-cli-'));
test.onFinish(() => rmSync(tmp, { recursive: true, force: true }));

/** Run the real `avid` launcher in a child process: exit code and output. */
const avid = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['avid/bin.mjs', ...args], { encoding: 'utf8', env: { ...process.env, CI: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('options decode with defaults; command line beats config file beats default', (t) => {
  const cfg = join(tmp, 'cfg.json');
  writeFileSync(cfg, JSON.stringify({ epochs: 3, lr: 0.002 }));
  const o = decodeOptions(['epochs', 'lr', 'objective', 'objectives'], { lr: '0.005', objectives: 'self,cross' }, cfg);
  t.equal(o.epochs, 3, 'from the config file');
  t.equal(o.lr, 0.005, 'the command line wins');
  t.equal(o.objective, 'cross', 'default');
  t.deepEqual(o.objectives, ['self', 'cross'], 'a list');
  t.end();
});

test('a bad value names the option, the value and what is allowed', (t) => {
  throwsWith(t, () => decodeOptions(['epochs'], { epochs: 'x' }), [/--epochs/, /positive integer/, /"x"/], 'not a number');
  throwsWith(t, () => decodeOptions(['epochs'], { epochs: '2.5' }), [/--epochs/, /positive integer/, /2.5/], 'not an integer');
  throwsWith(t, () => decodeOptions(['objective'], { objective: 'cros' }), [/--objective/, /one of cross, self, joint, cma/, /"cros"/], 'unknown objective');
  throwsWith(t, () => decodeOptions(['lr'], { lr: '3' }), [/--lr/, /between 0 and 1/], 'lr out of range');
  throwsWith(t, () => decodeOptions(['sampleRate'], { sampleRate: '-1' }), [/--sample-rate/], 'camelCase fields are kebab-case flags');
  const cfg = join(tmp, 'bad.json');
  writeFileSync(cfg, JSON.stringify({ epochz: 3 }));
  throwsWith(t, () => decodeOptions(['epochs'], {}, cfg), [/bad\.json/, /unknown key "epochz"/, /epochs/], 'unknown config key');
  writeFileSync(cfg, JSON.stringify({ epochs: 'many' }));
  throwsWith(t, () => decodeOptions(['epochs'], {}, cfg), [/bad\.json: "epochs"/, /positive integer/, /"many"/], 'bad config value');
  writeFileSync(cfg, '{ not json');
  throwsWith(t, () => decodeOptions(['epochs'], {}, cfg), [/not valid JSON/], 'broken config file');
  t.ok(new UsageError('x') instanceof Error, 'usage errors are errors');
  t.end();
});

test('exit codes: 0 for --help, 2 for usage errors', async (t) => {
  const err = console.error;
  const said: string[] = [];
  console.error = (m: string) => { said.push(m); };
  try {
    t.equal(await run(['train', '--epochs', 'x', '--out', join(tmp, 'r')]), 2, 'bad value: 2');
    t.ok(said.some((m) => /--epochs: expected a positive integer, got "x"/.test(m)), said.at(-1));
    t.equal(await run(['eval']), 2, 'eval without --run or --random-init: 2');
    t.equal(await run(['embed', '--run', tmp, '--out', 'x.csv']), 2, 'embed to an unknown format: 2');
  } finally { console.error = err; }
  const help = avid('train', '--help');
  t.equal(help.code, 0, '--help exits 0');
  for (const f of ['--data', '--objective', '--epochs', '--batch', '--lr', '--negatives', '--seed', '--backend', '--config', '--out', '--resume', '--force']) t.ok(help.out.includes(f), `train --help lists ${f}`);
  for (const cmd of ['eval', 'embed', 'report', 'compare']) t.equal(avid(cmd, '--help').code, 0, `${cmd} --help`);
  const unknown = avid('train', '--epochz', '3', '--out', join(tmp, 'r'));
  t.equal(unknown.code, 2, 'unknown option: 2');
  t.ok(/unknown option '--epochz'/.test(unknown.err) && /--epochs/.test(unknown.err), `names it and suggests: ${unknown.err.trim().split('\n')[0]}`);
  t.equal(avid('trian').code, 2, 'unknown command: 2');
  const missing = avid('train', '--data', join(tmp, 'no-such-folder'), '--out', join(tmp, 'r2'));
  t.equal(missing.code, 2, 'a missing --data folder: 2');
  t.ok(/--data: no such folder/.test(missing.err) && !existsSync(join(tmp, 'r2')), 'named, and no run folder made');
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  const none = avid('train', '--data', empty, '--out', join(tmp, 'r3'));
  t.equal(none.code, 1, 'a folder with no videos fails');
  t.ok(/no video files/.test(none.err), `and says so: ${none.err.trim()}`);
  t.equal(avid('train').code, 2, 'missing --out: 2');
  const few = join(tmp, 'r4'), tooBig = avid('train', '--out', few, '--train', '4', '--test', '4', '--batch', '8', '--quiet');
  t.equal(tooBig.code, 2, 'fewer training clips than a batch: 2');
  t.ok(/--batch 8: 4 training clip\(s\) make no batch; give --batch 4 or less/.test(tooBig.err), `says what to change: ${tooBig.err.trim()}`);
  t.ok(!existsSync(join(few, 'config.json')), 'and leaves the run folder unclaimed');
  const fixed = avid('train', '--out', few, '--train', '4', '--test', '4', '--batch', '4', '--negatives', '2', '--epochs', '1', '--quiet');
  t.equal(fixed.code, 0, `so the corrected command runs there ${fixed.err.slice(-300)}`);
});

test('the report is shaped like the paper\'s Table 1', (t) => {
  const report = { probe: { video: [0.1, 0.2, 0.3, 0.4], audio: [0.5, 0.6, 0.7, 0.8] }, best: { video: 0.4, audio: 0.8 }, retrieval: { v2a: [0.01, 0.05] as [number, number], a2v: [0.02, 0.06] as [number, number] }, classRetrieval: { v2a: [0.3, 0.3] as [number, number], a2v: [0.3, 0.3] as [number, number] } };
  const lines = formatTable([{ label: 'random init', report }, { label: 'Cross-AVID', report }]).split('\n');
  t.equal(lines.length, 4, 'two header lines and one row per method');
  t.ok(/block1 +block2 +block3 +block4 +best/.test(lines[1]), 'block columns and best');
  t.ok(lines[3].startsWith('Cross-AVID') && lines[3].includes('40.0') && lines[3].includes('80.0') && lines[3].includes('1.0 / 5.0'), lines[3]);
  t.end();
});

test('built-in data end to end: train, refuse to overwrite, resume, eval --json, embed, report', (t) => {
  const dir = join(tmp, 'run'), small = ['--train', '16', '--test', '16', '--batch', '8', '--negatives', '8', '--seed', '3', '--quiet'];
  const tr = avid('train', '--out', dir, '--epochs', '1', ...small);
  t.equal(tr.code, 0, `train exits 0 ${tr.err.slice(-300)}`);
  for (const f of ['config.json', 'checkpoint/manifest.json', 'metrics.jsonl', 'summary.json', 'report.html']) t.ok(existsSync(join(dir, f)), `the run folder has ${f}`);
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(rows.map((r) => r.step), [1, 2], 'one metrics row per step');
  t.ok(['loss', 'loss_v2a', 'loss_a2v', 'sim_pos_v2a', 'sim_neg_v2a', 'clips_per_s'].every((k) => Number.isFinite(rows[0][k])), 'rows hold the loss, its terms, similarities and speed');
  const again = avid('train', '--out', dir, ...small);
  t.equal(again.code, 2, 'an existing run folder is not overwritten');
  t.ok(/already holds a run.*--resume.*--force/.test(again.err), again.err.trim());
  t.equal(avid('train', '--out', dir, '--resume', ...small, '--lr', '0.01').code, 2, 'resume refuses changed options');
  const more = avid('train', '--out', dir, '--resume', '--epochs', '2', ...small);
  t.equal(more.code, 0, 'resume with more epochs');
  t.ok(/resuming .* at step 2/.test(more.out), 'resumes at the checkpoint');
  t.deepEqual(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), [1, 2, 3, 4], 'metrics continue, none repeated');
  const json = join(tmp, 'eval.json');
  const ev = avid('eval', '--run', dir, '--json', json, '--windows', '2');
  t.equal(ev.code, 0, `eval exits 0 ${ev.err.slice(-300)}`);
  const e = JSON.parse(readFileSync(json, 'utf8'));
  t.deepEqual(Object.keys(e.video), ['block1', 'block2', 'block3', 'block4', 'best'], 'video probe keys');
  t.deepEqual(Object.keys(e.audio), ['block1', 'block2', 'block3', 'block4', 'best'], 'audio probe keys');
  t.deepEqual(Object.keys(e.retrieval).slice(0, 4), ['v2a_r1', 'a2v_r1', 'v2a_r5', 'a2v_r5'], 'retrieval keys: instance recall');
  t.deepEqual(Object.keys(e.retrieval).slice(4), ['v2a_class_p1', 'a2v_class_p1', 'v2a_class_p5', 'a2v_class_p5'], 'and class precision');
  t.ok([...Object.values(e.video), ...Object.values(e.retrieval)].every((v) => typeof v === 'number' && v >= 0 && v <= 100), 'percentages');
  t.equal(e.video.best, Math.max(e.video.block1, e.video.block2, e.video.block3, e.video.block4), 'best is the best block');
  t.ok(existsSync(join(dir, 'eval-random.json')), 'the random-init baseline is written beside it');
  const out = join(tmp, 'emb.npy');
  t.equal(avid('embed', '--run', dir, '--out', out, '--windows', '1').code, 0, 'embed exits 0');
  const bytes = readFileSync(out);
  t.equal(bytes.subarray(1, 6).toString(), 'NUMPY', '.npy magic');
  t.ok(bytes.toString('latin1', 10, 120).includes("'shape': (2, 32, 128)"), 'shape [2, clips, 128]');
  t.equal(readFileSync(`${out}.clips.tsv`, 'utf8').trim().split('\n').length, 33, 'a clip list with a header and one line per clip');
  t.end();
});

test('bad values, a missing value, a missing config file and a missing --run: named, exit 2', async (t) => {
  throwsWith(t, () => decodeOptions(['batch'], { batch: '0' }), [/--batch/, /positive integer/, /"0"/], 'zero where a positive integer is needed');
  throwsWith(t, () => decodeOptions(['negatives'], { negatives: '-3' }), [/--negatives/, /positive integer/, /"-3"/], 'a negative count');
  throwsWith(t, () => decodeOptions(['epochs'], { epochs: '' }), [/--epochs/, /positive integer/, /""/], 'an empty value');
  throwsWith(t, () => decodeOptions(['fps'], { fps: 'NaN' }), [/--fps/, /positive number/, /"NaN"/], 'NaN');
  throwsWith(t, () => decodeOptions(['audioSeconds'], { audioSeconds: 'Infinity' }), [/--audio-seconds/, /positive number/], 'Infinity');
  throwsWith(t, () => decodeOptions(['lr'], { lr: '0' }), [/--lr/, /between 0 and 1/], 'a zero learning rate');
  throwsWith(t, () => decodeOptions(['backend'], { backend: 'tpu' }), [/--backend/, /one of cpu, gpu/, /"tpu"/], 'an unknown backend');
  throwsWith(t, () => decodeOptions(['objectives'], { objectives: 'cross,nope' }), [/--objectives/, /list of one of cross/, /nope/], 'a bad list entry');
  throwsWith(t, () => decodeOptions(['epochs'], {}, join(tmp, 'no-such.json')), [/--config: no such file/, /no-such\.json/], 'a config file that is not there');
  const arr = join(tmp, 'array.json');
  writeFileSync(arr, '[1, 2]');
  throwsWith(t, () => decodeOptions(['epochs'], {}, arr), [/--config/, /array\.json must hold a JSON object/], 'a config file that is not an object');
  const noValue = avid('train', '--out', join(tmp, 'r4'), '--epochs');
  t.equal(noValue.code, 2, 'a flag without its value: 2');
  t.match(noValue.err, /option '--epochs <N>' argument missing/, 'names the flag');
  const err = console.error, said: string[] = [];
  console.error = (m: string) => { said.push(m); };
  try {
    for (const args of [['eval', '--run'], ['embed', '--out', 'e.npy', '--run'], ['report', '--run'], ['export', '--out', 'e.safetensors', '--run']]) {
      said.length = 0;
      t.equal(await run([...args, join(tmp, 'no-such-run')]), 2, `${args[0]} --run with no such folder: 2`);
      t.ok(said.some((m) => /--run: no such folder .*no-such-run/.test(m)), `named as a usage error: ${said.at(-1)}`);
    }
    said.length = 0;
    t.equal(await run(['report', '--run', tmp]), 1, 'a folder that is not a run: 1');
    t.ok(said.some((m) => /config\.json: cannot be read \(is this a run folder\?\)/.test(m)), said.at(-1));
  } finally { console.error = err; }
});

test('a hand-edited or mismatched run folder: an error naming the file and the key, before any layer runs', (t) => {
  const good = join(tmp, 'run');
  if (!existsSync(join(good, 'checkpoint', 'manifest.json'))) { t.fail('the end-to-end test above made no run folder'); t.end(); return; }
  const edited = (name: string, edit: (c: Record<string, any>) => void) => {
    const dir = join(tmp, `edited-${name}`);
    cpSync(good, dir, { recursive: true });
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    edit(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    return dir;
  };
  throwsWith(t, () => loadRun(edited('frames', (c) => { c.options.frames = 'x'; })), [/config\.json/, /"options\.frames": expected a positive integer, got "x"/], 'an option of the wrong type');
  throwsWith(t, () => loadRun(edited('size', (c) => { c.options.size = -4; })), [/config\.json/, /"options\.size"/, /-4/], 'a negative size');
  throwsWith(t, () => loadRun(edited('widths', (c) => { c.model.videoWidths = 'x'; })), [/config\.json/, /"model" is not a model config/, /videoWidths/], 'a model field of the wrong type');
  throwsWith(t, () => loadRun(edited('head', (c) => { delete c.model.head; })), [/config\.json/, /"model"/, /head/], 'a model field missing');
  throwsWith(t, () => loadRun(edited('stats', (c) => { c.stats.mean = c.stats.mean.slice(0, 3); })), [/config\.json/, /"stats"/, /3 and 40/], 'audio statistics of two lengths');
  throwsWith(t, () => loadRun(edited('version', (c) => { c.version = 2; })), [/config\.json/, /not a run config/, /version/], 'another version');
  throwsWith(t, () => loadRun(edited('other', (c) => { c.model.videoWidths = [8, 16, 32, 64]; })),
    [/checkpoint: not a checkpoint of the model in .*config\.json/, /params\.video\.encoder\.stem\.conv\.weight: shape \[16, 3, 3, 7, 7\] in the checkpoint, \[8, 3, 3, 7, 7\] in the model/],
    'a checkpoint of another model (this used to evaluate silently with the checkpoint\'s widths)');
  const noCkpt = edited('nockpt', () => {});
  rmSync(join(noCkpt, 'checkpoint', 'manifest.json'));
  throwsWith(t, () => loadRun(noCkpt), [/no checkpoint yet/], 'a run with no checkpoint');
  t.ok(loadRun(edited('unknown', (c) => { c.options.someday = 1; })).step > 0, 'an option this version does not know is left alone');
  t.end();
});
