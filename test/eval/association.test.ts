import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCsv } from '../../src/io/csv';
import { chi2Sf, chiSquareTest, logisticRegression, mannWhitneyU, pearsonTest, spearmanMatrix, spearmanTest, studentTTwoSided } from '../../src/eval/association';
import { rocAuc } from '../../src/eval/metrics';
import { FIXTURES, fixture } from '../support/paths';

// SciPy 1.10 / statsmodels / pandas references on test/fixtures/clinical_synth.csv (test/fixtures/gen/make_stats_fixtures.py).
const f = fixture('stats.json');
const table = parseCsv(fs.readFileSync(path.join(FIXTURES, 'clinical_synth.csv'), 'utf8'));
const col = (name: string) => table.rows.map((r) => Number(r.cells[table.header.indexOf(name)]));
const y = col('Label (poor_prognosis)');
const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('eval/association: statistics of the GCS/age analysis equal SciPy and statsmodels to 1e-6', () => {
  it('Spearman correlation and p-value of every variable with the label (scipy.stats.spearmanr)', () => {
    for (const [name, [r, p]] of Object.entries(f.spearman as Record<string, [number, number]>)) {
      const s = spearmanTest(col(name), y);
      assert.ok(close(s.r, r), `${name} r ${s.r} vs ${r}`);
      assert.ok(close(s.pValue, p), `${name} p ${s.pValue} vs ${p}`);
    }
  });

  it('Pearson and point-biserial correlations (scipy.stats.pearsonr / pointbiserialr)', () => {
    for (const [name, [r, p]] of Object.entries(f.pearson as Record<string, [number, number]>)) {
      const s = pearsonTest(col(name), y);
      assert.ok(close(s.r, r) && close(s.pValue, p), name);
    }
    const pb = pearsonTest(y, col('Age'));
    assert.ok(close(pb.r, f.pointbiserial[0]) && close(pb.pValue, f.pointbiserial[1]));
  });

  it('Spearman matrix equals pandas DataFrame.corr(method="spearman")', () => {
    const m = spearmanMatrix(Object.fromEntries(f.matrix.names.map((n: string) => [n, col(n)])));
    m.r.forEach((row, i) => row.forEach((v, j) => assert.ok(close(v, f.matrix.r[i][j], 1e-9), `${i},${j}`)));
  });

  it('Mann-Whitney U (two-sided, ties, continuity) equals scipy.stats.mannwhitneyu', () => {
    for (const [name, [u, p]] of Object.entries(f.mannWhitney as Record<string, [number, number]>)) {
      const x = col(name);
      const r = mannWhitneyU(x.filter((_, i) => y[i] === 1), x.filter((_, i) => y[i] === 0));
      assert.ok(close(r.u, u), `${name} U`);
      assert.ok(close(r.pValue, p), `${name} p ${r.pValue} vs ${p}`);
    }
    assert.throws(() => mannWhitneyU([1, 2], [3, 4]), /exact distribution/);
    assert.throws(() => mannWhitneyU([], [1]), /values in both groups/);
  });

  it('chi-square tests (Yates for 2x2) equal scipy.stats.chi2_contingency', () => {
    const gcs = col('GCS');
    const cases: Record<string, number[]> = {
      'GCS<=8': gcs.map((g) => (g <= 8 ? 1 : 0)),
      HT: col('HT'),
      'GCS class': gcs.map((g) => (g <= 8 ? 0 : g <= 12 ? 1 : 2)),
    };
    for (const [name, [s, p, dof]] of Object.entries(f.chiSquare as Record<string, [number, number, number]>)) {
      const r = chiSquareTest(cases[name], y);
      assert.equal(r.dof, dof);
      assert.ok(close(r.statistic, s) && close(r.pValue, p), `${name}: ${r.statistic}/${r.pValue} vs ${s}/${p}`);
    }
    for (const [x, k, p] of f.chi2sf) assert.ok(close(chi2Sf(x, k), p, 1e-9));
    for (const [t, k, p] of f.tTwoSided) assert.ok(close(studentTTwoSided(t, k), p, 1e-9));
  });

  it('logistic regression of prognosis on GCS and age equals statsmodels Logit (coefficients, SE, Wald p, odds-ratio CI)', () => {
    const fit = logisticRegression(y, { GCS: col('GCS'), Age: col('Age') });
    const L = f.logistic;
    fit.coef.forEach((c, i) => assert.ok(close(c, L.coef[i]), `coef ${i}`));
    fit.se.forEach((s, i) => assert.ok(close(s, L.se[i]), `se ${i}`));
    fit.pValue.forEach((p, i) => assert.ok(Math.abs(p - L.p[i]) < 1e-6, `p ${i}`));
    fit.oddsRatioCi95.forEach(([lo, hi], i) => assert.ok(close(lo, L.orLow[i]) && close(hi, L.orHigh[i]), `CI ${i}`));
    assert.ok(close(fit.logLikelihood, L.llf));
    assert.throws(() => logisticRegression([0, 1, 0, 1], { c: [1, 1, 1, 1] }), /singular matrix/);
  });

  it('single-variable ROC AUC of age and GCS (lower is worse) equal scikit-learn', () => {
    assert.ok(close(rocAuc(y, col('Age')), f.auc.Age, 1e-12));
    assert.ok(close(rocAuc(y, col('GCS').map((g) => -g)), f.auc['GCS (lower is worse)'], 1e-12));
  });
});
