/**
 * The `avid` command line: train, evaluate, embed and report on the built-in data or a folder of
 * your own videos; `avid compare` is `npm start`'s Table-1 job.
 *
 *   avid train --data ~/videos --out runs/mine          train Cross-AVID on a folder of videos
 *   avid eval --run runs/mine --json eval.json          linear probes + retrieval, as JSON
 *   avid embed --run runs/mine --data ~/videos --out emb.npy
 *   avid report --run runs/mine                         (re)write runs/mine/report.html
 *   avid export --run runs/mine --out mine.safetensors  the model for the authors' PyTorch code
 *
 * Parsing is commander's; every value then goes through io-ts, so a bad one is reported with the
 * option (or config-file key), the value and what is allowed, and the process exits with code 2.
 * Options come from, in order of precedence: the command line, --config FILE (JSON), defaults.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import * as t from 'io-ts';
import * as np from '../core/index.js';
import { compare } from './main.js';
import { type Job, loadRun, runEval, runEmbed, runReport, runTrain } from './jobs.js';
import { checkData, decodeOptions, fields, flag, type Name } from './options.js';
import { UsageError } from './run.js';
import { exportTorch } from './torch.js';

export { decodeOptions, type Options } from './options.js';
export { UsageError };

/** Add the fields `names` to a commander command (values arrive as strings; decodeOptions types them). */
function withFields(cmd: Command, names: readonly Name[]): Command {
  for (const name of names) {
    const f = fields[name] as { type: t.Mixed; help: string; def?: unknown; arg?: string };
    const choices = f.type instanceof t.KeyofType ? Object.keys(f.type.keys).join('|') : f.type instanceof t.ArrayType && f.type.type instanceof t.KeyofType ? Object.keys(f.type.type.keys).join(',') : undefined;
    const def = f.def === undefined ? '' : ` (default: ${Array.isArray(f.def) ? f.def.join(',') : f.def})`;
    cmd.addOption(new Option(`${flag(name)} <${f.arg ?? choices ?? (f.type === t.string ? 'value' : 'N')}>`, `${f.help}${def}`));
  }
  return cmd;
}

/** A --run folder must exist (a missing one is a usage error, not a file that cannot be read). */
const checkRun = (dir: unknown) => { if (typeof dir === 'string' && !existsSync(dir)) throw new UsageError(`--run: no such folder ${JSON.stringify(dir)}`); };

const clipFields = ['frames', 'size', 'fps', 'sampleRate', 'audioSeconds', 'mels', 'maxSeconds', 'cache', 'cacheGb', 'jobs'] as const;
const trainFields = ['data', 'objective', 'epochs', 'batch', 'lr', 'negatives', 'zWarmup', 'seed', 'backend', 'train', 'test', ...clipFields] as const;

/** The program; `run(argv)` calls it. Exported for tests, which call `program().parseAsync`. */
export function program(out: (line: string) => void = console.log): Command {
  const prog = new Command('avid')
    .description('AVID (audio-visual instance discrimination) on the built-in data or your own videos')
    .showHelpAfterError('(run with --help for the options)')
    .exitOverride();
  const jobOf = (o: Record<string, unknown>): Job => ({ log: out, progress: Boolean(process.stderr.isTTY) && !o.quiet, jit: o.jit !== false });

  withFields(prog.command('train').description('train AVID and write a run folder (checkpoints, metrics, report)'), trainFields)
    .requiredOption('--out <RUNDIR>', 'the run folder to write')
    .option('--config <FILE>', 'JSON file of options (the command line wins)')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'delete what is in --out and start again')
    .option('--quiet', 'no progress bar')
    .option('--no-jit', 'run the training step eagerly (default: traced once and run as a compiled program)')
    .action(async (o) => {
      const opts = decodeOptions(trainFields, o, o.config);
      checkData(opts.data);
      const dir = resolve(o.out);
      if (o.resume && o.force) throw new UsageError('--resume and --force contradict each other: pick one');
      const exists = existsSync(dir) && readdirSync(dir).length > 0;
      if (exists && !o.resume && !o.force) throw new UsageError(`--out: ${o.out} already holds a run; add --resume to continue it or --force to start it again`);
      if (o.force && exists) rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      np.setBackend(opts.backend);
      const explicit = new Set(trainFields.filter((k) => o[k] !== undefined));
      await runTrain(dir, opts, explicit, Boolean(o.resume), jobOf(o));
    });

  prog.command('eval').description('linear probes per block (fitted on train/, scored on test/) and cross-modal retrieval')
    .option('--run <RUNDIR>', 'a run folder (its checkpoint is evaluated, figures written to RUNDIR/eval.json)')
    .option('--random-init', 'evaluate randomly initialised encoders instead of a run')
    .option('--data <DIR>', 'a folder with train/ and test/ splits of class folders (default: the run\'s data)')
    .option('--json <FILE>', 'also write the figures to FILE')
    .option('--windows <N>', 'windows averaged per clip', '10')
    .option('--seed <N>', 'with --random-init: the initialisation seed', '0')
    .option('--no-baseline', 'with --run: skip the random-init baseline (eval-random.json)')
    .action(async (o) => {
      if (Boolean(o.run) === Boolean(o.randomInit)) throw new UsageError('eval: give either --run RUNDIR or --random-init');
      checkRun(o.run);
      checkData(o.data);
      const { windows, seed } = decodeOptions(['windows', 'seed'], { windows: o.windows, seed: o.seed });
      await runEval({ run: o.run && resolve(o.run), data: o.data, json: o.json, windows, seed, baseline: o.baseline !== false }, jobOf(o), decodeOptions(trainFields, {}));
    });

  prog.command('embed').description('per-clip video and audio embeddings, for NumPy or PyTorch')
    .requiredOption('--run <RUNDIR>', 'a run folder')
    .option('--data <DIR>', 'a folder of videos (default: the run\'s data)')
    .requiredOption('--out <FILE>', 'FILE.npy ([2, clips, dim]: video then audio) or FILE.safetensors; the clip list goes beside it as FILE.clips.tsv')
    .option('--windows <N>', 'windows averaged per clip', '10')
    .action(async (o) => {
      if (!/\.(npy|safetensors)$/.test(o.out)) throw new UsageError(`--out: expected a file name ending in .npy or .safetensors, got ${JSON.stringify(o.out)}`);
      checkRun(o.run);
      checkData(o.data);
      const { windows } = decodeOptions(['windows'], { windows: o.windows });
      await runEmbed(resolve(o.run), o.data, resolve(o.out), windows, jobOf(o));
    });

  prog.command('export').description('the run\'s model as the AVID authors\' PyTorch state_dict (facebookresearch/AVID-CMA AV_Wrapper), in safetensors')
    .requiredOption('--run <RUNDIR>', 'a run folder (its last checkpoint, with the BatchNorm statistics it holds)')
    .requiredOption('--out <FILE>', 'FILE.safetensors')
    .option('--keep-bn', 'keep our BatchNorm before each head as video_bn.*/audio_bn.* (not in their model) instead of folding it into the head\'s first Linear')
    .action((o) => {
      if (!o.out.endsWith('.safetensors')) throw new UsageError(`--out: expected a file name ending in .safetensors, got ${JSON.stringify(o.out)}`);
      checkRun(o.run);
      const r = loadRun(resolve(o.run));
      exportTorch(resolve(o.out), r.cfg.model, r.params, r.bn, { headBn: o.keepBn ? 'keep' : 'fold' });
      out(`wrote ${o.out}: the AVID authors' state_dict names (load with AV_Wrapper(...).load_state_dict); see avid/torch.ts`);
    });

  prog.command('report').description('(re)write RUNDIR/report.html from what the run folder holds')
    .requiredOption('--run <RUNDIR>', 'a run folder')
    .action(async (o) => { checkRun(o.run); await runReport(resolve(o.run), jobOf(o)); });

  const compareFields = ['objectives', 'epochs', 'train', 'test', 'batch', 'negatives', 'zWarmup', 'lr', 'seed', 'seeds', 'backend', 'windows'] as const;
  withFields(prog.command('compare').description('npm start: train each objective on the built-in data and print a table like the paper\'s Table 1'), compareFields)
    .option('--dir <DIR>', 'where the runs\' checkpoints go', 'runs')
    .option('--resume', 'continue the runs in --dir from their last checkpoints')
    .option('--json <FILE>', 'also write every seed\'s figures to FILE')
    .option('--no-jit', 'run the training steps eagerly (default: traced once and run as a compiled program)')
    .action(async (o) => {
      const opts = decodeOptions(compareFields, o);
      np.setBackend(opts.backend);
      await compare({ ...opts, dir: o.dir, resume: Boolean(o.resume), json: o.json, jit: o.jit !== false }, out);
    });
  return prog;
}

/** Run the CLI on `argv` (without node and script); resolves to the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    if (e instanceof UsageError) { console.error(`avid: ${e.message}`); return 2; }
    console.error(`avid: ${(e as Error).message ?? e}`);
    if (process.env.AVID_DEBUG) console.error((e as Error).stack);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]).replace(/\.ts$/, '') === resolve(new URL(import.meta.url).pathname).replace(/\.ts$/, '')) {
  run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
