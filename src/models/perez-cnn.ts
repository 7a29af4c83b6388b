import * as tf from '@tensorflow/tfjs-core';
import { Act3d, withTensor } from '../ops/act3d';
import { conv3d } from '../ops/conv3d';
import { channelDropout } from '../ops/norm';
import { globalMaxPool3d, maxPool3d } from '../ops/pool3d';
import { batchNormInContext, ForwardContext, reluInContext, tapInContext } from './densenet3d';
import { ParamStore } from './params';

/** The Perez del Barrio CNN baseline as a backbone: its pooled 128 features. */
export interface PerezCnn {
  featureChannels: number;
  /** [B, 128] after the global max pool. */
  forward(x: Act3d, ctx: ForwardContext): tf.Tensor2D;
}

/**
 * Perez del Barrio et al.'s 3D CNN (about 291 k parameters with its Linear(128, 1) head; paper.md "Models"):
 * conv 1->16 k3 (no bias), ReLU, max pool 2; conv 16->32 k3, ReLU, max pool 2, channel dropout 0.5;
 * conv 32->64 k3, ReLU, max pool 2; conv 64->128 k3 (no bias), ReLU, BN, global max pool. Valid convolutions.
 */
export function buildPerezCnn(store: ParamStore, prefix = 'model.'): PerezCnn {
  const w1 = store.conv(`${prefix}conv1.weight`, 3, 1, 16);
  const w2 = store.conv(`${prefix}conv2.weight`, 3, 16, 32);
  const b2 = store.convBias(`${prefix}conv2.bias`, 16 * 27, 32);
  const w3 = store.conv(`${prefix}conv3.weight`, 3, 32, 64);
  const b3 = store.convBias(`${prefix}conv3.bias`, 32 * 27, 64);
  const w4 = store.conv(`${prefix}conv4.weight`, 3, 64, 128);
  const bn = store.batchNorm(`${prefix}bn`, 128);
  const conv = (x: Act3d, w: tf.Variable, b?: tf.Variable, constantInput = false) => {
    const y = conv3d(x, w as tf.Tensor as tf.Tensor2D, { kernel: 3, stride: 1, padding: 0, constantInput });
    return b ? withTensor(y, tf.add(y.x, b) as tf.Tensor4D) : y;
  };
  return {
    featureChannels: 128,
    forward(x, ctx) {
      const relu = (a: Act3d) => reluInContext(a, ctx);
      let h = maxPool3d(relu(conv(x, w1, undefined, !ctx.inputGradient)), 2, 2, 0);
      h = maxPool3d(relu(conv(h, w2, b2)), 2, 2, 0);
      if (ctx.training && ctx.dropoutMask) h = channelDropout(h, 0.5, ctx.dropoutMask(`${prefix}dropout`, h.batch, 32, 0.5));
      h = maxPool3d(relu(conv(h, w3, b3)), 2, 2, 0);
      h = relu(tapInContext('conv4', conv(h, w4), ctx));
      return globalMaxPool3d(batchNormInContext(h, bn, `${prefix}bn`, ctx));
    },
  };
}
