import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { concatChannelsNative, nativeConcatActive } from '../../src/ops/native-concat';
import { loadNativeDnnl } from '../../src/ops/native-dnnl';
import { NATIVE_SKIP_REASON, onBackend, values } from '../support/tf';

// DenseNet's concatenations run through it in ops.test.ts, models.test.ts and loop.test.ts under the `wasm+onednn`
// entry; these check it against tf.concat and its gradient exactly, on both backends it serves.
describe('native kernels: channel concatenation (native/ich_dnnl.cc concatChannels, splitChannels)', function () {
  before(function () {
    if (NATIVE_SKIP_REASON) this.skip();
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`equals tf.concat on the last axis, with the same gradient, and frees what it makes (${backend})`, async () => {
      const run = (native: boolean) =>
        onBackend(native ? `${backend}+onednn` : backend, async () => {
          assert.equal(nativeConcatActive(), native);
          // 2 x 3 x 4 positions, 5 + 3 channels (DenseNet: C + growth rate)
          const a = tf.tensor4d(values(2 * 3 * 4 * 5, 1), [2, 3, 4, 5]);
          const b = tf.tensor4d(values(2 * 3 * 4 * 3, 2), [2, 3, 4, 3]);
          const weights = tf.tensor4d(values(2 * 3 * 4 * 8, 3), [2, 3, 4, 8]);
          const cat = (x: tf.Tensor4D, y: tf.Tensor4D) => (native ? concatChannelsNative(x, y) : tf.concat([x, y], 3));
          const before = tf.memory().numTensors;
          const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(cat(x as tf.Tensor4D, y as tf.Tensor4D), weights)))([a, b]);
          const y = cat(a, b);
          const out = { y: Array.from(await y.data()), shape: y.shape, value: (await value.data())[0], grads: await Promise.all(grads.map(async (g) => Array.from(await g.data()))) };
          tf.dispose([y, value, ...grads]);
          assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
          tf.dispose([a, b, weights]);
          return out;
        });
      const plain = await run(false);
      const fused = await run(true);
      assert.deepEqual(fused.shape, [2, 3, 4, 8]);
      assert.deepEqual(fused, plain);
    });
  }

  it('refuses operands of different leading sizes, and arrays of the wrong length', async () => {
    await onBackend('wasm+onednn', () => {
      const a = tf.zeros([2, 3, 4, 5]) as tf.Tensor4D;
      const b = tf.zeros([2, 3, 5, 3]) as tf.Tensor4D;
      assert.throws(() => concatChannelsNative(a, b), /concatChannels expected the same leading sizes, got \[2, 3, 4, 5\] and \[2, 3, 5, 3\]/);
      tf.dispose([a, b]);
    });
    const r = loadNativeDnnl();
    assert.ok(r.ok && r.lib.concatChannels);
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => r.lib.concatChannels!(f(7), f(4), f(2), 2, 1), /concatChannels expected 2 rows of 2 \+ 1 channels \(4, 2 and 6 values\), got 4, 2 and 7/);
    assert.throws(() => r.lib.splitChannels!(f(6), f(4), f(2), 0, 1), /splitChannels expected \(joined, a, b: Float32Array, ca, cb: positive channel counts\)/);
  });
});
