import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { valuesInPlace } from '../../src/ops/native-memory';
import { releasingSaved, saveInPlace } from '../../src/ops/saved-tensors';
import { onBackend, values } from '../support/tf';

/** Backend data buffers. */
function dataBuffers(): number {
  return tf.engine().backend.numDataIds();
}

/**
 * y = sum(x * x) through a customGrad that saves x with saveInPlace; the gradient 2x reads the saved handle in place
 * and records what it was given.
 */
function squareSum(seen: { saved: tf.Tensor[] }) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    saveInPlace(args[1] as tf.GradSaveFunc, [x]);
    return {
      value: tf.sum(tf.square(x)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        seen.saved = saved;
        const doubled = Float32Array.from(valuesInPlace(saved[0]), (v) => 2 * v);
        return [tf.mul(dy, tf.tensor(doubled, saved[0].shape))];
      },
    };
  });
}

describe('saved tensors: what a gradient function reads, saved without copies (src/ops/saved-tensors.ts)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`hands the gradient the input's own memory and releases it with the tape (${backend})`, async () => {
      await onBackend(backend, async () => {
        const x = tf.tensor(values(24, 3), [2, 3, 4]);
        const seen = { saved: [] as tf.Tensor[] };
        const f = squareSum(seen);
        const tensorsBefore = tf.memory().numTensors;
        const buffersBefore = dataBuffers();
        const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => f(t) as tf.Scalar)(x);
        // The handle is x's data (no copy: tfjs's own save clones, one more buffer each).
        assert.equal(seen.saved.length, 1);
        assert.equal(seen.saved[0].dataId, x.dataId);
        assert.deepEqual(seen.saved[0].shape, x.shape);
        const expected = Array.from(values(24, 3), (v) => 2 * v);
        const got = Array.from(await grad.data());
        got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-6, `dx[${i}] ${v} vs ${expected[i]}`));
        tf.dispose([value, grad]);
        // The engine disposed the handle after the gradients; x itself is untouched.
        assert.ok(seen.saved[0].isDisposed);
        assert.equal(tf.memory().numTensors, tensorsBefore);
        assert.equal(dataBuffers(), buffersBefore);
        assert.ok(!x.isDisposed);
        assert.deepEqual(Array.from(await x.data()), Array.from(values(24, 3)));
        x.dispose();
      });
    });

    it(`saves nothing without a gradient tape, and frees what a node off the gradient's path saved (${backend})`, async () => {
      await onBackend(backend, async () => {
        const x = tf.tensor(values(8, 4), [8]);
        const seen = { saved: [] as tf.Tensor[] };
        const f = squareSum(seen);
        const before = tf.memory().numTensors;
        // Inference: only the value is new.
        const y = f(x);
        assert.equal(tf.memory().numTensors, before + 1);
        y.dispose();
        // Under a tape, a node whose output does not reach the loss never runs its gradient; its handle still goes.
        const g = tf.grad((t: tf.Tensor) => {
          f(t);
          return tf.sum(t);
        })(x);
        assert.equal(seen.saved.length, 0, 'the unused node ran no gradient');
        g.dispose();
        assert.equal(tf.memory().numTensors, before);
        x.dispose();
      });
    });

    it(`frees what a gradient function saved as soon as it has run, and when it throws (${backend})`, async () => {
      await onBackend(backend, async () => {
        // exp(x) saves its value for its gradient (d/dx exp(x) = exp(x)); two in a row: the outer one's gradient runs
        // first, and the inner one's finds the outer one's saved tensor already freed, before the backward pass ends.
        const savedBy: Record<string, tf.Tensor[]> = {};
        let outerFreedFirst = false;
        const expOf = (name: string) =>
          tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
            const value = tf.exp(args[0] as tf.Tensor);
            saveInPlace(args[1] as tf.GradSaveFunc, [value]);
            return {
              value,
              gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) => {
                savedBy[name] = saved;
                if (name === 'inner') outerFreedFirst = savedBy.outer?.[0].isDisposed === true && !saved[0].isDisposed;
                return [tf.mul(dy, saved[0])];
              }),
            };
          });
        const [inner, outer] = [expOf('inner'), expOf('outer')];
        const x = tf.tensor([0.5, -1, 2]);
        const before = tf.memory().numTensors;
        const grad = tf.grad((t: tf.Tensor) => tf.sum(outer(inner(t))))(x);
        assert.ok(outerFreedFirst, 'the outer gradient freed its saved value before the inner one ran');
        assert.ok(savedBy.inner[0].isDisposed);
        // d/dx exp(exp(x)) = exp(exp(x)) exp(x)
        const got = Array.from(await grad.data());
        [0.5, -1, 2].forEach((v, i) => {
          const want = Math.exp(Math.exp(v)) * Math.exp(v);
          assert.ok(Math.abs(got[i] - want) <= 1e-5 * want, `dx[${i}] ${got[i]} vs ${want}`);
        });
        grad.dispose();
        assert.equal(tf.memory().numTensors, before);
        // A gradient function that throws still frees its saved tensors.
        let kept: tf.Tensor[] = [];
        const failing = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
          saveInPlace(args[1] as tf.GradSaveFunc, [args[0] as tf.Tensor]);
          return {
            value: tf.neg(args[0] as tf.Tensor),
            gradFunc: releasingSaved((_dy: tf.Tensor, saved: tf.Tensor[]) => {
              kept = saved;
              throw new Error('the gradient fails');
            }),
          };
        });
        assert.throws(() => tf.grad((t: tf.Tensor) => tf.sum(failing(t)))(x), /the gradient fails/);
        assert.equal(kept.length, 1);
        assert.ok(kept[0].isDisposed);
        x.dispose();
      });
    });
  }
});
