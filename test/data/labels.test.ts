import { strict as assert } from 'node:assert';
import { binaryAge, binaryGcs, decodeOrdinalGcs, gcsClass, ordinalGcs } from '../../src/data/labels';

describe('data/labels', () => {
  it('binary GCS is 1 for GCS <= 8', () => {
    assert.deepEqual([3, 8, 9, 15].map(binaryGcs), [1, 1, 0, 0]);
  });

  it('ordinal GCS: 13-15 [0,0], 9-12 [1,0], 3-8 [1,1]; decoded as bits above 0.5', () => {
    assert.deepEqual([15, 13, 12, 9, 8, 3].map(ordinalGcs), [[0, 0], [0, 0], [1, 0], [1, 0], [1, 1], [1, 1]]);
    assert.deepEqual([15, 10, 4].map(gcsClass), [0, 1, 2]);
    assert.equal(decodeOrdinalGcs([0.2, 0.9]), 1);
    assert.equal(decodeOrdinalGcs([0.5, 0.5]), 0);
    assert.equal(decodeOrdinalGcs([0.51, 0.7]), 2);
  });

  it('binary age is 1 from 80 years', () => {
    assert.deepEqual([79.9, 80, 95].map(binaryAge), [0, 1, 1]);
  });

  it('rejects GCS outside 3-15, non-integers and NaN ages', () => {
    assert.throws(() => binaryGcs(2), /GCS expected an integer 3-15, got 2/);
    assert.throws(() => ordinalGcs(7.5), /got 7.5/);
    assert.throws(() => binaryAge(NaN), /age expected a finite number/);
  });
});
