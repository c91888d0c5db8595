/**
 * AVID on real videos from the command line: a small dataset encoded by ffmpeg (mp4 and webm with
 * sound, plus damaged files), trained 2 epochs by `avid train`, killed with SIGKILL and resumed to a
 * checkpoint byte-identical to an uninterrupted run's, evaluated to the promised JSON, embedded, and
 * reported with every file name escaped.
 */
import test from 'tape';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool, needTool } from '../tools.js';
import { inspectReport } from './browser.js';
import { damagedFiles, makeVideoDataset, weirdName } from './fixtures.js';

if (needTool(test, 'ffmpeg', 'ffmpeg')) {
  const tmp = mkdtempSync(join(tmpdir(), 'avid-videos-'));
  test.onFinish(() => rmSync(tmp, { recursive: true, force: true }));
  const data = join(tmp, 'data'), evilSkipped = '<b onmouseover=alert(3)>bold $(touch pwned).mp4';
  const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') }; // decoded clips stay in this test's folder
  const clip = ['--size', '16', '--frames', '4', '--audio-seconds', '1', '--mels', '20', '--batch', '4', '--negatives', '4', '--quiet'];
  const avid = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['avid/bin.mjs', ...args], { encoding: 'utf8', env });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const checkpointBytes = (run: string) => {
    const dir = join(run, 'checkpoint');
    return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
  };

  test('a folder of real videos: train 2 epochs, skipping the damaged files with a warning each', (t) => {
    const made = makeVideoDataset(data, { classes: 2, perClass: { train: 4, test: 2 } });
    // hostile names where the report shows them: a good test clip (embedding tooltips) and a skipped file
    copyFileSync(join(data, 'train', 'class0', weirdName), join(data, 'test', 'class1', weirdName));
    writeFileSync(join(data, 'train', 'class1', evilSkipped), 'not a video');
    made.damaged.push(`train/class1/${evilSkipped}`);
    const r = avid('train', '--data', data, '--out', join(tmp, 'a'), '--epochs', '2', ...clip);
    t.equal(r.code, 0, `exits 0 ${r.err.slice(-400)}`);
    for (const name of Object.keys(damagedFiles)) t.ok(new RegExp(`skipping train/class0/${name.replace('.', '\\.')}: `).test(r.out), `warns about ${name}`);
    const summary = JSON.parse(readFileSync(join(tmp, 'a', 'summary.json'), 'utf8'));
    t.equal(summary.skipped.length, made.damaged.length, `summary counts ${made.damaged.length} skipped files`);
    t.deepEqual(summary.clips, { train: made.good - 4, test: 5 }, 'the good clips are used, train and test');
    const steps = readFileSync(join(tmp, 'a', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    t.equal(steps.length, 2 * Math.floor(11 / 4), 'a step per whole batch of the 11 training files that probe well (two then fail to decode)');
    const used = steps.reduce((a, r) => a + r.clips, 0);
    t.ok(steps.every((r) => r.clips <= 4) && used <= 2 * (made.good - 4) && used >= 2 * (8 - 2), `clips that failed to decode are left out of their batches (${used} clip-steps)`);
    t.end();
  });

  test('SIGKILL at any moment, then --resume: the final checkpoint is byte-identical', async (t) => {
    const reference = checkpointBytes(join(tmp, 'a'));
    for (const [name, when] of [['b', 'after the first checkpoint'], ['c', 'mid-epoch']] as const) {
      const run = join(tmp, name);
      const child = spawn(process.execPath, ['avid/bin.mjs', 'train', '--data', data, '--out', run, '--epochs', '2', ...clip], { stdio: 'ignore', env });
      const ready = () => when === 'mid-epoch' ? existsSync(join(run, 'metrics.jsonl')) && readFileSync(join(run, 'metrics.jsonl'), 'utf8').length > 0 : existsSync(join(run, 'checkpoint', 'manifest.json'));
      const exited = new Promise((done) => child.on('exit', done));
      for (let i = 0; i < 600 && !ready() && child.exitCode === null; i++) await new Promise((go) => setTimeout(go, 50));
      child.kill('SIGKILL');
      await exited;
      const r = avid('train', '--data', data, '--out', run, '--epochs', '2', '--resume', ...clip);
      t.equal(r.code, 0, `killed ${when}, resumed: exit 0 ${r.err.slice(-300)}`);
      t.deepEqual(checkpointBytes(run), reference, `killed ${when}: checkpoint files byte-identical to the uninterrupted run`);
      const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
      t.deepEqual(steps, steps.map((_, i) => i + 1), 'metrics have each step once');
    }
  });

  test('eval --json, embed and the report on real videos', (t) => {
    const json = join(tmp, 'eval.json');
    const r = avid('eval', '--run', join(tmp, 'a'), '--json', json, '--windows', '3');
    t.equal(r.code, 0, `eval exits 0 ${r.err.slice(-300)}`);
    const e = JSON.parse(readFileSync(json, 'utf8'));
    t.deepEqual(Object.keys(e), ['video', 'audio', 'retrieval'], 'top-level keys');
    t.deepEqual(Object.keys(e.audio), ['block1', 'block2', 'block3', 'block4', 'best'], 'per-block keys and best');
    t.ok(Object.values(e.retrieval).every((v) => typeof v === 'number'), 'retrieval recalls');
    const random = avid('eval', '--random-init', '--data', data, '--json', join(tmp, 'random.json'), '--windows', '1');
    t.equal(random.code, 0, `eval --random-init exits 0 ${random.err.slice(-300)}`);
    const out = join(tmp, 'emb.safetensors');
    t.equal(avid('embed', '--run', join(tmp, 'a'), '--out', out, '--windows', '1').code, 0, 'embed exits 0');
    const bytes = readFileSync(out), len = Number(bytes.readBigUInt64LE(0)), header = JSON.parse(bytes.toString('utf8', 8, 8 + len));
    t.deepEqual(header.video.shape, [header.audio.shape[0], 128], 'safetensors: video [clips, 128]');
    t.ok(JSON.parse(header.__metadata__.clips).includes(`train/class0/${weirdName}`), 'the clip list holds the real file names');
    const html = readFileSync(join(tmp, 'a', 'report.html'), 'utf8');
    t.notOk(html.includes('<img src=x') || html.includes('<b onmouseover'), 'no file name reaches the report as markup');
    t.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), 'a clip\'s name shows as text');
    t.ok(html.includes(`(${Object.keys(damagedFiles).length + 1} skipped)`), 'the report counts the skipped files');
    t.ok(html.includes('&lt;b onmouseover=alert(3)&gt;bold $(touch pwned).mp4'), 'a skipped file\'s name shows as text');
    t.notOk(existsSync(join(process.cwd(), 'pwned')) || existsSync(join(data, 'train', 'class1', 'pwned')), 'no file name reached a shell');
    t.end();
  });

  if (hasTool('chromium')) {
    test('the real run\'s report in chromium: plots rendered, images decoded, nothing ran or loaded', async (t) => {
      const shot = process.env.AVID_SCREENSHOT_RUN ?? join(tmpdir(), 'avid-report-videos.png');
      const seen = await inspectReport(join(tmp, 'a', 'report.html'), shot);
      for (const [cls, got] of Object.entries(seen.plots)) t.ok(got && got.marks > 0 && got.w > 0, `${cls} rendered (${JSON.stringify(got)})`);
      t.ok(seen.images.length >= 6 && seen.images.every((i) => i.ok && i.w > 0), `${seen.images.length} frame strips and spectrograms decoded`);
      t.equal(seen.pointTitles, 5, 'one point per usable test clip');
      t.deepEqual([seen.problems, seen.dialogs, seen.requests, seen.foreign], [[], [], [], 0], 'no error, dialog, request or foreign element');
      t.comment(`screenshot: ${shot}`);
    });
  }
}
