import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { summariseFolds } from '../../src/eval/aggregate';
import { cohortSpearmanMatrix, cohortStatistics, outcomeGroups } from '../../src/eval/cohort-stats';
import { paperReference } from '../../src/eval/reference';
import { associationTablesHtml, singleVariableRocFigure } from '../../src/report/association';
import { ablationFigure, byOutcomeBoxes, cohortCountFigures, countBars, labelCorrelationBars, scannerMixFigure, spearmanHeatmap } from '../../src/report/figures';
import { chromiumPath, figureHtml, figurePageHtml, PAPER_GREY, plotlyBundle, saveFigure } from '../../src/report/plotly';
import { smallCohort } from '../support/cohort';
import { tempDir } from '../support/paths';

describe('report: plotly figure specs, self-contained pages and PNG export', function () {
  this.timeout(120000);

  it('draws the cohort histograms and the scanner mix beside the paper-reported ones, in grey', () => {
    const paper = paperReference();
    const [gcs, slices] = cohortCountFigures({ gcsHistogram: { '15': 60, '3': 22 }, sliceHistogram: { '32': 96 } }, paper);
    assert.deepEqual((gcs.data[0] as any).x, ['3', '15'], 'sorted by value');
    assert.equal((gcs.data[1] as any).name, 'paper-reported');
    assert.equal((gcs.data[1] as any).marker.color, PAPER_GREY);
    assert.equal(slices.id, 'slice-histogram');
    const mix = scannerMixFigure({ GE: { good: 1, poor: 2 }, unknown: { good: 0, poor: 1 } }, paper.cohort.scanners);
    assert.deepEqual((mix.data[0] as any).x, ['GE', 'Philips', 'unknown']);
    assert.deepEqual((mix.data[1] as any).y, [2, 0, 1]);
    assert.deepEqual((mix.data[3] as any).y, [103, 59, 0], 'paper-reported poor by scanner');
    assert.ok((mix.data as any[]).filter((t) => /paper-reported/.test(t.name)).every((t) => t.marker.color === PAPER_GREY));
  });

  it('builds the study figures as plain data; paper-reported values are grey and labelled', async () => {
    const patients = discoverCohort(await smallCohort()).patients;
    const stats = cohortStatistics(patients);
    const paper = paperReference();
    const bars = labelCorrelationBars(stats, paper.cohort.spearmanWithLabel);
    assert.equal(bars.data[1].name, 'paper-reported');
    assert.equal((bars.data[1].marker as { color: string }).color, PAPER_GREY);
    const heat = spearmanHeatmap(cohortSpearmanMatrix(patients));
    assert.equal((heat.data[0].z as number[][]).length, 42);
    const box = byOutcomeBoxes('Age', outcomeGroups(patients, (p) => p.age), 'years');
    assert.equal((box.data[0].y as number[]).length + (box.data[1].y as number[]).length, patients.length);
    const roc = singleVariableRocFigure(patients);
    assert.match(String(roc.data[0].name), /^age \(AUC 0\.\d{3}\)$/);
    const paperAblation = ablationFigure(paper, 'paper');
    assert.equal(paperAblation.data.length, 7);
    assert.match(paperAblation.title, /paper-reported/);
    const ours = ablationFigure([summariseFolds('densenet', [{ labels: [0, 1, 1, 0], scores: [0.2, 0.7, 0.6, 0.4] }, { labels: [1, 0, 1], scores: [0.9, 0.1, 0.3] }])], 'ours');
    assert.equal(((ours.data[0].error_y as { array: number[] }).array).length, 8);
    assert.equal(countBars('GCS histogram', 'GCS', [[3, 2], [15, 5]]).data.length, 1);
    assert.match(associationTablesHtml(stats), /Mann-Whitney U, age.*odds ratio/s);
    JSON.parse(JSON.stringify([bars, heat, box, roc, paperAblation]));
  });

  it('embeds plotly.js exactly once per page and once per notebook kernel', () => {
    const spec = { id: 'a', title: 'A </script> title', data: [{ type: 'bar', x: [1], y: [2] }], layout: {} };
    const page = figurePageHtml([spec, { ...spec, id: 'b' }]);
    const marker = plotlyBundle().slice(0, 200);
    assert.equal(page.split(marker).length - 1, 1);
    assert.equal((page.match(/class="ich-figure"/g) ?? []).length, 2);
    assert.ok(!page.includes('A </script> title</div>'), 'titles are escaped inside scripts');
    const first = figureHtml(spec);
    const second = figureHtml(spec);
    assert.ok(first.length > plotlyBundle().length && second.length < 2000);
  });

  it('saves json, html and (with Debian chromium) a rendered png', () => {
    const dir = tempDir();
    const spec = countBars('Slices per scan', 'slices', [[28, 10], [32, 9]], [[28, 103], [32, 96]], 'slices-test');
    const out = saveFigure(spec, dir);
    assert.deepEqual(JSON.parse(fs.readFileSync(out.json, 'utf8')).id, 'slices-test');
    assert.match(fs.readFileSync(out.html, 'utf8'), /Plotly\.newPlot/);
    if (chromiumPath()) {
      assert.ok(out.png && fs.statSync(out.png).size > 5000, 'png rendered');
      assert.deepEqual([...fs.readFileSync(out.png).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    } else {
      assert.equal(out.png, null);
    }
    assert.ok(fs.readdirSync(dir).every((f) => !f.includes('.tmp-')));
    assert.equal(path.basename(out.html), 'slices-test.html');
  });
});
