import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { crossValidationFolds } from '../../src/data/splits';
import { applyTabularTransform, fitTabularTransform, NUMERIC_FEATURES } from '../../src/data/tabular';
import { parseCsv } from '../../src/io/csv';
import { fitLogisticL2, TABULAR_MODELS } from '../../src/models/tabular';
import { runTabularCrossValidation } from '../../src/train/tabular';
import { smallCohort } from '../support/cohort';
import { FIXTURES, fixture, tempDir } from '../support/paths';
import { onBackend } from '../support/tf';

// scikit-learn LogisticRegression(C=1, solver newton-cg, tol 1e-14) on min-max features of clinical_synth.csv (make_stats_fixtures.py).
const f = fixture('stats.json').logisticL2;

describe('tabular baselines', function () {
  this.timeout(120000);

  it('L2 logistic regression equals scikit-learn LogisticRegression(C=1) solved to convergence', () => {
    const t = parseCsv(fs.readFileSync(path.join(FIXTURES, 'clinical_synth.csv'), 'utf8'));
    const col = (n: string) => t.rows.map((r) => Number(r.cells[t.header.indexOf(n)]));
    const cols = (f.columns as string[]).map((c) => {
      const v = col(c);
      const [lo, hi] = [Math.min(...v), Math.max(...v)];
      return v.map((x) => (x - lo) / (hi - lo));
    });
    const x = cols[0].map((_, i) => cols.map((c) => c[i]));
    const beta = fitLogisticL2(x, col('Label (poor_prognosis)'), 1);
    assert.ok(Math.abs(beta[0] - f.intercept) < 1e-6, `intercept ${beta[0]} vs ${f.intercept}`);
    beta.slice(1).forEach((b, j) => assert.ok(Math.abs(b - f.coef[j]) < 1e-6, `coef ${j}: ${b} vs ${f.coef[j]}`));
  });

  it('fits the feature transform on the training part only: min-max numbers, GCS ordinal 0-12, 0/1 as is', async () => {
    const patients = discoverCohort(await smallCohort()).patients;
    const train = patients.slice(0, 20);
    const t = fitTabularTransform(train);
    assert.equal(t.names.length, 21 + 1 + 19, '43-column table: 41 features (the paper had 42 with Cause_head_trauma)');
    const xs = applyTabularTransform(t, train);
    for (let j = 0; j < NUMERIC_FEATURES.length; j++) {
      const v = xs.map((r) => r[j]);
      assert.ok(Math.min(...v) === 0 && Math.max(...v) <= 1);
    }
    assert.deepEqual(xs.map((r) => r[21]), train.map((p) => p.gcs - 3));
    const missing = { ...patients[25], clinical: { ...patients[25].clinical, values: { ...patients[25].clinical.values, Urea: null } } };
    const row = applyTabularTransform(t, [missing])[0];
    assert.ok(Number.isFinite(row[NUMERIC_FEATURES.indexOf('Urea')]), 'missing value imputed with the training median');
    assert.throws(() => fitTabularTransform([]), /expected training patients, got none/);
  });

  it('cross-validates every tabular baseline on the image models\' test folds, deterministically', async () => {
    await onBackend('wasm', async () => {
      const patients = discoverCohort(await smallCohort()).patients;
      const folds = crossValidationFolds(patients.map((p) => p.label), { folds: 3 });
      for (const model of TABULAR_MODELS) {
        const out = tempDir();
        const a = await runTabularCrossValidation({ model, patients, out, foldCount: 3, folds: [0, 2], epochs: 5, cacheDir: tempDir() });
        assert.deepEqual(a.map((r) => r.predictions.map((p) => p.patientId)), [0, 2].map((k) => folds[k].test.map((i) => patients[i].id)));
        a.forEach((r) => r.predictions.forEach((p) => assert.ok(p.probabilities.prognosis[0] >= 0 && p.probabilities.prognosis[0] <= 1)));
        assert.ok(fs.existsSync(path.join(out, 'fold-2', 'predictions.csv')));
        const b = await runTabularCrossValidation({ model, patients, out: tempDir(), foldCount: 3, folds: [0, 2], epochs: 5, cacheDir: tempDir() });
        assert.deepEqual(b.map((r) => r.predictions), a.map((r) => r.predictions), `${model} deterministic`);
      }
    });
  });
});
