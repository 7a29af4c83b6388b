import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { escapeHtml } from './html';

/** A plotly figure as plain data: traces, layout and an id used for file names. */
export interface FigureSpec {
  id: string;
  title: string;
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/**
 * Colours readable in print and for colour-blind readers (Okabe-Ito), in the order figures use them; "paper-reported"
 * values always take the grey.
 */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];
export const PAPER_GREY = '#8c8c8c';

let bundle: string | null = null;

/**
 * The plotly.js bundle's source, read once from node_modules (the minified build when installed). `require` of
 * plotly in Node fails ("self is not defined"), so pages embed the file instead.
 */
export function plotlyBundle(): string {
  if (bundle !== null) return bundle;
  for (const id of ['plotly.js-dist-min/plotly.min.js', 'plotly.js-dist/plotly.js']) {
    try {
      bundle = fs.readFileSync(require.resolve(id), 'utf8');
      return bundle;
    } catch {
      // try the next build
    }
  }
  throw new Error('plotly.js bundle expected in node_modules (plotly.js-dist-min or plotly.js-dist), got none (run npm ci)');
}

/** One figure as a div plus the script that draws it (the page must have loaded plotly.js before). */
function figureBlock(spec: FigureSpec, width?: number, height?: number): string {
  const id = `fig-${spec.id.replace(/[^a-zA-Z0-9_-]/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  const layout = { title: { text: spec.title }, font: { family: 'Helvetica, Arial, sans-serif', size: 13 }, ...spec.layout, ...(width ? { width } : {}), ...(height ? { height } : {}) };
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  return `<div id="${id}" class="ich-figure" data-figure="${escapeHtml(spec.id)}"></div>\n<script>Plotly.newPlot(${json(id)}, ${json(spec.data)}, ${json(layout)}, {responsive: true, displaylogo: false});</script>`;
}

/** A self-contained HTML page (plotly.js embedded once) holding one or more figures; works offline. */
export function figurePageHtml(specs: readonly FigureSpec[], title = specs[0]?.title ?? 'figure'): string {
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"/>',
    `<title>${escapeHtml(title)}</title>`,
    // Opened with ?png (the PNG export), the page hides plotly's toolbar so it is not part of the picture.
    "<script>if(location.search.indexOf('png')>=0)document.documentElement.className='png';</script>",
    '<style>.png .modebar-container{display:none!important}</style>',
    `<script>${plotlyBundle()}</script>`,
    '</head><body style="margin:8px;background:#fff">',
    ...specs.map((s) => figureBlock(s)),
    '</body></html>',
  ].join('\n');
}

let notebookBundleSent = false;

/**
 * A figure for a notebook cell (tslab.display.html): the first call in a kernel embeds plotly.js, later calls
 * reuse it, so an exported notebook holds the bundle once.
 */
export function figureHtml(spec: FigureSpec, options: { width?: number; height?: number } = {}): string {
  const head = notebookBundleSent ? '' : `<script>${plotlyBundle()}</script>\n`;
  notebookBundleSent = true;
  return head + figureBlock(spec, options.width ?? 800, options.height ?? 480);
}

/** Headless Chromium from Debian, when installed. */
export function chromiumPath(): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  return null;
}

/**
 * Writes a figure as `<dir>/<id>.json` (the spec), `<dir>/<id>.html` (self-contained) and, when Debian's chromium is
 * installed, `<dir>/<id>.png` rendered headless. Returns the paths written.
 */
export function saveFigure(spec: FigureSpec, dir: string, options: { png?: boolean; width?: number; height?: number } = {}): { json: string; html: string; png: string | null } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${spec.id}.json`);
  const html = path.join(dir, `${spec.id}.html`);
  writeFileAtomic(json, JSON.stringify(spec, null, 1));
  const width = options.width ?? 900;
  const height = options.height ?? 560;
  writeFileAtomic(html, figurePageHtml([{ ...spec, layout: { width, height, ...spec.layout } }], spec.title));
  let png: string | null = null;
  const chrome = options.png === false ? null : chromiumPath();
  if (chrome) {
    const target = path.join(dir, `${spec.id}.png`);
    const tmp = `${target}.tmp-${process.pid}.png`;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ich-chromium-'));
    const r = spawnSync(
      chrome,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars', `--window-size=${width + 16},${height + 16}`, '--virtual-time-budget=5000', `--screenshot=${tmp}`, `file://${html}?png`],
      { stdio: 'ignore', timeout: 60000 },
    );
    fs.rmSync(profile, { recursive: true, force: true });
    if (r.status === 0 && fs.existsSync(tmp)) {
      fs.renameSync(tmp, target);
      png = target;
    } else {
      fs.rmSync(tmp, { force: true });
    }
  }
  return { json, html, png };
}
