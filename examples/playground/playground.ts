/**
 * The playground page (issue 10): edit a loss in JavaScript, train a tiny two-tower model on a
 * synthetic paired dataset with it, and watch the loss and the embeddings move; the Graph tab draws
 * the loss's program (np.toDot, np.toSvg) and prints it (np.makeTrace). Runs on the gpu backend
 * (gpu.js on WebGL2) and falls back to the cpu backend, saying so, where WebGL2 is missing.
 * Bundled by esbuild (examples/playground/server.ts); `npm run playground` builds and serves it.
 *
 * The data: B points in a hidden 2-D space, in 4 classes, seen through two "modalities", different
 * random nonlinear projections (16 and 12 features). Each tower (nn.Dense layers) maps one modality
 * to a 2-D embedding; the loss sees both towers' embeddings of the same points.
 */
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { PRESETS } from './presets.js';

const B = 128, CLASSES = 4;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e'];
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type LossFn = (a: np.Tensor, b: np.Tensor, data: Data) => unknown;
interface Data { latent: np.Tensor; labels: np.Tensor; xa: np.Tensor; xb: np.Tensor }

/** What the page exposes for its spec (and the curious, in the console). */
const status = {
  state: 'loading' as 'loading' | 'idle' | 'training' | 'done' | 'stopped' | 'error',
  backend: 'cpu', kernelClass: '', fallback: '' as string, losses: [] as number[], error: '' as string, jit: true,
};
(globalThis as { playground?: typeof status }).playground = status;
const setState = (s: typeof status.state) => { status.state = s; document.body.dataset.state = s; };

// ---------- backend ----------

function chooseBackend(): void {
  const forceCpu = new URLSearchParams(location.search).get('backend') === 'cpu';
  const s = forceCpu ? { ok: false as const, reason: 'the cpu backend was asked for (?backend=cpu)' } : np.gpuStatus();
  const el = $('backend');
  if (s.ok) {
    np.setBackend('gpu');
    status.backend = 'gpu';
    status.kernelClass = s.kernelClass;
    el.className = 'ok';
    el.textContent = `Backend: gpu, gpu.js ${s.kernelClass} (${s.kernelClass === 'WebGL2Kernel' ? 'WebGL2' : s.mode}) on ${s.renderer}`;
  } else {
    np.setBackend('cpu');
    status.backend = 'cpu';
    status.fallback = s.reason;
    el.className = 'warn';
    el.textContent = forceCpu ? 'The cpu backend was asked for (?backend=cpu): this runs on the cpu backend (plain JavaScript).'
      : `WebGL2 is not available here (${s.reason.replace(/^gpu backend unavailable: /, '')}), so this runs on the cpu backend (plain JavaScript, slower).`;
  }
}

// ---------- data and model ----------

function makeData(n: number): Data {
  const [k1, k2, k3, k4, k5, k6, k7] = np.random.split(np.random.key(0), 7);
  const labels = Array.from({ length: n }, (_, i) => i % CLASSES);
  const centers = labels.map((c) => [1.5 * Math.cos((c * 2 * Math.PI) / CLASSES), 1.5 * Math.sin((c * 2 * Math.PI) / CLASSES)]);
  const latent = np.add(np.tensor(centers), np.random.normal(k1, [n, 2], { std: 0.4 }));
  const wa = np.random.normal(k2, [2, 16]), ba = np.random.normal(k3, [16]);
  const wb = np.random.normal(k4, [2, 12]), bb = np.random.normal(k6, [12]);
  const xa = np.add(np.tanh(np.add(np.matmul(latent, wa), ba)), np.random.normal(k5, [n, 16], { std: 0.05 }));
  const xb = np.add(np.relu(np.add(np.matmul(latent, wb), bb)), np.random.normal(k7, [n, 12], { std: 0.05 }));
  return { latent, labels: np.tensor(labels, { dtype: 'int32' }), xa, xb };
}

const tower = () => nn.serial([nn.Dense(32), nn.Relu(), nn.Dense(32), nn.Relu(), nn.Dense(2)]);
const towerA = tower(), towerB = tower();
// Dense and Relu keep no state: the towers' states are empty, fixed at init
let towerState: { a: nn.Tree; b: nn.Tree };
const embed = (p: nn.Tree, d: Pick<Data, 'xa' | 'xb'>) => ({
  a: towerA.apply(p.a, towerState.a, d.xa, { train: true }).y as np.Tensor,
  b: towerB.apply(p.b, towerState.b, d.xb, { train: true }).y as np.Tensor,
});
function initParams(): nn.Tree {
  const [ka, kb] = np.random.split(np.random.key(1));
  const a = towerA.init(ka, [-1, 16]), b = towerB.init(kb, [-1, 12]);
  towerState = { a: a.state, b: b.state };
  return { a: a.params, b: b.params };
}

// ---------- the user's code ----------

/** An error in the user's code, with the line of the editor it points at (1-based) when known. */
class UserError extends Error {
  constructor(message: string, readonly line?: number, readonly col?: number) { super(message); }
}

let compiled = 0, compiling = false;
/**
 * Compile the editor's text into its `loss` function. The text runs as a classic script (named
 * loss.js) inside a wrapper one line long, so a syntax error comes back with its line, and a runtime
 * error's stack has loss.js:LINE:COL.
 */
function compileLoss(code: string): LossFn {
  const name = `__playgroundLoss${++compiled}`;
  const src = `globalThis.${name} = function (np, nn) { 'use strict';\n${code}\n;return typeof loss === 'function' ? loss : undefined; };\n//# sourceURL=loss.js`;
  let syntax: ErrorEvent | undefined;
  const onError = (e: ErrorEvent) => { syntax ??= e; e.preventDefault(); };
  window.addEventListener('error', onError);
  compiling = true;
  const script = document.createElement('script');
  script.textContent = src;
  document.head.append(script);
  script.remove();
  compiling = false;
  window.removeEventListener('error', onError);
  const g = globalThis as unknown as Record<string, ((n: typeof np, m: typeof nn) => LossFn | undefined) | undefined>;
  const factory = g[name];
  delete g[name];
  if (syntax || !factory) {
    const line = syntax && syntax.lineno > 1 ? syntax.lineno - 1 : undefined;
    const message = (syntax?.message ?? 'the code did not compile').replace(/^Uncaught /, '').replace(/Failed to execute '\w+' on '\w+': /, '');
    throw new UserError(message, line, syntax?.colno);
  }
  let f: LossFn | undefined;
  try { f = factory(np, nn); } catch (e) { throw fromRuntime(e); }
  if (!f) throw new UserError('the code must define a function named loss: function loss(a, b, data) { ... return a scalar tensor }');
  return (a, b, data) => {
    let out: unknown;
    try { out = f!(a, b, data); } catch (e) { throw fromRuntime(e); }
    if (!(out instanceof np.Tensor)) throw new UserError(`loss must return a tensor, it returned ${out === undefined ? 'undefined (a missing return?)' : typeof out}`);
    if (out.rank !== 0) throw new UserError(`loss must return a scalar (shape []), it returned shape [${out.shape.join(', ')}]: take np.mean or np.sum of it`);
    return out;
  };
}

/** A runtime error from the user's code, with the first loss.js line of its stack. */
function fromRuntime(e: unknown): UserError {
  if (e instanceof UserError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const m = /loss\.js:(\d+):(\d+)/.exec(err.stack ?? '');
  const line = m && Number(m[1]) > 1 ? Number(m[1]) - 1 : undefined;
  return new UserError(`${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`, line, m ? Number(m[2]) : undefined);
}

function showError(e: unknown): void {
  const u = e instanceof UserError ? e : fromRuntime(e);
  status.error = u.message;
  const box = $('error');
  box.hidden = false;
  const lines = (($('code') as HTMLTextAreaElement).value).split('\n');
  const where = u.line ? `Line ${u.line}${u.col ? `, column ${u.col}` : ''}: ` : '';
  const src = u.line && lines[u.line - 1] !== undefined ? `\n\n${String(u.line).padStart(4)} | ${lines[u.line - 1]}${u.col ? `\n${' '.repeat(7 + u.col - 1)}^` : ''}` : '';
  box.textContent = `${where}${u.message.split('\n')[0]}${src}`;
  if (u.line) highlightLine(u.line);
}

function clearError(): void {
  status.error = '';
  $('error').hidden = true;
  $('error').textContent = '';
  updateGutter();
}

// ---------- drawing ----------

function canvas(id: string): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const c = $<HTMLCanvasElement>(id), ratio = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== w * ratio) { c.width = w * ratio; c.height = h * ratio; }
  const ctx = c.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  return { ctx, w, h };
}

function drawLoss(losses: number[], total: number): void {
  const { ctx, w, h } = canvas('loss');
  const pad = { l: 48, r: 10, t: 10, b: 22 };
  const finite = losses.filter(Number.isFinite);
  ctx.strokeStyle = '#999';
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  ctx.fillStyle = '#555';
  ctx.fillText('step', (w + pad.l) / 2 - 10, h - 6);
  ctx.fillText(String(total), w - pad.r - 4 - ctx.measureText(String(total)).width, h - pad.b + 12);
  ctx.fillText('0', pad.l, h - pad.b + 12);
  if (finite.length === 0) { ctx.fillText('press Train', pad.l + 10, pad.t + 20); return; }
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const x = (i: number) => pad.l + ((w - pad.l - pad.r) * i) / Math.max(total - 1, 1);
  const y = (v: number) => pad.t + ((h - pad.t - pad.b) * (hi - v)) / (hi - lo);
  ctx.fillText(fmt(hi), 4, pad.t + 8);
  ctx.fillText(fmt(lo), 4, h - pad.b);
  ctx.strokeStyle = '#1f77b4';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  losses.forEach((v, i) => { if (Number.isFinite(v)) (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))); });
  ctx.stroke();
  ctx.lineWidth = 1;
}
const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : v.toFixed(3));

/** Rows of an [n, 2] array scaled to unit length. */
function unit(v: ArrayLike<number>): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i += 2) { const r = Math.hypot(v[i], v[i + 1]) || 1; out[i] = v[i] / r; out[i + 1] = v[i + 1] / r; }
  return out;
}

/** Points colored by class; filled dots for `a`, rings for `b` (when given). Scaled to fit, or on the unit circle. */
function drawPoints(id: string, a: ArrayLike<number>, b: ArrayLike<number> | undefined, labels: ArrayLike<number>, onCircle = false): void {
  const { ctx, w, h } = canvas(id);
  if (onCircle) { a = unit(a); b = b && unit(b); }
  let m = 1e-6;
  for (const v of [a, b ?? []]) for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) m = Math.max(m, Math.abs(v[i]));
  if (onCircle) m = 1.08;
  const s = (Math.min(w, h) / 2 - 8) / m, cx = w / 2, cy = h / 2;
  ctx.strokeStyle = '#ddd';
  ctx.beginPath(); ctx.moveTo(0, cy); ctx.lineTo(w, cy); ctx.moveTo(cx, 0); ctx.lineTo(cx, h); ctx.stroke();
  if (onCircle) { ctx.beginPath(); ctx.arc(cx, cy, s, 0, 2 * Math.PI); ctx.stroke(); }
  const dot = (v: ArrayLike<number>, i: number, fill: boolean) => {
    ctx.beginPath();
    ctx.arc(cx + s * v[2 * i], cy - s * v[2 * i + 1], 3, 0, 2 * Math.PI);
    if (fill) { ctx.fillStyle = COLORS[labels[i]]; ctx.fill(); } else { ctx.strokeStyle = COLORS[labels[i]]; ctx.stroke(); }
  };
  for (let i = 0; i < labels.length; i++) { dot(a, i, true); if (b) dot(b, i, false); }
  ctx.fillStyle = '#777';
  ctx.fillText(onCircle ? 'the unit circle' : `axes from -${fmt(m)} to ${fmt(m)}`, 4, 12);
}

// ---------- training ----------

let data: Data;
let labelsHost: Int32Array;
let stopRequested = false;

async function train(): Promise<void> {
  if (status.state === 'training') return;
  clearError();
  const steps = Math.max(1, Math.min(5000, Math.floor(Number(($('steps') as HTMLInputElement).value) || 100)));
  const lr = Number(($('lr') as HTMLInputElement).value) || 1e-2;
  let loss: LossFn;
  try { loss = compileLoss(($('code') as HTMLTextAreaElement).value); } catch (e) { fail(e, 0); return; }
  status.losses = [];
  drawLoss([], steps);
  setState('training');
  stopRequested = false;
  $('train').setAttribute('disabled', '');
  $('stop').removeAttribute('disabled');
  const t0 = performance.now();
  try {
    const opt = nn.adam(lr);
    let params = initParams(), optState = opt.init(params);
    const objective = (p: nn.Tree) => { const { a, b } = embed(p, data); return loss(a, b, data) as np.Tensor; };
    // the gradient is jitted; Adam's update runs after it (a jitted program itself: its step count is a
    // number, which would make an enclosing jit trace again every step)
    const eager = np.valueAndGrad(objective);
    let grad: typeof eager = np.jit(eager);
    status.jit = true;
    for (let i = 0; i < steps && !stopRequested; i++) {
      let lg: [np.Tensor, nn.Tree];
      try { lg = grad(params); } catch (e) {
        if (i > 0 || !status.jit) throw e;
        // jit traces with abstract values: code that reads a value (.item(), dataSync) cannot be traced; run it eagerly
        lg = eager(params);
        grad = eager;
        status.jit = false;
      }
      const r = { l: lg[0], ...opt.update(lg[1], optState, params) };
      ({ params, state: optState } = r);
      status.losses.push(r.l.item());
      const last = i === steps - 1 || stopRequested;
      if (i % 10 === 0 || last) drawEmbedding(params);
      drawLoss(status.losses, steps);
      const ms = performance.now() - t0;
      $('progress').textContent = `step ${i + 1} / ${steps}, loss ${fmt(status.losses[i])}, ${(ms / (i + 1)).toFixed(0)} ms a step on ${status.backend}${status.jit ? ' (jitted)' : ' (eager: the code cannot be traced by jit)'}`;
      await new Promise((r) => setTimeout(r, 0));
    }
    if (!status.losses.every(Number.isFinite)) showError(new UserError('the loss is not finite (NaN or Infinity): a log of 0, a division by 0, or a learning rate too large?'));
    setState(stopRequested ? 'stopped' : 'done');
  } catch (e) {
    fail(e, status.losses.length);
  } finally {
    $('stop').setAttribute('disabled', '');
    $('train').removeAttribute('disabled');
  }
}

/** Show the error; `done`: the steps this Train click completed before it. */
function fail(e: unknown, done: number): void {
  showError(e);
  setState('error');
  $('progress').textContent = done ? `stopped after step ${done} by the error above` : 'not trained: fix the error above and press Train again';
}

let shown: { a: ArrayLike<number>; b: ArrayLike<number> } | undefined;
function drawEmbedding(params?: nn.Tree): void {
  if (params) { const { a, b } = embed(params, data); shown = { a: a.dataSync(), b: b.dataSync() }; }
  if (shown) drawPoints('embedding', shown.a, shown.b, labelsHost, $<HTMLSelectElement>('view').value === 'unit');
}

// ---------- the graph tab ----------

async function drawGraph(): Promise<void> {
  clearError();
  $('svg').innerHTML = '<p class="note">drawing...</p>';
  $('program').textContent = '';
  try {
    const loss = compileLoss(($('code') as HTMLTextAreaElement).value);
    const n = 3, idx = np.arange(0, n, 1, 'int32');
    const tiny: Data = { latent: np.gather(data.latent, idx), labels: np.gather(data.labels, idx), xa: np.gather(data.xa, idx), xb: np.gather(data.xb, idx) };
    const [ka, kb] = np.random.split(np.random.key(2));
    const a = np.random.normal(ka, [n, 2]), b = np.random.normal(kb, [n, 2]);
    const f = (a: np.Tensor, b: np.Tensor) => loss(a, b, tiny);
    const program = np.makeTrace(f)(a, b);
    $('program').textContent = String(program);
    $('graphinfo').textContent = `loss(a, b, data) on a tiny batch of ${n} points (a, b: [${n}, 2], random): ${program.stats.eqns} primitives; blue boxes are the inputs, orange the loss; each box shows its value and its gradient (d loss / d value).`;
    // top to bottom, so a long loss scrolls down rather than off to the right
    const svg = await np.toSvg(np.toDot(f, [a, b]).replace('rankdir=LR', 'rankdir=TB'));
    $('svg').innerHTML = svg;
  } catch (e) {
    $('svg').innerHTML = '<p class="note">no graph: see the error under the editor</p>';
    showError(e);
  }
}

// ---------- the editor ----------

function updateGutter(): void {
  const n = ($('code') as HTMLTextAreaElement).value.split('\n').length;
  $('gutter').textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n');
  syncScroll();
}
const syncScroll = () => { $('gutter').scrollTop = $('code').scrollTop; };

function highlightLine(line: number): void {
  const n = ($('code') as HTMLTextAreaElement).value.split('\n').length;
  $('gutter').innerHTML = Array.from({ length: n }, (_, i) => (i + 1 === line ? `<b class="bad">${i + 1}</b>` : String(i + 1))).join('\n');
  syncScroll();
}

function showTab(name: 'train' | 'graph'): void {
  for (const t of ['train', 'graph']) {
    $(`tab-${t}`).classList.toggle('active', t === name);
    $(`panel-${t}`).hidden = t !== name;
  }
  if (name === 'graph') void drawGraph();
}

function setup(): void {
  const select = $<HTMLSelectElement>('preset'), code = $<HTMLTextAreaElement>('code');
  PRESETS.forEach((p, i) => select.add(new Option(p.name, String(i))));
  code.value = PRESETS[0].code;
  const view = $<HTMLSelectElement>('view');
  select.addEventListener('change', () => {
    const p = PRESETS[Number(select.value)];
    code.value = p.code;
    view.value = p.view;
    clearError();
    updateGutter();
    drawEmbedding();
    if (!$('panel-graph').hidden) void drawGraph();
  });
  view.value = PRESETS[0].view;
  view.addEventListener('change', () => drawEmbedding());
  $('fit').addEventListener('change', () => $('svg').classList.toggle('fit', ($('fit') as HTMLInputElement).checked));
  code.addEventListener('input', updateGutter);
  code.addEventListener('scroll', syncScroll);
  code.addEventListener('keydown', (e) => {
    if (e.key === 'Tab') { e.preventDefault(); code.setRangeText('  ', code.selectionStart, code.selectionEnd, 'end'); updateGutter(); }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void train(); }
  });
  $('train').addEventListener('click', () => void train());
  $('stop').addEventListener('click', () => { stopRequested = true; });
  $('tab-train').addEventListener('click', () => showTab('train'));
  $('tab-graph').addEventListener('click', () => showTab('graph'));
  updateGutter();

  chooseBackend();
  data = makeData(B);
  labelsHost = data.labels.dataSync() as Int32Array;
  drawPoints('latent', data.latent.dataSync(), undefined, labelsHost);
  drawEmbedding(initParams());
  drawLoss([], Number(($('steps') as HTMLInputElement).value));
  setState('idle');
}

// anything that escapes is shown on the page, never a blank one
window.addEventListener('error', (e) => { if (!compiling) showError(e.error ?? e.message); });
window.addEventListener('unhandledrejection', (e) => showError(e.reason));
try { setup(); } catch (e) { showError(e); setState('error'); }
