import * as tf from '@tensorflow/tfjs-core';

/**
 * A batch of 3D feature maps kept at rank 4 (WebGPU cannot compile most rank-5 programs, and matMul/conv2d are the
 * fast kernels everywhere): `x` is [batch * depth, height, width, channels], depth-major within each sample.
 */
export interface Act3d {
  x: tf.Tensor4D;
  batch: number;
  depth: number;
  /** The values in host memory when the activation is the network's input given as an array (never after an op). */
  host?: Float32Array;
}

/** Wraps a channels-last batch [B, D, H, W, C] given as a flat tensor or array into an {@link Act3d}. */
export function act3d(data: tf.Tensor | Float32Array, shape: [number, number, number, number, number]): Act3d {
  const [b, d, h, w, c] = shape;
  if (data instanceof Float32Array) return { x: tf.tensor4d(data, [b * d, h, w, c]), batch: b, depth: d, host: data };
  return { x: tf.reshape(data, [b * d, h, w, c]) as tf.Tensor4D, batch: b, depth: d };
}

/** [B, D, H, W, C] of an activation. */
export function shape5(a: Act3d): [number, number, number, number, number] {
  const [, h, w, c] = a.x.shape;
  return [a.batch, a.depth, h, w, c];
}

/** Same batch and depth, new tensor. */
export function withTensor(a: Act3d, x: tf.Tensor4D, depth = a.depth): Act3d {
  return { x, batch: a.batch, depth };
}
