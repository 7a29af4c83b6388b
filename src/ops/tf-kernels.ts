import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5 } from './act3d';

/**
 * The backend's own rank-5 3D kernels (tf.conv3d, tf.maxPool3d, tf.avgPool3d and their registered gradients), used
 * with the `tensorflow` backend (tfjs-node / tfjs-node-gpu: TensorFlow's C library, cuDNN on a GPU), where they are
 * native and correct. Not with wasm (its conv3d input gradient is wrong: DESIGN.md) nor webgpu (rank-5 programs do
 * not compile); the tests check this formulation on the cpu backend, whose kernels are correct.
 */
let active = false;

/** Switches the formulation on or off (backend.ts only). Returns a description for the backend report. */
export function useTfKernels(on: boolean): string | null {
  active = on;
  return on ? "the backend's rank-5 conv3d and pooling kernels" : null;
}

/** Whether the ops use the backend's rank-5 kernels now. */
export function tfKernelsActive(): boolean {
  return active;
}

function toRank5(a: Act3d): tf.Tensor5D {
  return tf.reshape(a.x, shape5(a)) as tf.Tensor5D;
}

function fromRank5(y: tf.Tensor5D): Act3d {
  const [b, d, h, w, c] = y.shape;
  return { x: tf.reshape(y, [b * d, h, w, c]) as tf.Tensor4D, batch: b, depth: d };
}

function pad5(x: tf.Tensor5D, p: number, value = 0): tf.Tensor5D {
  return p === 0 ? x : tf.pad(x, [[0, 0], [p, p], [p, p], [p, p], [0, 0]], value);
}

/** Convolution without bias, PyTorch padding (zeros, same on every axis): weight [k^3 Cin, Cout] = [kD, kH, kW, Cin, Cout]. */
export function conv3dTf(a: Act3d, weight: tf.Tensor2D, kernel: number, stride: number, padding: number): Act3d {
  const cin = a.x.shape[3];
  const w5 = tf.reshape(weight, [kernel, kernel, kernel, cin, weight.shape[1]]) as tf.Tensor5D;
  return fromRank5(tf.conv3d(pad5(toRank5(a), padding), w5, stride as never, 'valid'));
}

/** Max pooling with -infinity padding (PyTorch MaxPool3d). */
export function maxPool3dTf(a: Act3d, kernel: number, stride: number, padding: number): Act3d {
  return fromRank5(tf.maxPool3d(pad5(toRank5(a), padding, -Infinity), kernel, stride, 'valid'));
}

/** Average pooling with kernel = stride, no padding (a remainder is dropped). */
export function avgPool3dTf(a: Act3d, kernel: number): Act3d {
  return fromRank5(tf.avgPool3d(toRank5(a), kernel, kernel, 'valid'));
}
