import { strict as assert } from 'node:assert';
import { compareModels, comparisonTable, foldReaderColumns, pooledPredictions, pooledRoc } from '../../src/eval/compare';
import { delongTest } from '../../src/eval/stats';
import { paperReaderTable, paperReference, paperResultsTable, PAPER_MODEL_NAMES, RESULTS_TABLE_MODELS } from '../../src/eval/reference';

const fold = (k: number, rows: [string, number, number][]) => ({
  fold: k,
  predictions: rows.map(([patientId, label, p]) => ({ patientId, label, probabilities: { prognosis: [p] } })),
});

describe('eval/compare: pooled out-of-fold comparison with intervals and DeLong', () => {
  // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
  const a = [fold(0, [['1', 0, 0.1], ['2', 0, 0.4]]), fold(1, [['3', 1, 0.35], ['4', 1, 0.8]])];
  const b = [fold(0, [['1', 0, 0.3], ['2', 0, 0.2]]), fold(1, [['3', 1, 0.6], ['4', 1, 0.7]])];

  it('pools every fold once and keeps the fold of each patient', () => {
    const p = pooledPredictions('A', a);
    assert.deepEqual(p.patientIds, ['1', '2', '3', '4']);
    assert.deepEqual(p.labels, [0, 0, 1, 1]);
    assert.deepEqual(p.folds, [0, 0, 1, 1]);
    assert.throws(() => pooledPredictions('A', [...a, fold(2, [['3', 1, 0.5]])]), /patient 3 in folds 1 and 2 \(A\)/);
    assert.throws(() => pooledPredictions('A', a, 'age-binary'), /expected a age-binary output 0 for patient 1/);
  });

  it('gives the pooled ROC curve and AUC for a legend', () => {
    const r = pooledRoc(pooledPredictions('A', a), 'Model A');
    assert.equal(r.name, 'Model A');
    assert.equal(r.auc, 0.75);
    // sklearn.metrics.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]): fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1]
    assert.deepEqual(r.fpr, [0, 0, 0.5, 0.5, 1]);
    assert.deepEqual(r.tpr, [0, 0.5, 0.5, 1, 1]);
  });

  it('forms auxiliary targets from the clinical rows: ordinal GCS scored on its GCS <= 8 bit', () => {
    const rows = [{ fold: 0, predictions: [{ patientId: '7', label: 1, probabilities: { 'gcs-ordinal': [0.9, 0.2] } }, { patientId: '8', label: 0, probabilities: { 'gcs-ordinal': [0.1, 0.05] } }] }];
    const patients = [{ id: '7', label: 1, gcs: 6, age: 70 }, { id: '8', label: 0, gcs: 14, age: 85 }];
    const p = pooledPredictions('st-ord-gcs', rows, 'gcs-ordinal', { patients });
    assert.deepEqual(p.labels, [1, 0]);
    assert.deepEqual(p.scores, [0.2, 0.05]);
    assert.throws(() => pooledPredictions('st-ord-gcs', rows, 'gcs-ordinal'), /clinical row of patient 7/);
  });

  it('gives pooled AUC with a bootstrap interval and DeLong against the reference on the same patients', () => {
    const rows = compareModels([pooledPredictions('A', a), pooledPredictions('B', b)], 'A', { resamples: 500, seed: 3 });
    assert.equal(rows[0].auc.estimate, 0.75);
    assert.equal(rows[1].auc.estimate, 1);
    assert.equal(rows[0].isReference, true);
    assert.equal(rows[0].delong, null);
    const d = delongTest([0, 0, 1, 1], [0.3, 0.2, 0.6, 0.7], [0.1, 0.4, 0.35, 0.8]);
    assert.equal(rows[1].delong!.difference, 0.25);
    assert.equal(rows[1].delong!.pValue, d.pValue);
    assert.ok(rows[0].auc.lower <= 0.75 && rows[0].auc.upper >= 0.75 && rows[0].auc.lower >= 0 && rows[0].auc.upper <= 1);
    assert.ok(rows[0].skippedResamples > 0, 'draws with one class are skipped and counted');
    const table = comparisonTable(rows);
    assert.equal(table.rows[0][7], 'reference');
    assert.match(table.rows[1][7], /^\+0\.250 \[/);
    // deterministic for a seed
    assert.deepEqual(compareModels([pooledPredictions('A', a)], 'A', { resamples: 200, seed: 9 }), compareModels([pooledPredictions('A', a)], 'A', { resamples: 200, seed: 9 }));
  });

  it('compares on shared patients only, and refuses conflicting labels or a missing reference', () => {
    const partial = [fold(0, [['1', 0, 0.2], ['3', 1, 0.9], ['9', 1, 0.9]])];
    const rows = compareModels([pooledPredictions('A', a), pooledPredictions('C', partial)], 'A', { resamples: 50 });
    assert.equal(rows[1].n, 2);
    assert.equal(rows[1].delong, null, 'one patient per class: no DeLong test');
    assert.equal(comparisonTable(rows).rows[1][7], 'n/a (a class has < 2 patients)');
    const conflicting = [fold(0, [['1', 1, 0.2]])];
    assert.throws(() => compareModels([pooledPredictions('A', a), pooledPredictions('D', conflicting)], 'A'), /got 1 \(D\) and 0 \(A\) for patient 1/);
    assert.throws(() => compareModels([pooledPredictions('A', a)], 'Z'), /reference "Z" among the models, got A/);
  });

  it('puts our fold metrics in the reader-table columns and keeps the paper-reported readers separate', () => {
    const ours = foldReaderColumns([{ model: 'A', result: a[1] }, { model: 'A0', result: a[0] }]);
    assert.deepEqual(ours.header.slice(0, 3), ['model (this run)', 'fold', 'patients']);
    assert.equal(ours.rows[0][4], '0.500', 'one class: balanced accuracy is its recall averaged alone');
    assert.equal(ours.rows[0][10], 'n/a', 'AUC is undefined with one class');
    const paper = paperReaderTable(paperReference());
    assert.match(paper.caption, /^Paper-reported: .*27 patients, 17 poor \/ 10 good/);
    assert.deepEqual(paper.rows[0], ['R1 (8 years)', '0.630', '0.644', '0.588', '0.700', '0.769', '0.500', '0.667', '-']);
    assert.deepEqual(RESULTS_TABLE_MODELS.map((m) => PAPER_MODEL_NAMES[m]), Object.keys(paperReference().crossValidation.models));
  });
});

describe('eval/reference: the paper-reported results table', () => {
  it("prints the reported means and stds in the paper's format, recall in the sensitivity column", () => {
    const t = paperResultsTable(paperReference());
    assert.equal(t.header[0], 'model (paper-reported)');
    // paper.md, "Results": DenseNet-121 AUC .6855 +-.073, Rec .6504 +-.277
    const dense = t.rows.find((r) => r[0] === 'DenseNet-121')!;
    assert.equal(dense[1], '.6855 +-.073');
    assert.equal(dense[t.header.indexOf('Rec')], '.6504 +-.277');
  });
});
