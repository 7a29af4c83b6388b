import { strict as assert } from 'node:assert';
import { balancedAccuracy, binaryMetrics, confusion, ordinalMetrics, rocAuc, rocCurve } from '../../src/eval/metrics';
import { bootstrapInterval, delongTest, mcnemar, meanStd, normalCdf, percentile } from '../../src/eval/stats';
import { fixture } from '../support/paths';

// scikit-learn 1.2.1, SciPy 1.10 and statsmodels references (test/fixtures/gen/make_eval_fixtures.py).
const f = fixture('eval.json');
const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('eval/metrics: binary metrics equal scikit-learn 1.2, corner cases included', () => {
  for (const c of f.binary) {
    it(`${c.name}: every metric at threshold ${c.threshold}`, () => {
      const m = binaryMetrics(c.labels, c.scores, c.threshold);
      for (const k of ['tp', 'fp', 'tn', 'fn']) assert.equal(m[k as keyof typeof m], c[k], k);
      for (const k of ['accuracy', 'balancedAccuracy', 'sensitivity', 'specificity', 'precision', 'npv', 'f1']) {
        assert.ok(close(m[k as keyof typeof m] as number, c[k]), `${k}: ${m[k as keyof typeof m]} vs ${c[k]}`);
      }
      if (c.auc === null) {
        assert.ok(Number.isNaN(m.auc));
        assert.throws(() => rocAuc(c.labels, c.scores), /only one: ROC AUC is not defined/);
      } else {
        assert.ok(close(m.auc, c.auc), `auc ${m.auc} vs ${c.auc}`);
        const r = rocCurve(c.labels, c.scores);
        assert.deepEqual(r.fpr.map((v) => +v.toFixed(12)), c.roc.fpr.map((v: number) => +v.toFixed(12)));
        assert.deepEqual(r.tpr.map((v) => +v.toFixed(12)), c.roc.tpr.map((v: number) => +v.toFixed(12)));
        assert.deepEqual(r.thresholds.map((v) => +v.toFixed(12)), c.roc.thresholds.map((v: number) => +v.toFixed(12)));
      }
    });
  }

  it('rejects mismatched lengths, labels other than 0/1 and NaN scores; empty input gives NaN', () => {
    assert.throws(() => confusion([0, 1], [0.5]), /as many scores as labels/);
    assert.throws(() => binaryMetrics([0, 2], [0.1, 0.2]), /labels expected 0 or 1, got 2 at index 1/);
    assert.throws(() => rocAuc([0, 1], [NaN, 0.2]), /got NaN at index 0/);
    assert.ok(Number.isNaN(balancedAccuracy([], [])));
    assert.ok(Number.isNaN(binaryMetrics([], []).accuracy));
  });

  for (const c of f.ordinal) {
    it(`ordinal GCS metrics on [${c.truth.join(',')}] equal scikit-learn (QWK, MAE, RMSE, balanced accuracy)`, () => {
      const m = ordinalMetrics(c.truth, c.predicted);
      for (const k of ['accuracy', 'balancedAccuracy', 'mae', 'rmse']) assert.ok(close(m[k as keyof typeof m], c[k]), k);
      if (c.quadraticKappa === null || Number.isNaN(c.quadraticKappa)) assert.ok(Number.isNaN(m.quadraticKappa));
      else assert.ok(close(m.quadraticKappa, c.quadraticKappa), `qwk ${m.quadraticKappa} vs ${c.quadraticKappa}`);
    });
  }
});

describe('eval/stats: tests and intervals', () => {
  it('normal CDF equals scipy.stats.norm.cdf to 1e-7', () => {
    for (const [x, p] of f.normalCdf) assert.ok(Math.abs(normalCdf(x) - p) < 1e-7, `${x}`);
  });

  for (const [i, c] of (f.mcnemar as any[]).entries()) {
    it(`McNemar (exact and chi-square with correction) equals statsmodels, case ${i + 1}`, () => {
      const e = mcnemar(c.a, c.b, true);
      assert.equal(e.statistic, c.exactStatistic);
      assert.ok(close(e.pValue, c.exactP, 1e-9), `${e.pValue} vs ${c.exactP}`);
      const x = mcnemar(c.a, c.b, false);
      assert.ok(close(x.statistic, c.chi2Statistic));
      assert.ok(Math.abs(x.pValue - c.chi2P) < 1e-6, `${x.pValue} vs ${c.chi2P}`);
    });
  }

  it('DeLong test equals an independent midrank implementation (AUCs, SE, z, p)', () => {
    const d = f.delong;
    const r = delongTest(d.labels, d.a, d.b);
    for (const k of ['aucA', 'aucB', 'difference', 'se', 'z']) assert.ok(close(r[k as keyof typeof r] as number, d[k], 1e-9), `${k}: ${r[k as keyof typeof r]} vs ${d[k]}`);
    assert.ok(Math.abs(r.pValue - d.pValue) < 1e-6);
    assert.ok(r.ci95[0] < r.difference && r.difference < r.ci95[1]);
    assert.throws(() => delongTest([1, 0, 0], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3]), /at least 2 patients per class/);
  });

  it('fold aggregation is mean and sample std (ddof 1); percentiles interpolate like NumPy', () => {
    const s = meanStd([0.6, 0.7, 0.8, NaN]);
    assert.ok(close(s.mean, 0.7) && close(s.std, 0.1) && s.n === 3);
    assert.ok(Number.isNaN(meanStd([0.5]).std));
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
    assert.equal(percentile([1, 2, 3, 4], 2.5), 1.075);
  });

  it('bootstrap intervals are seeded, contain the estimate, skip undefined draws and narrow with more data', () => {
    const c = f.binary[0];
    const a = bootstrapInterval(c.labels, c.scores, rocAuc, { resamples: 300, seed: 3 });
    const b = bootstrapInterval(c.labels, c.scores, rocAuc, { resamples: 300, seed: 3 });
    assert.deepEqual(a, b);
    assert.ok(a.lower <= a.estimate && a.estimate <= a.upper);
    const tiny = bootstrapInterval([0, 1, 1], [0.1, 0.9, 0.8], rocAuc, { resamples: 200, seed: 1 });
    assert.ok(tiny.skipped > 0 && tiny.used + tiny.skipped === 200);
    const big = bootstrapInterval([...c.labels, ...c.labels, ...c.labels, ...c.labels], [...c.scores, ...c.scores, ...c.scores, ...c.scores], rocAuc, { resamples: 300, seed: 3 });
    assert.ok(big.upper - big.lower < a.upper - a.lower);
    const authors = bootstrapInterval(c.labels, c.scores, rocAuc, { resamples: 100, size: 100, seed: 2 });
    assert.equal(authors.used + authors.skipped, 100);
  });
});
