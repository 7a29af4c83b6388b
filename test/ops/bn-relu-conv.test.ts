import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { act3d } from '../../src/ops/act3d';
import { batchNormReluConv1x1, recomputeMinBytes } from '../../src/ops/bn-relu-conv';
import { conv3d } from '../../src/ops/conv3d';
import { NativeDnnl, useNativeKernels } from '../../src/ops/native-dnnl';
import { countingBatchNorm } from '../support/native';
import { batchNormRelu3d, BatchNormParams } from '../../src/ops/norm';
import { NATIVE_SKIP_REASON, onBackend, values } from '../support/tf';

type Shape5 = [number, number, number, number, number];

/**
 * Value, statistics, and the gradients of sum(y * r) for input, gamma, beta and weight, through the fused op or the
 * batch norm + ReLU and the convolution in sequence, on one backend.
 */
function run(backend: string, fused: boolean, training: boolean, minBytes = 0, lib?: NativeDnnl) {
  return onBackend(backend, async () => {
    if (lib) useNativeKernels(lib);
    const shape: Shape5 = [2, 3, 4, 5, 6];
    const cout = 7;
    const x = tf.tensor4d(values(2 * 3 * 4 * 5 * 6, 11), [6, 4, 5, 6]);
    const p: BatchNormParams = {
      gamma: tf.tensor1d(values(6, 12)),
      beta: tf.tensor1d(values(6, 13)),
      runningMean: tf.tensor1d(values(6, 14)),
      runningVar: tf.tensor1d(Array.from(values(6, 15), (v) => 0.5 + Math.abs(v))),
    };
    const w = tf.tensor2d(values(6 * cout, 16), [6, cout]);
    const r = tf.tensor4d(values(2 * 3 * 4 * 5 * cout, 17), [6, 4, 5, cout]);
    const stats: number[][] = [];
    const forward = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, ws: tf.Tensor) => {
      const params = { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D };
      const a = act3d(xs, shape);
      const out = fused
        ? batchNormReluConv1x1(a, params, ws as tf.Tensor2D, training, 1e-5, minBytes)
        : (() => {
            const bn = batchNormRelu3d(a, params, training, true);
            return { y: conv3d(bn.y, ws as tf.Tensor2D, { kernel: 1, stride: 1, padding: 0 }), stats: bn.stats };
          })();
      if (out.stats) {
        stats.push(Array.from(out.stats.mean.dataSync()), Array.from(out.stats.varUnbiased.dataSync()));
        tf.dispose([out.stats.mean, out.stats.varUnbiased]);
      }
      return out.y.x;
    };
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => forward(x, p.gamma, p.beta, w));
    const grads = tf.grads((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.mul(forward(xs, g, b, ws), r)))([x, p.gamma, p.beta, w]);
    const out = { y: Array.from(await y.data()), yShape: y.shape, stats, grads: await Promise.all(grads.map(async (t) => Array.from(await t.data()))) };
    tf.dispose([y, ...grads]);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([x, w, r, ...Object.values(p)]);
    return out;
  });
}

describe('ops/bn-relu-conv: batch norm + ReLU + 1x1x1 conv with the normalised input recomputed for the gradient', function () {
  before(function () {
    if (NATIVE_SKIP_REASON) this.skip();
  });

  for (const backend of ['wasm+onednn', 'cpu+onednn']) {
    for (const training of [true, false]) {
      it(`gives the two ops' values, statistics and gradients to the bit (${backend}, ${training ? 'training' : 'eval'})`, async () => {
        const fused = await run(backend, true, training);
        const apart = await run(backend, false, training);
        assert.deepEqual(fused.yShape, [6, 4, 5, 7]);
        assert.equal(fused.stats.length, training ? 4 : 0);
        assert.ok(fused.grads.every((g) => g.some((v) => v !== 0)), 'every gradient is non-zero somewhere');
        assert.deepEqual(fused, apart);
      });
    }
  }

  it('recomputes from the size ICH_RECOMPUTE_MIN_MB gives, and nothing when it is unset', () => {
    const saved = process.env.ICH_RECOMPUTE_MIN_MB;
    try {
      delete process.env.ICH_RECOMPUTE_MIN_MB;
      assert.equal(recomputeMinBytes(), Infinity);
      process.env.ICH_RECOMPUTE_MIN_MB = '16';
      assert.equal(recomputeMinBytes(), 16 * 2 ** 20);
      process.env.ICH_RECOMPUTE_MIN_MB = '0';
      assert.equal(recomputeMinBytes(), 0);
      process.env.ICH_RECOMPUTE_MIN_MB = 'lots';
      assert.throws(() => recomputeMinBytes(), /ICH_RECOMPUTE_MIN_MB expected a size in MiB >= 0, got "lots"/);
    } finally {
      if (saved === undefined) delete process.env.ICH_RECOMPUTE_MIN_MB;
      else process.env.ICH_RECOMPUTE_MIN_MB = saved;
    }
  });

  it('falls back to the two ops without the addon or below its size, and checks the weight', async () => {
    assert.deepEqual(await run('wasm', true, true), await run('wasm', false, true));
    // Batch-norm forward passes: the value and the taped pass, plus the recomputation when it recomputes.
    const { lib: counting, passes } = countingBatchNorm();
    assert.deepEqual(await run('wasm+onednn', true, true, 1e9, counting), await run('wasm+onednn', false, true));
    assert.equal(passes.count, 2, 'kept below its size');
    passes.count = 0;
    await run('wasm+onednn', true, true, 0, counting);
    assert.equal(passes.count, 3, 'recomputed at or above it');
    await onBackend('wasm+onednn', () =>
      tf.tidy(() => {
        const p = { gamma: tf.ones([3]), beta: tf.zeros([3]), runningMean: tf.zeros([3]), runningVar: tf.ones([3]) } as BatchNormParams;
        const x = act3d(tf.zeros([1, 2, 2, 2, 3]), [1, 2, 2, 2, 3]);
        assert.throws(() => batchNormReluConv1x1(x, p, tf.zeros([4, 5]) as tf.Tensor2D, true), /batchNormReluConv1x1 weight expected \[3, Cout\], got \[4, 5\]/);
      }),
    );
  });
});
