import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { loadNativeDnnl, NativeDnnl, useNativeKernels } from '../../src/ops/native-dnnl';
import { NATIVE_SKIP_REASON, onBackend, values } from '../support/tf';

/** The addon with its addInto calls counted (its functions are not enumerable: the wrapper inherits them). */
function countingAdd(lib: NativeDnnl): { lib: NativeDnnl; calls: { count: number } } {
  const calls = { count: 0 };
  const wrapped = Object.create(lib, {
    addInto: { value: (...args: Parameters<NonNullable<NativeDnnl['addInto']>>) => (calls.count++, lib.addInto!(...args)) },
  }) as NativeDnnl;
  return { lib: wrapped, calls };
}

/** Values that test rounding and the special cases: large and tiny magnitudes, subnormals, zeros of both signs, NaN, infinities. */
function awkward(n: number, seed: number): Float32Array {
  const special = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38, 1, 1 + 2 ** -23];
  const v = values(n, seed);
  for (let i = 0; i < n; i++) v[i] = i < special.length * 3 ? special[(i + seed) % special.length] : v[i] * 10 ** ((i % 15) - 7);
  return v;
}

describe('ops/native-add: the cpu backend Add of two float32 tensors of one shape through the addon', function () {
  before(function () {
    if (NATIVE_SKIP_REASON) this.skip();
  });

  it("gives tfjs's own kernel's values to the bit, special values included, and leaks nothing", async () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    const n = 300_001; // above the addon's OpenMP threshold, and odd
    const run = (native: boolean) =>
      onBackend('cpu+onednn', async () => {
        const { lib, calls } = countingAdd(r.lib);
        useNativeKernels(native ? lib : null);
        const before = tf.memory().numTensors;
        const [a, b] = [tf.tensor(awkward(n, 3), [n]), tf.tensor(awkward(n, 7), [n])];
        const sum = tf.add(a, b);
        const out = Array.from(await sum.data());
        tf.dispose([a, b, sum]);
        assert.equal(tf.memory().numTensors, before);
        return { out, calls: calls.count };
      });
    const native = await run(true);
    const tfjs = await run(false);
    assert.equal(native.calls, 1, 'the addon added');
    assert.equal(tfjs.calls, 0);
    // deepEqual compares with Object.is: NaN equals NaN, -0 differs from 0.
    assert.deepEqual(native.out, tfjs.out);
  });

  it("leaves broadcasts and int32 to tfjs's kernel, and accumulates gradients through the addon", async () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    await onBackend('cpu+onednn', async () => {
      const { lib, calls } = countingAdd(r.lib);
      useNativeKernels(lib);
      assert.deepEqual(Array.from(await tf.add(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.tensor1d([10, 20, 30])).data()), [11, 22, 33, 14, 25, 36]);
      assert.deepEqual(Array.from(await tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).data()), [4, 6]);
      assert.equal(calls.count, 0);
      // x feeds two branches: the tape adds their gradients (2x + 3).
      const x = tf.tensor1d([1, -2, 0.5]);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.mul(t, t), tf.mul(t, 3))))(x);
      assert.deepEqual(Array.from(await dx.data()), [5, -1, 4]);
      assert.ok(calls.count >= 1, 'the gradients were accumulated by the addon');
    });
  });

  it('rejects arrays of different lengths, naming them', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    assert.throws(() => r.lib.addInto!(new Float32Array(3), new Float32Array(3), new Float32Array(2)), /addInto expected three arrays of one length, got 3, 3 and 2/);
    assert.throws(() => r.lib.addInto!(new Float32Array(3), new Float32Array(3), [1, 2, 3] as never), /addInto expected \(out, a, b: Float32Array\)/);
  });
});
