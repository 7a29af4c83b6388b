import { strict as assert } from 'node:assert';
import { discoverCohort } from '../../src/data/cohort';
import { describeByOutcome, histogram } from '../../src/data/describe';
import { smallCohort } from '../support/cohort';

describe('data/describe', () => {
  it('summarises each clinical variable by outcome (Table 1)', async () => {
    const cohort = discoverCohort(await smallCohort());
    const rows = describeByOutcome(cohort.patients);
    assert.equal(rows.length, 1 + 41);
    const n = rows[0];
    assert.equal(n.nGood + n.nPoor, cohort.patients.length);
    const age = rows.find((r) => r.variable === 'Age')!;
    const poorAges = cohort.patients.filter((p) => p.label === 1).map((p) => p.age);
    const mean = poorAges.reduce((a, b) => a + b, 0) / poorAges.length;
    assert.ok(age.poor.startsWith(mean.toFixed(1)), `${age.poor} vs mean ${mean}`);
    assert.match(rows.find((r) => r.variable === 'HT')!.good, /^\d+ \(\d+\.\d%\)$/);
    assert.match(rows.find((r) => r.variable === 'GCS')!.poor, /^\d+(\.\d+)? \[\d+(\.\d+)?-\d+(\.\d+)?\]$/);
  });

  it('handles an empty group and counts values', () => {
    assert.equal(describeByOutcome([])[1].good, '-');
    assert.deepEqual(histogram([3, 1, 3, 2]), [[1, 1], [2, 1], [3, 2]]);
  });
});
