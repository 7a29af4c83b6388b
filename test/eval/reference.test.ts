import { strict as assert } from 'node:assert';
import { paperReference } from '../../src/eval/reference';

describe('eval/reference: the paper-reported numbers', () => {
  it('reads the results table and the readers of paper.md', () => {
    const r = paperReference();
    const models = r.crossValidation.models;
    assert.equal(Object.keys(models).length, 7);
    const best = Object.entries(models).find(([name]) => /ord GCS, bin age/.test(name));
    assert.ok(best, Object.keys(models).join(', '));
    assert.equal(best![1].mean.auc, 0.7134);
    assert.equal(best![1].std.auc, 0.051);
    assert.equal(r.fold0Readers.patients, 27);
    assert.throws(() => paperReference('/no/such/file.json'), /expected readable JSON, got ENOENT/);
  });
});
