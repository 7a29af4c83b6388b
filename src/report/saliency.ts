import { VolumeShape } from '../data/preprocess';
import { escapeHtml, htmlTable } from './html';
import { encodePng, windowGrey } from './png';

/** Anchors of matplotlib's inferno colour map at 0, 1/16, ..., 1 (perceptually uniform, readable in greyscale print). */
const INFERNO = ['#000004', '#0b0724', '#210c4a', '#3d0965', '#57106e', '#71196e', '#8a226a', '#a32c61', '#bc3754', '#d24644', '#e45a31', '#f1731d', '#f98e09', '#fcac11', '#f9cb35', '#f2ea69', '#fcffa4'].map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

/** Inferno colour of a value in [0, 1] (clipped), linearly interpolated between the anchors. */
export function inferno(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v)) * (INFERNO.length - 1);
  const i = Math.min(INFERNO.length - 2, Math.floor(t));
  const f = t - i;
  return [0, 1, 2].map((c) => Math.round(INFERNO[i][c] * (1 - f) + INFERNO[i + 1][c] * f)) as [number, number, number];
}

/**
 * One slice as the paper shows it (paper.md, "Saliency"): the preprocessed slice in grey, and where the display map
 * is above zero its inferno colour blended at `alpha` (default 0.5). RGB PNG, nearest-neighbour upscaled by `scale`.
 * @param volume preprocessed [depth, height, width] in [0, 1]; @param map paper-display map (display.ts) or null.
 */
export function saliencyOverlayPng(volume: Float32Array, map: Float32Array | null, shape: VolumeShape, depth: number, scale = 1, alpha = 0.5): Uint8Array {
  const [d, h, w] = shape;
  if (!(depth >= 0 && depth < d)) throw new Error(`slice index expected 0..${d - 1}, got ${depth}`);
  const s = Math.max(1, Math.floor(scale));
  const out = new Uint8Array(h * s * w * s * 3);
  for (let y = 0; y < h * s; y++) {
    for (let x = 0; x < w * s; x++) {
      const i = (depth * h + Math.floor(y / s)) * w + Math.floor(x / s);
      const g = windowGrey(volume[i], 0, 1);
      let rgb: number[] = [g, g, g];
      const m = map ? map[i] : 0;
      if (m > 0) rgb = inferno(m).map((c, k) => Math.round((1 - alpha) * rgb[k] + alpha * c));
      out.set(rgb, (y * w * s + x) * 3);
    }
  }
  return encodePng(out, w * s, h * s, 3);
}

/** The slice with the most lesion (or, without a mask, the most saliency), and `count` slices spread around it. */
export function slicesToShow(shape: VolumeShape, weight: Float32Array, count = 3, spacing = 2): number[] {
  const [d, h, w] = shape;
  let best = Math.floor(d / 2);
  let bestSum = 0;
  for (let z = 0; z < d; z++) {
    let sum = 0;
    for (let i = z * h * w; i < (z + 1) * h * w; i++) sum += weight[i];
    if (sum > bestSum) [best, bestSum] = [z, sum];
  }
  const half = Math.floor(count / 2);
  return Array.from({ length: count }, (_, k) => Math.min(d - 1, Math.max(0, best + (k - half) * spacing)));
}

const dataUri = (png: Uint8Array) => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

/** One patient row of a Figure-3 style grid. */
export interface SaliencyGridRow {
  title: string;
  shape: VolumeShape;
  volume: Float32Array;
  /** Paper-display maps by column name (e.g. "GBP", "guided Grad-CAM"). */
  maps: Record<string, Float32Array>;
  /** Slices to show (default: around the lesion or the saliency). */
  slices?: number[];
  lesion?: Float32Array | null;
}

/**
 * A grid like the paper's Figure 3: one block per patient, one column per method (plus the plain slice), one row per
 * slice, overlays as saliencyOverlayPng. Self-contained HTML (images inline).
 */
export function saliencyGridHtml(rows: readonly SaliencyGridRow[], caption: string, scale = 3): string {
  const cell = 'style="padding:2px;text-align:center;font:11px sans-serif"';
  const blocks = rows.map((r) => {
    const methods = Object.keys(r.maps);
    const weight = r.lesion ?? r.maps[methods[methods.length - 1]];
    const slices = r.slices ?? slicesToShow(r.shape, weight);
    const head = `<tr><th ${cell}>${escapeHtml(r.title)}</th><th ${cell}>CT</th>${methods.map((m) => `<th ${cell}>${escapeHtml(m)}</th>`).join('')}</tr>`;
    const body = slices
      .map((z) => `<tr><td ${cell}>slice ${z + 1}/${r.shape[0]}</td><td ${cell}><img src="${dataUri(saliencyOverlayPng(r.volume, null, r.shape, z, scale))}"/></td>` +
        methods.map((m) => `<td ${cell}><img src="${dataUri(saliencyOverlayPng(r.volume, r.maps[m], r.shape, z, scale))}"/></td>`).join('') + '</tr>')
      .join('');
    return head + body;
  });
  return `<table style="border-collapse:collapse"><caption style="font:bold 13px sans-serif;text-align:left">${escapeHtml(caption)}</caption>${blocks.join('')}</table>`;
}

let viewerCount = 0;

/**
 * An interactive slice viewer: a slider over depth and a layer menu (the plain slice and each map's overlay).
 * Every slice is pre-rendered as an inline PNG, so the viewer works in exported HTML without a kernel.
 * @param maps paper-display maps by name; empty for a plain volume viewer.
 */
export function sliceViewerHtml(volume: Float32Array, shape: VolumeShape, maps: Record<string, Float32Array>, title: string, scale = 4, start = Math.floor(shape[0] / 2)): string {
  const id = `ich-viewer-${++viewerCount}-${Math.random().toString(36).slice(2, 8)}`;
  const layers: Record<string, string[]> = { CT: [] };
  for (const name of Object.keys(maps)) layers[name] = [];
  for (let z = 0; z < shape[0]; z++) {
    layers.CT.push(dataUri(saliencyOverlayPng(volume, null, shape, z, scale)));
    for (const [name, map] of Object.entries(maps)) layers[name].push(dataUri(saliencyOverlayPng(volume, map, shape, z, scale)));
  }
  const names = Object.keys(layers);
  const options = names.map((n, i) => `<option value="${i}"${i === names.length - 1 ? ' selected' : ''}>${escapeHtml(n)}</option>`).join('');
  return [
    `<div id="${id}" class="ich-viewer" style="font:12px sans-serif">`,
    `<div><b>${escapeHtml(title)}</b></div>`,
    `<div><input type="range" min="0" max="${shape[0] - 1}" value="${start}" style="width:${shape[2] * scale}px"/> <span></span> <select>${options}</select></div>`,
    `<img style="image-rendering:pixelated"/>`,
    `<script>(function(){var root=document.getElementById(${JSON.stringify(id)});var layers=${JSON.stringify(names.map((n) => layers[n]))};`,
    `var r=root.querySelector('input'),s=root.querySelector('select'),img=root.querySelector('img'),lab=root.querySelector('span');`,
    `function show(){var z=+r.value;img.src=layers[+s.value][z];lab.textContent='slice '+(z+1)+'/${shape[0]}';}`,
    `r.addEventListener('input',show);s.addEventListener('change',show);show();})();</script>`,
    '</div>',
  ].join('\n');
}

/** The localisation evaluation (explain/run.ts) as HTML tables: per model, weights and method; and the sanity check. */
export function localisationTableHtml(report: {
  summary: readonly { model: string; weights: string; method: string; patients: number; emptyMaps: number; massFraction: number; lesionFraction: number; hitRate: number }[];
  similarity: readonly { model: string; method: string; meanSpearman: number }[];
  skipped: readonly { patientId: string; reason: string }[];
}): string {
  const f = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
  const main = htmlTable(
    ['model', 'weights', 'method', 'patients', 'empty maps', 'mass in hematoma', 'chance (hematoma share)', 'pointing-game hits'],
    report.summary.map((r) => [r.model, r.weights, r.method, r.patients, r.emptyMaps, f(r.massFraction), f(r.lesionFraction), f(r.hitRate)]),
    'Saliency on the hematoma (synthetic lesion masks; paper display: min-max, threshold 0.5)',
  );
  const sanity = htmlTable(
    ['model', 'method', 'Spearman(trained, randomised)'],
    report.similarity.map((r) => [r.model, r.method, f(r.meanSpearman)]),
    'Model-randomisation check: similarity of maps from trained and re-initialised weights (near 1 = the method ignores the model)',
  );
  const skipped = report.skipped.length
    ? `<details><summary style="font-family:sans-serif">${report.skipped.length} patients skipped</summary><pre>${escapeHtml(report.skipped.map((s) => `${s.patientId}: ${s.reason}`).join('\n'))}</pre></details>`
    : '';
  return main + sanity + skipped;
}
