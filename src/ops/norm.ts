import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { NativeDnnl, nativeKernels } from './native-dnnl';
import { emptyTensor, valuesInPlace, writtenInto } from './native-memory';
import { releasingSaved, saveInPlace } from './saved-tensors';
import { batchNormEvalGpu, batchNormTrainingGpu, runningStatUpdateGpu } from './webgpu/batchnorm';
import { webGpuKernelsActive } from './webgpu/kernels';

/** Running statistics and affine parameters of one batch norm (PyTorch BatchNorm3d). */
export interface BatchNormParams {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  runningMean: tf.Tensor1D;
  runningVar: tf.Tensor1D;
}

/** Batch statistics computed in training mode (kept with tf.keep), for the caller to fold into the running ones and dispose. */
export interface BatchStats {
  mean: tf.Tensor1D;
  /** Unbiased (n - 1) variance, as PyTorch uses for the running variance. */
  varUnbiased: tf.Tensor1D;
}

/** PyTorch's correction from the biased batch variance over n values to the unbiased one kept as running variance. */
function unbiasedFactor(n: number): number {
  return n > 1 ? n / (n - 1) : 1;
}

/**
 * Batch normalisation over batch, depth, height and width per channel, as [voxels, C]. Training: normalise with the
 * batch mean and biased variance and return the statistics; eval: use the running ones. eps 1e-5 by default.
 */
export function batchNorm3d(a: Act3d, p: BatchNormParams, training: boolean, eps = 1e-5): { y: Act3d; stats: BatchStats | null } {
  const [b, d, h, w, c] = shape5(a);
  const flat = tf.reshape(a.x, [b * d * h * w, c]);
  let y: tf.Tensor;
  let stats: BatchStats | null = null;
  if (training) {
    const n = b * d * h * w;
    const { mean, variance } = tf.moments(flat, 0);
    y = tf.add(tf.mul(tf.div(tf.sub(flat, mean), tf.sqrt(tf.add(variance, eps))), p.gamma), p.beta);
    // Kept past the caller's tidy/gradient scope; the caller folds them into the running statistics and disposes them.
    stats = { mean: tf.keep(mean) as tf.Tensor1D, varUnbiased: tf.keep(tf.mul(variance, unbiasedFactor(n))) as tf.Tensor1D };
  } else {
    const scale = tf.div(p.gamma, tf.sqrt(tf.add(p.runningVar, eps)));
    y = tf.add(tf.mul(tf.sub(flat, p.runningMean), scale), p.beta);
  }
  return { y: withTensor(a, tf.reshape(y, [b * d, h, w, c]) as tf.Tensor4D), stats };
}

/**
 * Batch normalisation followed by a ReLU when `relu` (the DenseNet's BN-ReLU pairs), same contract as
 * {@link batchNorm3d}. Fused with the native addon (cpu, wasm) and with the WGSL kernels (webgpu: 3 dispatches forward
 * and 3 backward in training, 1 forward in eval); otherwise the two ops in sequence.
 */
export function batchNormRelu3d(a: Act3d, p: BatchNormParams, training: boolean, relu: boolean, eps = 1e-5): { y: Act3d; stats: BatchStats | null } {
  const lib = nativeKernels();
  if (lib) return nativeBatchNorm(a, p, training, relu, eps, lib);
  if (!webGpuKernelsActive()) {
    const r = batchNorm3d(a, p, training, eps);
    return relu ? { y: relu3d(r.y), stats: r.stats } : r;
  }
  if (!training) return { y: withTensor(a, batchNormEvalGpu(a.x, p.gamma, p.beta, p.runningMean, p.runningVar, relu, eps) as tf.Tensor4D), stats: null };
  const [b, d, h, w] = shape5(a);
  const n = b * d * h * w;
  const { y, stats } = batchNormTrainingGpu(a.x, p.gamma, p.beta, relu, eps);
  const [mean, variance] = tf.unstack(stats) as tf.Tensor1D[];
  const varUnbiased = tf.mul(variance, unbiasedFactor(n)) as tf.Tensor1D;
  tf.dispose([stats, variance]);
  return { y: withTensor(a, y as tf.Tensor4D), stats: { mean: tf.keep(mean), varUnbiased: tf.keep(varUnbiased) } };
}

/**
 * Batch norm (+ ReLU) by the native addon on the tensors' CPU memory (cpu and wasm with the addon built): one pass for
 * the statistics and one for the output, two for the gradients, instead of ~12 and ~25 small tfjs kernels.
 */
function nativeBatchNorm(a: Act3d, p: BatchNormParams, training: boolean, relu: boolean, eps: number, lib: NativeDnnl): { y: Act3d; stats: BatchStats | null } {
  const [b, d, h, w] = shape5(a);
  const n = b * d * h * w;
  let used: Float32Array | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, gamma, beta] = args as tf.Tensor[];
    const given = training ? null : runningStatsArray(p);
    // The output is written into the new tensor's own memory and the operands read in place, every view taken after
    // the allocation (an allocation may move the wasm heap); an addon built before that returns a new array, copied in.
    const y = emptyTensor(input.shape);
    saveInPlace(args[3] as tf.GradSaveFunc, [input, gamma, beta]);
    const yView = valuesInPlace(y);
    const [yValues, stats] = lib.batchNormForward(valuesInPlace(input), valuesInPlace(gamma), valuesInPlace(beta), eps, relu, given, yView);
    writtenInto(yView, yValues);
    used = stats;
    return {
      value: y,
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs] = saved;
        const dx = emptyTensor(input.shape);
        const dxView = valuesInPlace(dx);
        const [dxValues, dgamma, dbeta] = lib.batchNormBackward(valuesInPlace(dy), valuesInPlace(xs), valuesInPlace(gs), valuesInPlace(bs), eps, relu, stats, training, dxView);
        writtenInto(dxView, dxValues);
        return [dx, tf.tensor1d(dgamma), tf.tensor1d(dbeta)];
      }),
    };
  });
  const y = f(a.x, p.gamma, p.beta) as tf.Tensor4D;
  return { y: withTensor(a, y), stats: training ? nativeBatchStats(used as unknown as Float32Array, n) : null };
}

/** The running statistics as the addon takes them in eval mode: [mean; variance], 2C floats. */
export function runningStatsArray(p: BatchNormParams): Float32Array {
  return Float32Array.from([...p.runningMean.dataSync(), ...p.runningVar.dataSync()]);
}

/**
 * The batch statistics the addon's batchNormForward returned ([mean; biased variance], 2C floats over n values) as
 * kept tensors, the variance made unbiased for the running statistics.
 */
export function nativeBatchStats(stats: Float32Array, n: number): BatchStats {
  const c = stats.length / 2;
  const mean = tf.keep(tf.tensor1d(stats.subarray(0, c)));
  const varUnbiased = tf.keep(tf.tensor1d(stats.subarray(c).map((v) => v * unbiasedFactor(n))));
  return { mean, varUnbiased };
}

/** PyTorch's running-statistics update: running = (1 - momentum) * running + momentum * batch (momentum 0.1). */
export function updateRunningStats(p: { runningMean: tf.Variable; runningVar: tf.Variable }, stats: BatchStats, momentum = 0.1): void {
  if (webGpuKernelsActive()) {
    tf.tidy(() => {
      p.runningMean.assign(runningStatUpdateGpu(p.runningMean as tf.Tensor as tf.Tensor1D, stats.mean, momentum));
      p.runningVar.assign(runningStatUpdateGpu(p.runningVar as tf.Tensor as tf.Tensor1D, stats.varUnbiased, momentum));
    });
    return;
  }
  tf.tidy(() => {
    p.runningMean.assign(tf.add(tf.mul(p.runningMean, 1 - momentum), tf.mul(stats.mean, momentum)));
    p.runningVar.assign(tf.add(tf.mul(p.runningVar, 1 - momentum), tf.mul(stats.varUnbiased, momentum)));
  });
}

/** ReLU on an activation. */
export function relu3d(a: Act3d): Act3d {
  return withTensor(a, tf.relu(a.x) as tf.Tensor4D);
}

/**
 * ReLU whose gradient passes only where both its input and the incoming gradient are positive (guided
 * backpropagation, Springenberg et al. 2015); the forward value is the plain ReLU. Any rank.
 */
export function guidedRelu<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    saveInPlace(args[1] as tf.GradSaveFunc, [input]);
    return {
      value: tf.relu(input),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.mul(dy, tf.mul(tf.step(saved[0]), tf.step(dy))))),
    };
  });
  return f(x) as T;
}

/**
 * Channel dropout (PyTorch Dropout3d): in training, each (sample, channel) map is zeroed with probability `rate` and
 * the rest scaled by 1 / (1 - rate). `mask` ([B, C] of 0/1) is drawn by the caller from a seeded generator, so runs
 * are reproducible on every backend.
 */
export function channelDropout(a: Act3d, rate: number, mask: tf.Tensor2D | null): Act3d {
  if (!mask || rate <= 0) return a;
  const [b, d, h, w, c] = shape5(a);
  const v = tf.reshape(a.x, [b, d * h * w, c]);
  const m = tf.mul(tf.reshape(mask, [b, 1, c]), 1 / (1 - rate));
  return withTensor(a, tf.reshape(tf.mul(v, m), [b * d, h, w, c]) as tf.Tensor4D);
}
