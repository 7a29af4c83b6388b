import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resultsTable, summariseFolds } from '../../src/eval/aggregate';
import { binaryMetrics } from '../../src/eval/metrics';
import { smallCohort } from '../support/cohort';
import { fixture, ROOT, tempDir } from '../support/paths';

const f = fixture('eval.json');

describe('eval/aggregate and ich metrics', () => {
  it('summarises folds as mean +- sample std and formats the paper-style table', () => {
    const folds = [f.binary[0], f.binary[1], f.binary[2]].map((c) => ({ labels: c.labels, scores: c.scores }));
    const s = summariseFolds('densenet', folds);
    const aucs = [f.binary[0].auc, f.binary[1].auc, f.binary[2].auc];
    const mean = aucs.reduce((a: number, b: number) => a + b, 0) / 3;
    const std = Math.sqrt(aucs.reduce((a: number, b: number) => a + (b - mean) ** 2, 0) / 2);
    assert.ok(Math.abs(s.summary.auc.mean - mean) < 1e-12 && Math.abs(s.summary.auc.std - std) < 1e-12);
    const t = resultsTable([s]);
    assert.deepEqual(t.header, ['model', 'AUC', 'Acc', 'BAcc', 'Spec', 'NPV', 'Prec', 'Rec', 'F1']);
    assert.match(t.rows[0][1], /^\.\d{4} \+-\.\d{3}$/);
  });

  it('ich metrics prints every binary metric by name for a predictions CSV, and refuses bad rows with the row named', () => {
    const c = f.binary[1];
    const file = path.join(tempDir(), 'p.csv');
    fs.writeFileSync(file, ['label,score', ...c.labels.map((y: number, i: number) => `${y},${c.scores[i]}`)].join('\n'));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'metrics', '--predictions', file, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    const expected = binaryMetrics(c.labels, c.scores);
    for (const k of ['auc', 'accuracy', 'balancedAccuracy', 'sensitivity', 'specificity', 'precision', 'npv', 'f1', 'tp', 'fp', 'tn', 'fn']) {
      assert.ok(Math.abs(m[k] - (expected as any)[k]) < 1e-12, k);
    }
    assert.ok(Math.abs(m.auc - c.auc) < 1e-12);
    fs.writeFileSync(file, 'label,score\n1,0.3\n2,0.4\n');
    const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'metrics', '--predictions', file], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr.trim(), /^ich metrics: label expected 0 or 1, got "2" \(.*p\.csv, row 3\)$/);
  });
});

describe('ich stats', () => {
  it('prints the association statistics of a cohort as JSON', async () => {
    const root = await smallCohort();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'stats', root, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.patients, 30);
    assert.equal(s.spearman.length, 42);
    assert.deepEqual(s.logistic.names, ['const', 'GCS', 'Age']);
    assert.ok(s.auc.Age > 0 && s.auc.Age < 1);
    const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'stats', tempDir()], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});
