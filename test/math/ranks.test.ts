import { strict as assert } from 'node:assert';
import { averageRanks, pearson, spearman } from '../../src/math/ranks';
import { fixture } from '../support/paths';

// scipy.stats.rankdata / spearmanr / pearsonr values (test/fixtures/gen/make_fixtures.py).
const f = fixture('ranks.json');

describe('math/ranks', () => {
  it('average ranks with ties equal scipy.stats.rankdata', () => {
    assert.deepEqual(Array.from(averageRanks(f.x)), f.rankdataX);
  });

  it('spearman and pearson equal SciPy to 1e-12', () => {
    assert.ok(Math.abs(spearman(f.x, f.y) - f.spearmanXY) < 1e-12);
    assert.ok(Math.abs(spearman(f.x, f.binary) - f.spearmanXB) < 1e-12);
    assert.ok(Math.abs(pearson(f.x, f.y) - f.pearsonXY) < 1e-12);
  });

  it('is NaN for a constant side and throws on NaN input', () => {
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
    assert.ok(Number.isNaN(pearson([], [])));
    assert.throws(() => averageRanks([1, NaN]), /got NaN \(index 1\)/);
    assert.throws(() => pearson([1], [1, 2]), /equal lengths/);
  });
});
