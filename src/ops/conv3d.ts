import * as tf from '@tensorflow/tfjs-core';
import { Act3d, padAxis, selectAxis, shape5, withTensor } from './act3d';

/** Geometry of a 3D convolution with PyTorch-style explicit padding (same on every axis). */
export interface Conv3dGeometry {
  kernel: number;
  stride: 1 | 2;
  padding: number;
}

/** Output length of a convolution or pooling window along one axis (PyTorch's floor rule). */
export function outputLength(n: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((n + 2 * padding - kernel) / stride) + 1;
}

/**
 * 3D convolution without bias, PyTorch semantics (cross-correlation, zero padding), at rank <= 4:
 * k x k x k kernels run as one matMul per depth offset on an in-plane im2col of the depth-shifted input;
 * 1 x 1 x 1 kernels are a single matMul. Gradients come from autodiff of slice/pad/reshape/concat/matMul, which
 * every backend has (wasm lacks Conv2DBackpropFilter and its conv3d input gradient is wrong: neither is used).
 * @param weight [k^3 * Cin, Cout], rows ordered (kd, kh, kw, cin) = TF's [kD, kH, kW, Cin, Cout] flattened.
 */
export function conv3d(a: Act3d, weight: tf.Tensor2D, g: Conv3dGeometry): Act3d {
  const [b, d, h, w, cin] = shape5(a);
  const { kernel: k, stride: s, padding: p } = g;
  const cout = weight.shape[1];
  if (weight.shape[0] !== k * k * k * cin) {
    throw new Error(`conv3d weight expected [${k * k * k * cin}, Cout] for kernel ${k} and ${cin} input channels, got [${weight.shape.join(', ')}]`);
  }
  const [od, oh, ow] = [outputLength(d, k, s, p), outputLength(h, k, s, p), outputLength(w, k, s, p)];
  if (k === 1 && s === 1 && p === 0) {
    const y = tf.matMul(tf.reshape(a.x, [b * d * h * w, cin]), weight);
    return withTensor(a, tf.reshape(y, [b * d, h, w, cout]) as tf.Tensor4D);
  }
  const padded = padAxis(padAxis(padAxis(a, 0, p, p), 1, p, p), 2, p, p);
  const rows = b * od * oh * ow;
  let out: tf.Tensor | null = null;
  for (let kd = 0; kd < k; kd++) {
    const slab = selectAxis(padded, 0, kd, od, s);
    const pieces: tf.Tensor4D[] = [];
    for (let kh = 0; kh < k; kh++) {
      const row = selectAxis(slab, 1, kh, oh, s);
      for (let kw = 0; kw < k; kw++) pieces.push(selectAxis(row, 2, kw, ow, s).x);
    }
    const cols = tf.reshape(pieces.length === 1 ? pieces[0] : tf.concat(pieces, 3), [rows, k * k * cin]);
    const wk = tf.slice(weight, [kd * k * k * cin, 0], [k * k * cin, cout]) as tf.Tensor2D;
    const part: tf.Tensor2D = tf.matMul(cols as tf.Tensor2D, wk);
    out = out ? tf.add(out, part) : part;
  }
  return { x: tf.reshape(out!, [b * od, oh, ow, cout]) as tf.Tensor4D, batch: b, depth: od };
}
