import { strict as assert } from 'node:assert';
import { crossValidationFolds, randomOverSample, stratifiedKFold, stratifiedTrainTestSplit } from '../../src/data/splits';
import { fixture } from '../support/paths';

// scikit-learn 1.2 StratifiedKFold / train_test_split and imbalanced-learn RandomOverSampler outputs
// (test/fixtures/gen/make_fixtures.py) for several sizes and class ratios.
const f = fixture('splits.json');

describe('data/splits', () => {
  for (const c of f.cases) {
    it(`crossValidationFolds equals sklearn + imblearn exactly (${c.note}, n=${c.labels.length})`, () => {
      const folds = crossValidationFolds(c.labels);
      assert.equal(folds.length, 10);
      folds.forEach((fold, k) => {
        assert.deepEqual(fold.test, c.folds[k].test, `fold ${k} test`);
        assert.deepEqual(fold.val, c.folds[k].val, `fold ${k} val`);
        assert.deepEqual(fold.train, c.folds[k].train, `fold ${k} train`);
        assert.deepEqual(fold.trainOversampled, c.folds[k].trainOversampled, `fold ${k} oversampled`);
      });
    });
  }

  it('every sample is tested exactly once and folds are disjoint', () => {
    const labels = f.cases[0].labels as number[];
    const folds = crossValidationFolds(labels);
    const seen = new Array(labels.length).fill(0);
    for (const fold of folds) {
      fold.test.forEach((i) => seen[i]++);
      const all = new Set([...fold.test, ...fold.val, ...fold.train]);
      assert.equal(all.size, labels.length);
      const over = fold.trainOversampled.map((i) => labels[i]);
      assert.equal(over.filter((y) => y === 1).length, over.filter((y) => y === 0).length, 'balanced after oversampling');
    }
    assert.ok(seen.every((s) => s === 1));
  });

  for (const c of f.otherKFold) {
    it(`StratifiedKFold(${c.folds}, seed ${c.seed}) test folds equal sklearn`, () => {
      assert.deepEqual(stratifiedKFold(c.labels, c.folds, c.seed).map((s) => s.test), c.tests);
    });
  }

  for (const c of f.trainTestSplit) {
    it(`train_test_split(test_size=${c.testSize}, seed ${c.seed}, n=${c.labels.length}) equals sklearn`, () => {
      const s = stratifiedTrainTestSplit(c.labels, c.testSize, c.seed);
      assert.deepEqual(s.train, c.train);
      assert.deepEqual(s.test, c.test);
    });
  }

  for (const c of f.oversample) {
    it(`RandomOverSampler(seed ${c.seed}) on [${c.labels.join(',')}] equals imblearn`, () => {
      assert.deepEqual(randomOverSample(c.labels, c.seed), c.indices);
    });
  }

  it('gives clear errors for one class, too few samples and NaN labels', () => {
    assert.throws(() => stratifiedTrainTestSplit([1, 1, 1, 0], 0.5, 1), /at least 2 samples in every class/);
    assert.throws(() => stratifiedKFold([0, 1, 0], 10), /n_splits expected <= number of samples/);
    assert.throws(() => stratifiedKFold([0, 0, 0, 0, 1], 5), /largest class size/);
    assert.throws(() => crossValidationFolds([0, 1, NaN, 1]), /finite numbers, got NaN at index 2/);
    assert.deepEqual(randomOverSample([]), []);
    assert.deepEqual(randomOverSample([1, 1, 1]), [0, 1, 2], 'one class: nothing to add');
  });
});
