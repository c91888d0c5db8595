/**
 * The run report, RUNDIR/report.html: one self-contained page that shows a run at a glance. Loss and
 * similarity curves, the per-block probes against random init, the test embeddings in 2-D, retrieval
 * examples with their frames and spectrograms, what the loader skipped, and the settings.
 *
 * Plots are vega-lite specs rendered to SVG in Node and inlined; images are PNG data URLs (png.ts).
 * The page has no script and loads nothing. Every string from the run or the dataset is untrusted:
 * esc() escapes it in the HTML, vega's own markup writer in its SVG, and a Content-Security-Policy
 * that allows no script at all is the second line of defence.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { UMAP } from 'umap-js';
import { pngDataUrl } from './png.js';
import { writeAtomic } from './run.js';

/** Steps are whole numbers: a short run's axis says 1, 2, 3, not 1.0, 1.1, ... */
const STEP_AXIS = { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1, format: 'd' } } as const;

/** Per-block linear-probe accuracy (%) and retrieval recall (%), as `avid eval` writes them. */
export interface EvalJson {
  video: Record<string, number>;   // {block1, block2, block3, block4, best}
  audio: Record<string, number>;
  retrieval: { v2a_r1: number; a2v_r1: number; v2a_r5: number; a2v_r5: number; v2a_class_p1?: number; a2v_class_p1?: number; v2a_class_p5?: number; a2v_class_p5?: number };
}
/** One clip as the report shows it. `name` and `label` come from the dataset: untrusted text. */
export interface ClipView {
  name: string;
  label?: string;
  frames: { t: number; h: number; w: number; data: Uint8Array };   // RGB uint8 [t, h, w, 3]
  spec: { frames: number; bins: number; data: Float32Array };        // [time, freq], z-scored log power
}
/** Everything the report shows. Optional parts that are absent become a short note. */
export interface ReportData {
  title: string;
  config: Record<string, unknown>;
  metrics: Array<Record<string, number>>;           // one row per step: {step, epoch, loss, loss_*, sim_pos_*, sim_neg_*, clips_per_s}
  eval?: { trained: EvalJson; random?: EvalJson };
  embeddings?: { points: number[][]; labels: string[]; names: string[]; modality: string };
  retrieval?: Array<{ direction: 'v2a' | 'a2v'; query: ClipView; neighbours: Array<ClipView & { similarity: number }> }>;
  data: { source: string; clips: number; skipped: Array<{ file: string; reason: string }> };
}

/** Escape text for HTML content and attribute values. `esc('<b a="1">')  // '&lt;b a=&quot;1&quot;&gt;'` */
export const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
const note = (html: string) => `<p class="note">${html}</p>`;
const card = (title: string, body: string) => `<section class="card"><h2>${title}</h2>${body}</section>`;

// ---- plots: vega-lite in, static SVG out -------------------------------------------------------

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];
const theme: vl.Config = {
  font: FONT, view: { stroke: null },
  axis: { labelColor: '#5b6473', titleColor: '#5b6473', titleFontWeight: 'normal', titleFontSize: 12, labelFontSize: 11, gridColor: '#eceef2', domainColor: '#c9ced6', tickColor: '#c9ced6' },
  legend: { labelFontSize: 12, titleFontSize: 12, titleColor: '#5b6473', labelColor: '#1d2433', labelLimit: 240, symbolStrokeWidth: 3, symbolOpacity: 1 },
  header: { labelFontSize: 13, labelColor: '#1d2433', labelFont: FONT },
};

/** A vega-lite spec rendered to an SVG string (no browser), its text escaped by vega. */
async function plot(spec: vl.TopLevelSpec, className: string): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile({ background: 'transparent', config: theme, ...spec } as vl.TopLevelSpec).spec), { renderer: 'none' });
  const svg = (await view.toSVG()).replace(/ xmlns(:xlink)?="[^"]*"/g, '').replace('<svg ', `<svg class="${className}" role="img" `);
  view.finalize();
  return svg;
}

/** Give each mark that has a vega `description` a `<title>` child: the browser shows it on hover. The text is vega's, already escaped. */
const hoverTitles = (svg: string) => svg.replace(/<path aria-label="([^"]*)"([^>]*)\/>/g, '<path aria-label="$1"$2><title>$1</title></path>');

/** `key`'s per-step values with a centred rolling mean over ~2% of the steps, thinned to at most `max` points. */
function smoothed(metrics: ReportData['metrics'], key: string, max = 1000) {
  const pts = metrics.flatMap((r, i) => (Number.isFinite(r[key]) ? [{ step: r.step ?? i + 1, v: r[key] }] : []));
  const half = Math.max(1, Math.round(pts.length / 100)), sums = [0];
  for (const p of pts) sums.push(sums[sums.length - 1] + p.v);
  const every = Math.ceil(pts.length / max);
  return pts.flatMap((p, i) => {
    if (i % every !== 0 && i !== pts.length - 1) return [];
    const lo = Math.max(0, i - half), hi = Math.min(pts.length, i + half + 1);
    return [{ step: p.step, raw: p.v, smooth: (sums[hi] - sums[lo]) / (hi - lo) }];
  });
}

/** A line layer pair: the raw values faint, the rolling mean on top. */
const rawAndSmooth = (title: string) => [
  { mark: { type: 'line', strokeWidth: 1, opacity: 0.22, interpolate: 'linear' }, encoding: { y: { field: 'raw', type: 'quantitative', title, scale: { zero: false } } } },
  { mark: { type: 'line', strokeWidth: 2.2, interpolate: 'monotone' }, encoding: { y: { field: 'smooth', type: 'quantitative' } } },
];

async function lossPlot(metrics: ReportData['metrics'], keys: string[]): Promise<string> {
  const rows = keys.flatMap((term) => smoothed(metrics, term).map((p) => ({ ...p, term })));
  const range = keys.map((k, i) => (k === 'loss' ? '#1d2433' : PALETTE[i % PALETTE.length]));
  return plot({
    data: { values: rows }, width: 860, height: 260,
    encoding: { x: STEP_AXIS, color: { field: 'term', type: 'nominal', title: null, scale: { domain: keys, range }, legend: { orient: 'top' } } },
    layer: rawAndSmooth('loss'),
  } as vl.TopLevelSpec, 'plot-loss');
}

async function similarityPlot(metrics: ReportData['metrics'], terms: string[]): Promise<string> {
  const rows = terms.flatMap((term) => (['pos', 'neg'] as const).flatMap((k) =>
    smoothed(metrics, `sim_${k}_${term}`).map((p) => ({ ...p, term, pair: k === 'pos' ? 'positive' : 'negative' }))));
  const columns = Math.min(terms.length, 4), width = Math.floor((900 - 40 * columns) / columns);
  return plot({
    data: { values: rows }, columns, facet: { field: 'term', type: 'nominal', title: null, sort: terms },
    spec: {
      width, height: 170,
      encoding: { x: STEP_AXIS, color: { field: 'pair', type: 'nominal', title: null, scale: { domain: ['positive', 'negative'], range: ['#2a9d8f', '#e76f51'] }, legend: { orient: 'top' } } },
      layer: rawAndSmooth('cosine similarity'),
    },
  } as vl.TopLevelSpec, 'plot-similarity');
}

// ---- the 2-D projection -------------------------------------------------------------------------

/** A seeded uniform generator (mulberry32), so UMAP gives the same picture every time. `mulberry32(1)()  // 0.627...` */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/** The first two principal components' scores (power iteration with deflation). `pca2([[0, 0], [1, 1], [2, 2]])` */
function pca2(points: number[][]): number[][] {
  const n = points.length, dim = points[0]?.length ?? 0;
  const mean = Array.from({ length: dim }, (_, j) => points.reduce((a, p) => a + p[j], 0) / n);
  const X = points.map((p) => p.map((v, j) => v - mean[j]));
  const axes: number[][] = [];
  for (let c = 0; c < 2; c++) {
    let v = Array.from({ length: dim }, (_, j) => Math.cos(1 + j + 7 * c));
    for (let it = 0; it < 200; it++) {
      const w = new Array<number>(dim).fill(0);
      for (const x of X) { const s = dot(x, v); x.forEach((xj, j) => { w[j] += s * xj; }); }
      for (const a of axes) { const p = dot(w, a); a.forEach((aj, j) => { w[j] -= p * aj; }); }
      const norm = Math.sqrt(dot(w, w)) || 1;
      v = w.map((x) => x / norm);
    }
    axes.push(v);
  }
  return X.map((x) => axes.map((a) => dot(x, a)));
}

/** 2-D coordinates of `points`: UMAP with a seeded random, or PCA under 15 points. `project(rows).method  // 'UMAP'` */
export function project(points: number[][], seed = 0): { xy: number[][]; method: 'UMAP' | 'PCA' } {
  if (points.length < 15) return { xy: pca2(points), method: 'PCA' };
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, points.length - 1), minDist: 0.15, random: mulberry32(seed) });
  return { xy: umap.fit(points), method: 'UMAP' };
}

async function embeddingSection(all: ReportData['embeddings'], max = 1000): Promise<string> {
  const title = 'Test embeddings';
  if (!all || all.points.length === 0) return card(title, note('No embeddings yet: they appear once the run has been evaluated.'));
  const every = Math.ceil(all.points.length / max), keep = <T>(xs: T[]) => xs.filter((_, i) => i % every === 0);   // UMAP takes seconds per thousand points
  const e = { ...all, points: keep(all.points), labels: keep(all.labels), names: keep(all.names) };
  const { xy, method } = project(e.points);
  const labelled = e.labels.some((l) => l);
  const values = xy.map(([x, y], i) => ({ x, y, label: e.labels[i] || '(none)', tip: `${e.names[i] ?? `#${i}`}${e.labels[i] ? ` · ${e.labels[i]}` : ''}` }));
  const classes = new Set(values.map((v) => v.label)).size;
  const svg = hoverTitles(await plot({
    data: { values }, width: 600, height: 440, view: { fill: '#fafbfc', stroke: '#eceef2' },
    mark: { type: 'circle', size: 52, opacity: 0.85, stroke: 'white', strokeWidth: 0.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', axis: null, scale: { zero: false, nice: false, padding: 12 } },
      y: { field: 'y', type: 'quantitative', axis: null, scale: { zero: false, nice: false, padding: 12 } },
      color: labelled ? { field: 'label', type: 'nominal', title: 'class', scale: { scheme: classes > 10 ? 'tableau20' : 'tableau10' } } : { value: PALETTE[0] },
      description: { field: 'tip', type: 'nominal' },
    },
  } as vl.TopLevelSpec, 'plot-embeddings'));
  const what = `${e.points.length} test clips${every > 1 ? ` (every ${every}th of ${all.points.length})` : ''}, ${esc(e.modality)} embeddings (${e.points[0].length}-d), ${method === 'UMAP' ? 'UMAP (seeded)' : 'PCA (too few points for UMAP)'}; hover a point for its clip.`;
  return card(`${title} <span class="sub">${method}</span>`, note(what) + (labelled ? '' : note('No class labels: every point has one colour.')) + `<div class="plot">${svg}</div>`);
}

// ---- images -------------------------------------------------------------------------------------

const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];

/** Viridis at `t` in [0, 1], interpolated between nine stops. `viridis(0)  // [68, 1, 84]` */
export function viridis(t: number): number[] {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(u)), f = u - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

/** Up to `max` frames, evenly spaced, side by side with a 1-pixel white gap. */
function frameStrip(f: ClipView['frames'], name: string, max = 8): string {
  if (f.t * f.h * f.w === 0) return '';
  const n = Math.min(max, f.t), W = n * (f.w + 1) - 1, rgb = new Uint8Array(W * f.h * 3).fill(255);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : Math.round((i * (f.t - 1)) / (n - 1));
    for (let y = 0; y < f.h; y++) rgb.set(f.data.subarray((t * f.h + y) * f.w * 3, (t * f.h + y + 1) * f.w * 3), (y * W + i * (f.w + 1)) * 3);
  }
  return `<img class="frames" src="${pngDataUrl(W, f.h, rgb)}" alt="${esc(`frames of ${name}`)}" width="${W}" height="${f.h}">`;
}

/** Time left to right, low frequencies at the bottom, viridis between the 2nd and 98th percentiles. */
function spectrogram(s: ClipView['spec'], name: string): string {
  if (s.frames * s.bins === 0) return '';
  const sorted = Float32Array.from(s.data).sort(), lo = sorted[Math.floor(0.02 * (sorted.length - 1))], hi = sorted[Math.ceil(0.98 * (sorted.length - 1))];
  const rgb = new Uint8Array(s.frames * s.bins * 3);
  for (let t = 0; t < s.frames; t++) for (let b = 0; b < s.bins; b++) rgb.set(viridis((s.data[t * s.bins + b] - lo) / (hi - lo || 1)), ((s.bins - 1 - b) * s.frames + t) * 3);
  return `<img class="spec" src="${pngDataUrl(s.frames, s.bins, rgb)}" alt="${esc(`spectrogram of ${name}`)}" width="${s.frames}" height="${s.bins}">`;
}

const caption = (c: ClipView) => `<div class="name" title="${esc(c.name)}">${esc(c.name)}</div>${c.label ? `<div class="label">${esc(c.label)}</div>` : ''}`;

function retrievalSection(examples: ReportData['retrieval']): string {
  const title = 'Retrieval examples';
  if (!examples?.length) return card(title, note('No retrieval examples yet: they appear once the run has been evaluated.'));
  const body = examples.map(({ direction, query, neighbours }) => {
    const [from, to] = direction === 'v2a' ? ['video', 'audio'] : ['audio', 'video'];
    const items = neighbours.map((c, i) => {
      const hit = c.name === query.name, same = !hit && c.label !== undefined && c.label === query.label;
      return `<li class="${hit ? 'hit' : same ? 'same' : ''}"><div class="rank">${i + 1}</div>` +
        (to === 'audio' ? spectrogram(c.spec, c.name) : frameStrip(c.frames, c.name, 3)) +
        (hit ? '<span class="badge hit">✓ same clip</span>' : same ? '<span class="badge same">same class</span>' : '') +
        caption(c) + `<div class="sim" title="cosine similarity">${c.similarity.toFixed(3)}</div></li>`;
    }).join('');
    return `<div class="example"><div class="query"><div class="dir">${from} → ${to}</div>${frameStrip(query.frames, query.name)}${spectrogram(query.spec, query.name)}${caption(query)}</div>` +
      `<ol class="neighbours">${items}</ol></div>`;
  }).join('');
  return card(title, note('Each query clip, then the nearest clips of the other modality by cosine similarity. <b class="k-hit">Green</b>: the query\'s own clip; <b class="k-same">blue</b>: the same class.') + body);
}

// ---- tables ------------------------------------------------------------------------------------

function probeTable(modality: 'video' | 'audio', trained: EvalJson, random?: EvalJson): string {
  const rows = Object.entries(trained[modality] ?? {}).map(([block, acc]) => {
    const base = random?.[modality]?.[block], diff = base === undefined ? '' : signed(acc - base);
    return `<tr${block === 'best' ? ' class="best"' : ''}><th>${esc(block)}</th><td class="bar" style="--w:${Math.min(100, Math.max(0, acc)).toFixed(1)}%">${pct(acc)}</td>` +
      `<td class="muted">${pct(base)}</td><td class="${acc >= (base ?? acc) ? 'up' : 'down'}">${diff}</td></tr>`;
  }).join('');
  return `<table class="probe"><caption>${modality === 'video' ? 'Video' : 'Audio'} probe accuracy (%)</caption><thead><tr><th>block</th><th>trained</th><th>random</th><th>Δ</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function recallTable(trained: EvalJson, random?: EvalJson): string {
  const r = trained.retrieval, b = random?.retrieval;
  const cells = (k: keyof EvalJson['retrieval']) => `<td>${pct(r[k])}</td><td class="muted">${pct(b?.[k])}</td>`;
  const cls = r.v2a_class_p1 !== undefined;
  const head = `<th>R@1</th><th>random</th><th>R@5</th><th>random</th>${cls ? '<th>class P@1</th><th>random</th><th>class P@5</th><th>random</th>' : ''}`;
  const row = (d: 'v2a' | 'a2v') => `${cells(`${d}_r1`)}${cells(`${d}_r5`)}${cls ? cells(`${d}_class_p1`) + cells(`${d}_class_p5`) : ''}`;
  return `<table class="recall"><caption>Retrieval: the clip's own other half (recall), or one of its class (precision), %</caption><thead><tr><th></th>${head}</tr></thead><tbody>` +
    `<tr><th>video → audio</th>${row('v2a')}</tr><tr><th>audio → video</th>${row('a2v')}</tr></tbody></table>`;
}

function evalSection(ev: ReportData['eval']): string {
  const title = 'Linear probes and retrieval';
  if (!ev) return card(title, note('Not evaluated yet: the probe accuracies and retrieval recalls appear once <code>avid eval</code> has run.'));
  return card(title, note('Test accuracy (%) of a linear classifier on each block\'s pooled features, against the same network at random init.') +
    (ev.random ? '' : note('No random-init baseline yet, so no differences.')) +
    `<div class="tables">${probeTable('video', ev.trained, ev.random)}${probeTable('audio', ev.trained, ev.random)}${recallTable(ev.trained, ev.random)}</div>`);
}

const keyValues = (rows: Array<[string, string]>, cls: string) =>
  `<table class="${cls}"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;

function dataSection(d: ReportData['data']): string {
  const skipped = d.skipped.length === 0 ? note('No file was skipped.') :
    `<h3>Skipped files <span class="sub">${d.skipped.length}</span></h3>${keyValues(d.skipped.slice(0, 200).map((s) => [s.file, s.reason]), 'skipped')}` +
    (d.skipped.length > 200 ? note(`… and ${d.skipped.length - 200} more (summary.json lists them all).`) : '');
  return card('Data', `<p class="lead"><b>${d.clips}</b> clips from <code>${esc(d.source)}</code></p>${skipped}`);
}

const configSection = (config: ReportData['config']) => card('Settings',
  keyValues(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)]), 'config'));

// ---- the page ----------------------------------------------------------------------------------

async function trainingSections(metrics: ReportData['metrics']): Promise<string> {
  if (metrics.length === 0) return card('Training', note('No training steps recorded yet.'));
  const keys = [...new Set(metrics.flatMap(Object.keys))];
  const losses = keys.filter((k) => k.startsWith('loss_'));
  if (keys.includes('loss')) losses.unshift('loss');
  const terms = keys.filter((k) => k.startsWith('sim_pos_') && keys.includes(`sim_neg_${k.slice(8)}`)).map((k) => k.slice(8));
  const smooth = 'Lines: rolling mean; faint: every step.';
  return card('Loss', losses.length === 0 ? note('No loss metrics (loss, loss_*) in this run.') :
      note(`Each term of the objective over training. ${smooth}`) + `<div class="plot">${await lossPlot(metrics, losses)}</div>`) +
    card('Positive and negative similarity', terms.length === 0 ? note('No similarity metrics (sim_pos_*, sim_neg_*) in this run.') :
      note(`Mean cosine similarity of each term's positive pair and of its negatives; learning pulls them apart. ${smooth}`) + `<div class="plot">${await similarityPlot(metrics, terms)}</div>`);
}

function header(d: ReportData): string {
  const m = d.metrics, last = m[m.length - 1] ?? {}, ev = d.eval;
  const rate = m.map((r) => r.clips_per_s).filter(Number.isFinite).pop();   // clips per second since the start, so the last is the best
  const stat = (value: string, label: string, extra = '') => `<div class="stat"><div class="value">${value}</div><div class="what">${label}${extra}</div></div>`;
  const best = (mod: 'video' | 'audio') => {
    if (!ev) return '';
    const diff = ev.trained[mod]?.best - (ev.random?.[mod]?.best ?? NaN);
    return stat(`${pct(ev.trained[mod]?.best)}%`, `best ${mod} probe`, Number.isFinite(diff) ? ` <span class="${diff >= 0 ? 'up' : 'down'}">${signed(diff)} vs random</span>` : '');
  };
  const summary = [
    m.length ? `${last.step ?? m.length} steps${last.epoch ? ` over ${last.epoch} epoch${last.epoch === 1 ? '' : 's'}` : ''}` : 'no training steps yet',
    `${d.data.clips} clips from ${esc(d.data.source)}${d.data.skipped.length ? ` (${d.data.skipped.length} skipped)` : ''}`,
    m.length > 1 && Number.isFinite(m[0].loss) && Number.isFinite(last.loss) ? `loss ${m[0].loss.toFixed(3)} → ${last.loss.toFixed(3)}` : '',
    ev ? `video probe ${pct(ev.trained.video.best)}%${ev.random ? ` vs ${pct(ev.random.video.best)}% at random init` : ''}` : 'not evaluated yet',
  ].filter(Boolean).join(' · ');
  const stats = [
    m.length ? stat(String(last.step ?? m.length), 'steps') : '', Number.isFinite(last.loss) ? stat(last.loss.toFixed(3), 'final loss') : '',
    best('video'), best('audio'),
    ev ? stat(`${pct(ev.trained.retrieval.v2a_r1)}%`, 'R@1 video → audio') + stat(`${pct(ev.trained.retrieval.a2v_r1)}%`, 'R@1 audio → video') : '',
    rate !== undefined ? stat(rate.toFixed(1), 'clips / s') : '',
  ].join('');
  return `<header><div class="kicker">AVID run report</div><h1>${esc(d.title)}</h1><p class="summary">${summary}</p><div class="stats">${stats}</div></header>`;
}

const CSS = `
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2433;--muted:#6b7280;--line:#e5e7eb;--hit:#2a9d8f;--same:#4c78a8;--down:#c2410c}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 ${FONT.replace(/"/g, "'")}}
main{max-width:1040px;margin:0 auto;padding:32px 20px 64px}
header{padding:8px 4px 20px}.kicker{text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--muted);font-weight:600}
h1{margin:2px 0 6px;font-size:28px;line-height:1.2;overflow-wrap:anywhere}.summary{margin:0 0 16px;color:var(--muted)}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:12px}
.stat{background:var(--card);border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(16,24,40,.06),0 0 0 1px var(--line)}
.stat .value{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}.stat .what{font-size:12px;color:var(--muted)}
.card{background:var(--card);border-radius:14px;padding:20px 24px;margin:18px 0;box-shadow:0 1px 3px rgba(16,24,40,.07),0 0 0 1px var(--line)}
h2{margin:0 0 4px;font-size:18px}h3{font-size:14px;margin:16px 0 6px}.sub{font-size:12px;font-weight:500;color:var(--muted);background:var(--bg);border-radius:99px;padding:2px 8px;margin-left:6px;vertical-align:2px}
.note{margin:0 0 12px;color:var(--muted);font-size:13.5px}.lead{margin:4px 0}.plot{overflow-x:auto}.plot svg{max-width:100%;height:auto;display:block}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--bg);padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums}th,td{padding:5px 10px;text-align:right;border-bottom:1px solid var(--line)}
th{font-weight:600;color:var(--muted)}tbody th{text-align:left;color:var(--ink);font-weight:500}caption{text-align:left;font-weight:650;padding:0 0 6px}
.tables{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}tr.best th,tr.best td{font-weight:650;border-top:1.5px solid var(--ink)}
td.bar{background:linear-gradient(#d6e4f2,#d6e4f2) no-repeat left center/var(--w) 64%;min-width:120px}.muted{color:var(--muted)}.up{color:var(--hit)}.down{color:var(--down)}
.config,.skipped{width:100%}.config th,.skipped th{width:34%;font-weight:500;overflow-wrap:anywhere}.config td,.skipped td{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
.skipped td{font-family:inherit;color:var(--down)}
.example{display:grid;grid-template-columns:230px 1fr;gap:20px;padding:16px 0;border-top:1px solid var(--line)}
.query .dir{font-size:12px;font-weight:650;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin-bottom:6px}
img{display:block;image-rendering:pixelated;border-radius:4px}.query img{width:100%;height:auto;margin-bottom:6px}.query img.spec{height:72px}
.neighbours{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:10px}
.neighbours li{position:relative;display:flex;flex-direction:column;border-radius:8px;padding:6px;box-shadow:0 0 0 1px var(--line)}.neighbours li.hit{box-shadow:0 0 0 2px var(--hit)}.neighbours li.same{box-shadow:0 0 0 2px var(--same)}
.neighbours img{width:100%;height:auto}.neighbours img.spec{height:64px}.rank{position:absolute;top:10px;left:10px;background:rgba(29,36,51,.75);color:#fff;font-size:11px;border-radius:99px;padding:0 6px}
.name{font-weight:600;font-size:12.5px;overflow-wrap:anywhere;margin-top:2px}.neighbours .name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.label{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.sim{font-size:12.5px;font-variant-numeric:tabular-nums;color:var(--muted);margin-top:auto;padding-top:2px}.badge{position:absolute;top:10px;right:10px;white-space:nowrap;font-size:10.5px;font-weight:650;border-radius:99px;padding:0 6px;color:#fff}.badge.hit{background:var(--hit)}.badge.same{background:var(--same)}
.k-hit{color:var(--hit)}.k-same{color:var(--same)}.pair{display:grid;grid-template-columns:1fr 1fr;gap:18px}.pair .card{margin:0}
@media (max-width:760px){.example,.pair{grid-template-columns:1fr}}`;

/** The report page as one HTML string: no script, nothing fetched. `await renderReport(data)  // '<!doctype html>...'` */
export async function renderReport(d: ReportData): Promise<string> {
  const body = [header(d), await trainingSections(d.metrics), evalSection(d.eval), await embeddingSection(d.embeddings), retrievalSection(d.retrieval),
    `<div class="pair">${dataSection(d.data)}${configSection(d.config)}</div>`].join('\n');
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(d.title)} · AVID report</title><style>${CSS}</style></head>\n<body><main>\n${body}\n</main></body></html>\n`;
}

/** Render the report and write it to `file` atomically (temporary file, rename). `await writeReport('runs/a/report.html', data)` */
export async function writeReport(file: string, d: ReportData): Promise<void> {
  writeAtomic(file, await renderReport(d));
}
