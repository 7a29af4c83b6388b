import * as tf from '@tensorflow/tfjs-core';
import { releasingSaved, saveInPlace } from './saved-tensors';

/**
 * C = A B for [m, k] x [k, n], with gradients that never ask the backend for a transposed multiply: wasm's
 * XNNPACK path handles only untransposed operands (measured: 26 GFLOP/s untransposed, 1.8-2.2 transposed), so each
 * gradient transposes explicitly the cheaper side and multiplies untransposed.
 *   dA = dC B^T  (B is usually a small weight: transpose it)
 *   dB = A^T dC  (either transpose A, or compute (dC^T A)^T when dC and the result are smaller than A)
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w] = args as [tf.Tensor2D, tf.Tensor2D];
    saveInPlace(args[2] as tf.GradSaveFunc, [x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
          const d = dy as tf.Tensor2D;
          const [m, k] = xs.shape;
          const n = ws.shape[1];
          const dx = tf.matMul(d, tf.transpose(ws));
          const dw = m * k <= m * n + k * n ? tf.matMul(tf.transpose(xs), d) : tf.transpose(tf.matMul(tf.transpose(d), xs));
          return [dx, dw];
        })),
    };
  });
  return f(a, b) as tf.Tensor2D;
}
