import * as tf from '@tensorflow/tfjs-core';
import { Act3d, act3d } from '../ops/act3d';
import { matMul } from '../ops/matmul';
import { updateRunningStats } from '../ops/norm';
import { globalAvgPool3d } from '../ops/pool3d';
import { buildDenseNet3d, DenseNetConfig, ForwardContext, reluInContext, tapInContext } from './densenet3d';
import { ParamStore } from './params';
import { buildPerezCnn } from './perez-cnn';
import { ModelSpec, TASK_OUTPUTS, TaskName } from './tasks';

/** A model of the study: a backbone and one linear head per task, all parameters in one store. */
export interface ImageModel {
  spec: ModelSpec;
  store: ParamStore;
  /** Input [batch, depth, height, width] (single channel) -> logits per task ([batch, outputs]). */
  predict(x: tf.Tensor | Float32Array, shape: [number, number, number, number], ctx: ForwardContext): Record<TaskName, tf.Tensor2D>;
  /** Folds the batch statistics collected in a training forward into the running statistics, and frees them. */
  commitBatchStats(ctx: ForwardContext): void;
  dispose(): void;
}

/**
 * Builds a model from its spec (paper.md, "Models"): DenseNet backbone with per-task heads ReLU -> global average
 * pool -> Linear(features, k) on the final BN output, or the Perez del Barrio CNN with a Linear(128, k) head.
 * Head parameters are named `heads.<task>.weight|bias`.
 * @param seed initial weights (deterministic); null for zeros, where every weight is loaded next.
 */
export function buildImageModel(spec: ModelSpec, seed: number | null, densenet: Partial<DenseNetConfig> = {}): ImageModel {
  const store = new ParamStore(seed);
  let features: (x: Act3d, ctx: ForwardContext) => tf.Tensor2D;
  let channels: number;
  if (spec.backbone === 'densenet') {
    const net = buildDenseNet3d(store, densenet);
    channels = net.featureChannels;
    features = (x, ctx) => {
      const f = tapInContext('features', net.forward(x, ctx), ctx);
      return globalAvgPool3d(reluInContext(f, ctx));
    };
  } else {
    const net = buildPerezCnn(store);
    channels = net.featureChannels;
    features = (x, ctx) => net.forward(x, ctx);
  }
  const heads = spec.tasks.map(({ task }) => ({ task, ...store.linear(`heads.${task}`, channels, TASK_OUTPUTS[task]) }));
  return {
    spec,
    store,
    predict(x, shape, ctx) {
      const [b, d, h, w] = shape;
      const pooled = features(act3d(x, [b, d, h, w, 1]), ctx);
      const out = {} as Record<TaskName, tf.Tensor2D>;
      for (const head of heads) out[head.task] = tf.add(matMul(pooled, head.weight as tf.Tensor as tf.Tensor2D), head.bias) as tf.Tensor2D;
      return out;
    },
    commitBatchStats(ctx) {
      if (!ctx.stats) return;
      for (const [name, stats] of ctx.stats) {
        const mean = store.params.get(`${name}.running_mean`);
        const variance = store.params.get(`${name}.running_var`);
        if (mean && variance) updateRunningStats({ runningMean: mean.variable, runningVar: variance.variable }, stats);
        tf.dispose([stats.mean, stats.varUnbiased]);
      }
      ctx.stats.clear();
    },
    dispose() {
      store.dispose();
    },
  };
}
