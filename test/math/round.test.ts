import { strict as assert } from 'node:assert';
import { round } from '../../src/math/round';

describe('math/round', () => {
  it('rounds to a number of decimals', () => {
    assert.equal(round(0.99923456, 5), 0.99923);
    assert.equal(round(12.35, 1), 12.4);
    assert.equal(round(2.5, 0), 3);
    assert.equal(round(1234.5678, -2), 1200);
    assert.ok(Number.isNaN(round(NaN, 3)));
  });
});
