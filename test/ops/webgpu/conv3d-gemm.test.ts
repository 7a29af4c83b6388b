import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { convGemm, convGemmProgram, gemmDims, reductionChunks } from '../../../src/ops/webgpu/conv3d-gemm';
import { MAX_GRID } from '../../../src/ops/webgpu/program';
import { onBackend, relError, TEST_BACKENDS, values } from '../../support/tf';

describe('ops/webgpu: the implicit-GEMM conv3d program', () => {
  const shape = { b: 2, d: 6, h: 9, w: 10, cin: 5, cout: 7, k: 3, s: 1, p: 1 };

  it('sizes the GEMM of each pass and splits only the weight gradient over positions', () => {
    assert.deepEqual(gemmDims('forward', shape), { m: 1080, n: 7, k: 135 });
    assert.deepEqual(gemmDims('backwardData', shape), { m: 1080, n: 5, k: 189 });
    assert.deepEqual(gemmDims('backwardWeights', shape), { m: 135, n: 7, k: 1080 });
    assert.equal(reductionChunks('forward', shape), 1);
    assert.equal(reductionChunks('backwardWeights', shape), 4);
    // 1,080 rows = 17 tiles of 64: one grid column normally, 9 x 2 with at most 9 per dimension.
    assert.deepEqual(convGemmProgram('forward', shape).program.dispatch, [1, 17, 1]);
    assert.deepEqual(convGemmProgram('forward', shape, 9).program.dispatch, [1, 9, 2]);
    assert.throws(() => convGemmProgram('forward', shape, 4), /conv3d forward expected at most 4 row tiles per grid dimension, got \[4, 5\]/);
    assert.equal(MAX_GRID, 65535);
  });

  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`gives the same result when row tiles spill over into the grid's z dimension (${backend})`, async () => {
      await onBackend(backend, async () => {
        const x = tf.tensor(values(2 * 6 * 9 * 10 * 5, 3), [12, 9, 10, 5]);
        const w = tf.tensor(values(135 * 7, 4), [135, 7]);
        const dy = tf.tensor(values(1080 * 7, 5), [12, 9, 10, 7]);
        for (const [pass, a, b] of [['forward', x, w], ['backwardData', dy, w]] as const) {
          const plain = convGemm(pass, shape, a, b);
          const folded = convGemm(pass, shape, a, b, 5);
          assert.equal(relError(await folded.data(), await plain.data()), 0, pass);
          tf.dispose([plain, folded]);
        }
        tf.dispose([x, w, dy]);
      });
    });
  }
});
