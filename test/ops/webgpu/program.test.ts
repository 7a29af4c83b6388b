import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { checkBindingSizes, elementwiseDispatch, flatWorkgroupIndex, runProgram, WebGpuBackend, wgslProgram } from '../../../src/ops/webgpu/program';
import { onBackend, TEST_BACKENDS } from '../../support/tf';

describe('ops/webgpu: program helpers', () => {
  it('folds a one-dimensional dispatch into a square only when one grid dimension cannot hold it', () => {
    assert.deepEqual(elementwiseDispatch(65535), [65535, 1, 1]);
    assert.deepEqual(elementwiseDispatch(65536), [256, 256, 1]);
    assert.deepEqual(elementwiseDispatch(0), [1, 1, 1]);
    assert.deepEqual(elementwiseDispatch(50, 8), [8, 8, 1]);
    assert.throws(() => elementwiseDispatch(50, 6), /dispatch expected at most 36 workgroups, got 50/);
    assert.throws(
      () => wgslProgram({ key: 'k', inputs: [], uniforms: [], outputShape: [4], dispatch: [1, 1, 1], workgroupSize: [1, 1, 1], code: '' }),
      /k output expected rank >= 2 \(a dispatch that is not flat\), got \[4\]/,
    );
  });

  it('refuses a dispatch whose input or output exceeds the binding limit before Dawn would skip it silently', () => {
    const backend = { device: { limits: { maxStorageBufferBindingSize: 4000 } } } as unknown as WebGpuBackend;
    const program = wgslProgram({ key: 'ichTestSizes', inputs: ['x', 'w'], uniforms: [], outputShape: [10, 100], dispatch: [1, 1, 1], workgroupSize: [1, 1, 1], code: '' });
    const info = (shape: number[]) => ({ dataId: {}, shape, dtype: 'float32' }) as tf.TensorInfo;
    // 10 x 100 float32 values: exactly 4,000 bytes, the limit itself, is allowed.
    assert.doesNotThrow(() => checkBindingSizes(backend, program, [info([1000]), info([2, 5])]));
    assert.throws(
      () => checkBindingSizes(backend, program, [info([1000]), info([1001])]),
      /ichTestSizes expected tensors of at most 4000 bytes \(the GPU's maxStorageBufferBindingSize\), got 4004 for w \[1001\]; lower the batch size/,
    );
    const wide = wgslProgram({ ...{ key: 'ichTestOut', inputs: [], uniforms: [], dispatch: [1, 1, 1], workgroupSize: [1, 1, 1], code: '' }, outputShape: [2, 501] });
    assert.throws(() => checkBindingSizes(backend, wide, []), /got 4008 for result \[2, 501\]/);
  });

  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`visits every element exactly once through a folded grid (${backend})`, async () => {
      await onBackend(backend, async () => {
        const n = 50 * 4 - 3;
        const uniforms: [string, 'i32'][] = [['n', 'i32']];
        const program = wgslProgram({
          key: 'ichTestIndex',
          inputs: ['x'],
          uniforms,
          outputShape: [1, n],
          dispatch: elementwiseDispatch(Math.ceil(n / 4), 8),
          workgroupSize: [4, 1, 1],
          code: `fn main() { let i = ${flatWorkgroupIndex(4)}; if (i < uniforms.n) { result[i] = x[i] + f32(i); } }`,
        });
        const x = tf.ones([1, n]);
        const info = runProgram(tf.backend() as unknown as WebGpuBackend, program, [x], uniforms, [n]);
        const y = tf.engine().makeTensorFromTensorInfo(info);
        assert.deepEqual(Array.from(await y.data()), Array.from({ length: n }, (_, i) => 1 + i));
        tf.dispose([x, y]);
      });
    });
  }
});
