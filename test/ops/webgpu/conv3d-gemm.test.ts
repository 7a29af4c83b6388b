import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { convGemm, convGemmProgram, convRowsPerThread, gemmDims, reductionChunks } from '../../../src/ops/webgpu/conv3d-gemm';
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
    // 8 rows per thread: tiles of 128 rows, the same 16 x (columns / 4) threads.
    const eight = convGemmProgram('forward', shape, MAX_GRID, 8).program;
    assert.deepEqual(eight.dispatch, [1, 9, 1]);
    assert.deepEqual(eight.workgroupSize, [8, 16, 1]);
    assert.equal(reductionChunks('backwardWeights', shape, 8), 4);
    const before = process.env.ICH_WGSL_CONV_ROWS;
    try {
      process.env.ICH_WGSL_CONV_ROWS = '8';
      assert.equal(convRowsPerThread(), 8);
      process.env.ICH_WGSL_CONV_ROWS = '6';
      assert.throws(() => convRowsPerThread(), /ICH_WGSL_CONV_ROWS expected 4 or 8, got "6"/);
    } finally {
      if (before === undefined) delete process.env.ICH_WGSL_CONV_ROWS;
      else process.env.ICH_WGSL_CONV_ROWS = before;
    }
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

    it(`gives the same passes with 8 output rows per thread as with 4 (${backend})`, async () => {
      await onBackend(backend, async () => {
        // 37 -> 70 channels: two column tiles, a reduction that is no multiple of the 16-deep step, chunked weights.
        const wide = { b: 2, d: 6, h: 9, w: 10, cin: 37, cout: 70, k: 3, s: 1, p: 1 };
        const x = tf.tensor(values(1080 * 37, 6), [12, 9, 10, 37]);
        const w = tf.tensor(values(27 * 37 * 70, 7), [27 * 37, 70]);
        const dy = tf.tensor(values(1080 * 70, 8), [12, 9, 10, 70]);
        for (const [pass, a, b] of [['forward', x, w], ['backwardData', dy, w], ['backwardWeights', x, dy]] as const) {
          const four = convGemm(pass, wide, a, b, MAX_GRID, 4);
          const eight = convGemm(pass, wide, a, b, MAX_GRID, 8);
          assert.ok(relError(await eight.data(), await four.data()) <= 1e-5, pass);
          tf.dispose([four, eight]);
        }
        tf.dispose([x, w, dy]);
      });
    });
  }
});
