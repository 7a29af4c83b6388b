import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { act3d } from '../../../src/ops/act3d';
import { maxPool3d } from '../../../src/ops/pool3d';
import { onBackend, relError, TEST_BACKENDS, values } from '../../support/tf';

describe('ops/webgpu: max pooling kernels', () => {
  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`gives a tied window's gradient to its first maximum, as PyTorch does (${backend})`, async () => {
      await onBackend(backend, async () => {
        // torch.nn.functional.max_pool3d on zeros(1,1,2,2,2), kernel 2: the gradient is 1 at index 0 only
        const x = tf.zeros([1, 2, 2, 2, 1]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(maxPool3d(act3d(t, [1, 2, 2, 2, 1]), 2, 2, 0).x))(x);
        assert.deepEqual(Array.from(await dx.data()), [1, 0, 0, 0, 0, 0, 0, 0]);
        tf.dispose([x, dx]);
      });
    });

    it(`kernel 2 stride 2 on odd sizes (the Perez CNN's pools) matches tf.maxPool3d on cpu, gradient included (${backend})`, async () => {
      const shape: [number, number, number, number, number] = [2, 5, 7, 9, 3];
      const xv = values(shape.reduce((a, b) => a * b, 1), 41);
      const run = () => {
        const x = tf.tensor(xv, shape);
        const probe = tf.tensor(values(2 * 2 * 3 * 4 * 3, 42), [2, 2, 3, 4, 3]);
        const f = (t: tf.Tensor) => {
          const y = tf.getBackend() === 'cpu' ? tf.maxPool3d(t as tf.Tensor5D, 2, 2, 'valid') : tf.reshape(maxPool3d(act3d(t, shape), 2, 2, 0).x, [2, 2, 3, 4, 3]);
          return tf.sum(tf.mul(y, probe));
        };
        return { x, probe, f };
      };
      const read = async () => {
        const { x, probe, f } = run();
        const { value, grad } = tf.valueAndGrad(f)(x);
        const out = { value: (await value.data())[0], grad: await grad.data() };
        tf.dispose([x, probe, value, grad]);
        return out;
      };
      const ref = await onBackend('cpu', read);
      const ours = await onBackend(backend, read);
      assert.ok(Math.abs(ours.value - ref.value) <= 1e-5 * Math.abs(ref.value));
      assert.ok(relError(ours.grad, ref.grad) <= 1e-6);
    });
  }
});
