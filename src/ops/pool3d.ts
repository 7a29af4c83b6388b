import * as tf from '@tensorflow/tfjs-core';
import { Act3d, padAxis, selectAxis, shape5, withTensor } from './act3d';
import { outputLength } from './conv3d';

/**
 * 3D max pooling (PyTorch MaxPool3d: padding counts as -infinity), separable: a 1D max along width, height, then depth,
 * each the elementwise maximum of the window's strided selections.
 */
export function maxPool3d(a: Act3d, kernel: number, stride: 1 | 2, padding: number): Act3d {
  let cur = a;
  for (const axis of [2, 1, 0] as const) {
    const n = shape5(cur)[axis + 1];
    const out = outputLength(n, kernel, stride, padding);
    const padded = padAxis(cur, axis, padding, padding, -Infinity);
    let m: tf.Tensor4D | null = null;
    let depth = cur.depth;
    for (let k = 0; k < kernel; k++) {
      const s = selectAxis(padded, axis, k, out, stride);
      m = m ? (tf.maximum(m, s.x) as tf.Tensor4D) : s.x;
      depth = s.depth;
    }
    cur = { x: m!, batch: a.batch, depth };
  }
  return cur;
}

/** 3D average pooling with kernel = stride (PyTorch AvgPool3d(k, k), no padding; a remainder is dropped). */
export function avgPool3d(a: Act3d, kernel: 2): Act3d {
  let cur = a;
  for (const axis of [2, 1, 0] as const) {
    const n = shape5(cur)[axis + 1];
    const out = outputLength(n, kernel, kernel, 0);
    let sum: tf.Tensor4D | null = null;
    let depth = cur.depth;
    for (let k = 0; k < kernel; k++) {
      const s = selectAxis(cur, axis, k, out, kernel);
      sum = sum ? (tf.add(sum, s.x) as tf.Tensor4D) : s.x;
      depth = s.depth;
    }
    cur = { x: tf.mul(sum!, 1 / kernel) as tf.Tensor4D, batch: a.batch, depth };
  }
  return cur;
}

/** Global average pooling over depth, height and width: [B, C]. */
export function globalAvgPool3d(a: Act3d): tf.Tensor2D {
  const [b, d, h, w, c] = shape5(a);
  return tf.mean(tf.reshape(a.x, [b, d * h * w, c]), 1) as tf.Tensor2D;
}

/** Global max pooling over depth, height and width: [B, C]. */
export function globalMaxPool3d(a: Act3d): tf.Tensor2D {
  const [b, d, h, w, c] = shape5(a);
  return tf.max(tf.reshape(a.x, [b, d * h * w, c]), 1) as tf.Tensor2D;
}

/** Concatenates activations along channels (dense connectivity). */
export function concatChannels(parts: Act3d[]): Act3d {
  return withTensor(parts[0], tf.concat(parts.map((p) => p.x), 3) as tf.Tensor4D);
}
