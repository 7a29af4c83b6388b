import { strict as assert } from 'node:assert';
import { NumpyRandomState } from '../../src/math/mt19937';
import { fixture } from '../support/paths';

// Golden streams from numpy.random.RandomState (test/fixtures/gen/make_fixtures.py).
const streams = fixture('splits.json').streams;

describe('math/mt19937 NumpyRandomState', () => {
  it('permutation equals RandomState(1).permutation(20) and RandomState(0).permutation(7)', () => {
    assert.deepEqual(new NumpyRandomState(1).permutation(20), streams.permutation_seed1_n20);
    assert.deepEqual(new NumpyRandomState(0).permutation(7), streams.permutation_seed0_n7);
  });

  it('randint equals legacy masked randint', () => {
    assert.deepEqual(new NumpyRandomState(2).randint(0, 99, 12), streams.randint_seed2_0_99_size12);
    assert.deepEqual(new NumpyRandomState(5).randint(0, 3, 10), streams.randint_seed5_0_3_size10);
  });

  it('raw 32-bit outputs equal randint(0, 2**32)', () => {
    const rs = new NumpyRandomState(1);
    assert.deepEqual(Array.from({ length: 5 }, () => rs.nextUint32()), streams.raw_uint32_seed1);
  });

  it('shuffles of length 0 and 1 draw nothing', () => {
    const a = new NumpyRandomState(3);
    a.shuffle([]);
    a.shuffle([7]);
    assert.equal(a.nextUint32(), new NumpyRandomState(3).nextUint32());
  });

  it('rejects bad seeds and bounds', () => {
    assert.throws(() => new NumpyRandomState(-1), /seed expected an integer/);
    assert.throws(() => new NumpyRandomState(1.5), /seed expected an integer/);
    assert.throws(() => new NumpyRandomState(1).randint(3, 3, 1), /high > low/);
    assert.throws(() => new NumpyRandomState(1).choiceWithoutReplacement([1, 2], 3), /size <= population/);
  });
});
