import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { exportNotebooks } from '../../src/report/export';
import { countBars } from '../../src/report/figures';
import { chromiumPath, saveFigure } from '../../src/report/plotly';
import { ROOT, tempDir } from '../support/paths';
import { smallCohort } from '../support/cohort';

const prefix = path.join(ROOT, '.jupyter-local');
const kernelReady = fs.existsSync(path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab', 'kernel.json'));
/** Screenshots are kept as artifacts here. */
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');

/** Opens a page in Debian's headless chromium: console errors, page errors, plot containers, a screenshot. */
async function inspect(file: string, shot: string): Promise<{ errors: string[]; figures: number; rendered: number }> {
  const browser = await chromium.launch({
    executablePath: chromiumPath()!,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const figures = await page.locator('.ich-figure').count();
    if (figures > 0) await page.waitForFunction(`document.querySelectorAll('.ich-figure .main-svg').length >= ${figures}`, undefined, { timeout: 30000 });
    const rendered = await page.locator('.ich-figure').evaluateAll((els) => els.filter((e) => e.querySelector('.main-svg')).length);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
    return { errors, figures, rendered };
  } finally {
    await browser.close();
  }
}

describe('report: exported notebooks and figures in a real browser (playwright-core + Debian chromium)', function () {
  // Six notebooks train and explain on the small cohort: minutes on a 2-core machine.
  this.timeout(1500000);

  it('a figure page renders its plot offline with no console errors', async function () {
    if (!chromiumPath()) this.skip(); // needs Debian's chromium (scripts/setup.sh installs it)
    const out = saveFigure(countBars('Browser check', 'x', [[1, 2], [2, 3]], [[1, 1], [2, 4]], 'browser-check'), tempDir(), { png: false });
    const r = await inspect(out.html, 'figure-browser-check.png');
    assert.deepEqual(r.errors, []);
    assert.equal(r.figures, 1);
    assert.equal(r.rendered, 1);
  });

  it('every exported notebook opens with all its plots rendered and no console errors', async function () {
    if (!chromiumPath() || !kernelReady) this.skip(); // needs chromium and the tslab kernel (scripts/setup.sh)
    const out = tempDir();
    const notebooks = fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => f.endsWith('.ipynb')).map((f) => path.join(ROOT, 'notebooks', f));
    const results = await exportNotebooks({
      notebooks,
      outDir: out,
      jupyterPrefix: prefix,
      runner: path.join(ROOT, 'scripts', 'run_notebook.py'),
      env: { ICH_DATA_DIR: await smallCohort(), ICH_PROFILE: 'quick', ICH_FIGURES_DIR: tempDir(), ICH_CACHE_DIR: tempDir(), ICH_RUNS_DIR: tempDir() },
    });
    for (const r of results) assert.ok(r.ok, `${path.basename(r.notebook)}: ${r.error} in ${r.failedCell}`);
    for (const r of results) {
      const page = await inspect(r.html!, `${path.basename(r.html!, '.html')}.png`);
      assert.deepEqual(page.errors, [], path.basename(r.html!));
      assert.equal(page.rendered, page.figures, `${path.basename(r.html!)}: ${page.rendered}/${page.figures} plots rendered`);
    }
  });
});
