import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { gatherWindows, windowsOfData, windowTable } from './im2col';

/** Geometry of a 3D convolution with PyTorch-style explicit padding (same on every axis). */
export interface Conv3dGeometry {
  kernel: number;
  stride: 1 | 2;
  padding: number;
  /** The input is data that needs no gradient (the image in training): single-channel windows are built in JS. */
  constantInput?: boolean;
}

/**
 * 3D convolution without bias, PyTorch semantics (cross-correlation, zero padding), at rank <= 4:
 * the windows are gathered into an im2col matrix [positions, k^3 * Cin] and multiplied by the weight in one matMul;
 * 1 x 1 x 1 kernels are a single matMul. Gradients: matMul's and the gather's (see gatherWindows), which every
 * backend has (wasm lacks Conv2DBackpropFilter and its conv3d input gradient is wrong: neither is used).
 * @param weight [k^3 * Cin, Cout], rows ordered (kd, kh, kw, cin) = TF's [kD, kH, kW, Cin, Cout] flattened.
 */
export function conv3d(a: Act3d, weight: tf.Tensor2D, g: Conv3dGeometry): Act3d {
  const [b, d, h, w, cin] = shape5(a);
  const { kernel: k, stride: s, padding: p } = g;
  const cout = weight.shape[1];
  if (weight.shape[0] !== k * k * k * cin) {
    throw new Error(`conv3d weight expected [${k * k * k * cin}, Cout] for kernel ${k} and ${cin} input channels, got [${weight.shape.join(', ')}]`);
  }
  const x2 = tf.reshape(a.x, [b * d * h * w, cin]) as tf.Tensor2D;
  if (k === 1 && s === 1 && p === 0) {
    return withTensor(a, tf.reshape(tf.matMul(x2, weight), [b * d, h, w, cout]) as tf.Tensor4D);
  }
  const table = windowTable(b, [d, h, w], k, s, p);
  const [od, oh, ow] = table.outDims;
  const cols =
    g.constantInput && cin === 1
      ? windowsOfData(x2.dataSync() as Float32Array, table)
      : (tf.reshape(gatherWindows(x2, table), [table.positions, table.taps * cin]) as tf.Tensor2D);
  const y = tf.matMul(cols, weight);
  return { x: tf.reshape(y, [b * od, oh, ow, cout]) as tf.Tensor4D, batch: b, depth: od };
}
