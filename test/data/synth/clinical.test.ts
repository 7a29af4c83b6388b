import { strict as assert } from 'node:assert';
import { generateClinical } from '../../../src/data/synth/clinical';
import { GCS_COUNTS, LABEL_SPEARMAN, scaleCounts, SLICE_COUNTS } from '../../../src/data/synth/targets';
import { spearman } from '../../../src/math/ranks';

describe('data/synth/clinical', () => {
  const cohort = generateClinical(1);
  const imaged = cohort.filter((p) => p.hasImage);
  const labels = imaged.map((p) => p.label);

  it('has 262 rows, patient 213 without a scan, and 99 good / 162 poor among the 261 scans', () => {
    assert.equal(cohort.length, 262);
    assert.deepEqual(cohort.filter((p) => !p.hasImage).map((p) => p.id), [213]);
    assert.equal(labels.filter((y) => y === 1).length, 162);
    assert.equal(labels.filter((y) => y === 0).length, 99);
  });

  it('reproduces the GCS and slice-count histograms exactly', () => {
    const gcs = new Array(13).fill(0);
    imaged.forEach((p) => gcs[p.gcs - 3]++);
    assert.deepEqual(gcs, GCS_COUNTS);
    for (const [slices, count] of SLICE_COUNTS) assert.equal(imaged.filter((p) => p.slices === slices).length, count, `${slices} slices`);
  });

  it('matches the reported Spearman correlations with the label (age +0.389, GCS -0.343, others) within 0.05', () => {
    for (const [name, target] of Object.entries(LABEL_SPEARMAN)) {
      const r = spearman(imaged.map((p) => p.row[name]), labels);
      assert.ok(Math.abs(r - target) < 0.05, `${name}: ${r.toFixed(3)} vs ${target}`);
    }
    const severe = spearman(imaged.map((p) => (p.gcs <= 8 ? 1 : 0)), labels);
    assert.ok(Math.abs(severe - 0.245) < 0.05, `GCS<=8: ${severe}`);
  });

  it('keeps every value in its plausible range and weakly associated unless reported', () => {
    for (const p of cohort) {
      assert.ok(p.age >= 18 && p.age <= 99);
      assert.ok(p.row.OxSat <= 100 && p.row['Tº'] > 34 && p.row.Sodium >= 120);
    }
    const r = spearman(imaged.map((p) => p.row.Sodium), labels);
    assert.ok(Math.abs(r) < 0.2);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    assert.deepEqual(generateClinical(1).map((p) => p.row), cohort.map((p) => p.row));
    assert.notDeepEqual(generateClinical(2).map((p) => p.row.Age), cohort.map((p) => p.row.Age));
  });

  it('scales histograms for smaller cohorts by largest remainder', () => {
    assert.deepEqual(scaleCounts([1, 1, 2], 8), [2, 2, 4]);
    assert.equal(scaleCounts(GCS_COUNTS, 29).reduce((a, b) => a + b, 0), 29);
    const small = generateClinical(4, 40);
    assert.equal(small.length, 40);
    assert.ok(small.every((p) => p.hasImage));
    assert.throws(() => generateClinical(1, 5), /integer >= 20/);
  });
});
