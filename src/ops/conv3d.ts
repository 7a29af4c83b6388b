import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { gatherWindows, scatterWindows, windowsOfData, WindowTable, windowTable } from './im2col';
import { matMul } from './matmul';

/** Geometry of a 3D convolution with PyTorch-style explicit padding (same on every axis). */
export interface Conv3dGeometry {
  kernel: number;
  stride: 1 | 2;
  padding: number;
  /** The input is data that needs no gradient (the image in training): single-channel windows are built in JS. */
  constantInput?: boolean;
}

/**
 * im2col(x) W with a gradient that recomputes the im2col matrix instead of keeping it: the matrix is k^3 times the
 * input (27x for the dense layers' 3x3x3 convs), and keeping one per layer for the backward pass is what exhausted
 * wasm's 2 GiB heap on DenseNet-121. Costs one extra gather per convolution in the backward pass.
 */
function windowedMatMul(x: tf.Tensor2D, weight: tf.Tensor2D, table: WindowTable): tf.Tensor2D {
  const cin = x.shape[1];
  const cols = (input: tf.Tensor2D) => tf.reshape(gatherWindows(input, table), [table.positions, table.taps * cin]) as tf.Tensor2D;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, w] = args as [tf.Tensor2D, tf.Tensor2D];
    (args[2] as tf.GradSaveFunc)([input, w]);
    return {
      value: tf.tidy(() => tf.matMul(cols(input), w)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const d = dy as tf.Tensor2D;
        const c = cols(xs);
        const [m, kk] = c.shape;
        const n = ws.shape[1];
        const dw = m * kk <= m * n + kk * n ? tf.matMul(tf.transpose(c), d) : tf.transpose(tf.matMul(tf.transpose(d), c));
        const dcols = tf.reshape(tf.matMul(d, tf.transpose(ws)), [table.positions * table.taps, cin]) as tf.Tensor2D;
        return [scatterWindows(dcols, table), dw];
      },
    };
  });
  return f(x, weight) as tf.Tensor2D;
}

/**
 * 3D convolution without bias, PyTorch semantics (cross-correlation, zero padding), at rank <= 4:
 * the windows are gathered into an im2col matrix [positions, k^3 * Cin] and multiplied by the weight in one matMul
 * (recomputed in the backward pass); 1 x 1 x 1 kernels are a single matMul. Gradients are gathers and untransposed
 * matMuls, which every backend has (wasm lacks Conv2DBackpropFilter and its conv3d input gradient is wrong: neither is used).
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
    return withTensor(a, tf.reshape(matMul(x2, weight), [b * d, h, w, cout]) as tf.Tensor4D);
  }
  const table = windowTable(b, [d, h, w], k, s, p);
  const [od, oh, ow] = table.outDims;
  const y =
    g.constantInput && cin === 1
      ? matMul(windowsOfData(x2.dataSync() as Float32Array, table), weight)
      : windowedMatMul(x2, weight, table);
  return { x: tf.reshape(y, [b * od, oh, ow, cout]) as tf.Tensor4D, batch: b, depth: od };
}
