import * as tf from '@tensorflow/tfjs-core';
import { TaskName } from '../models/tasks';

/**
 * Binary cross-entropy with logits, averaged over every element (PyTorch `BCEWithLogitsLoss`, reduction mean),
 * in the stable form max(z, 0) - z * y + log(1 + exp(-|z|)); `positiveWeight` scales the positive term as
 * PyTorch's pos_weight does.
 * @param logits [batch, k]; @param targets [batch, k] of 0/1.
 */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor, positiveWeight?: number): tf.Scalar {
  return tf.tidy(() => {
    if (positiveWeight === undefined || positiveWeight === 1) {
      return tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))) as tf.Scalar;
    }
    // PyTorch: (1 - y) * z + (1 + (pw - 1) * y) * (log(1 + exp(-|z|)) + max(-z, 0))
    const logWeight = tf.add(1, tf.mul(positiveWeight - 1, targets));
    const softplusNeg = tf.add(tf.log1p(tf.exp(tf.neg(tf.abs(logits)))), tf.relu(tf.neg(logits)));
    return tf.mean(tf.add(tf.mul(tf.sub(1, targets), logits), tf.mul(logWeight, softplusNeg))) as tf.Scalar;
  });
}

/** Per-head settings of the multi-task loss: weight (plain data, e.g. 0.4 / 0.3 / 0.3) and optional pos_weight. */
export interface HeadLoss {
  task: TaskName;
  weight: number;
  positiveWeight?: number;
}

/**
 * The multi-task loss: sum over heads of weight x BCE-with-logits (the ordinal GCS head averages its two bits).
 * Returns the total and each head's unweighted loss.
 */
export function multiTaskLoss(
  logits: Partial<Record<TaskName, tf.Tensor>>,
  targets: Partial<Record<TaskName, tf.Tensor>>,
  heads: readonly HeadLoss[],
): { total: tf.Scalar; perHead: Partial<Record<TaskName, tf.Scalar>> } {
  const perHead: Partial<Record<TaskName, tf.Scalar>> = {};
  let total: tf.Scalar = tf.scalar(0);
  for (const h of heads) {
    const z = logits[h.task];
    const y = targets[h.task];
    if (!z || !y) throw new Error(`multi-task loss expected logits and targets for head "${h.task}", got ${z ? 'no targets' : 'no logits'}`);
    const l = bceWithLogits(z, y, h.positiveWeight);
    perHead[h.task] = l;
    total = tf.add(total, tf.mul(l, h.weight)) as tf.Scalar;
  }
  return { total, perHead };
}
