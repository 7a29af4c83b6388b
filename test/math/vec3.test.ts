import { strict as assert } from 'node:assert';
import { cross3, dot3, norm3 } from '../../src/math/vec3';

describe('math/vec3', () => {
  it('gives dot and cross products and lengths, the DICOM slice normal among them', () => {
    assert.equal(dot3([1, 2, 3], [4, -5, 6]), 12);
    assert.deepEqual(cross3([1, 0, 0], [0, 1, 0]), [0, 0, 1]); // axial: rows along x, columns along y -> normal z
    assert.deepEqual(cross3([2, 3, 4], [5, 6, 7]), [-3, 6, -3]);
    assert.equal(norm3([3, 4, 12]), 13);
  });
});
