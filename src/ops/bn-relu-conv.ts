import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { conv3d, nativeConvInto } from './conv3d';
import { nativeKernels } from './native-dnnl';
import { emptyTensor, valuesInPlace, writtenInto } from './native-memory';
import { BatchNormParams, BatchStats, batchNormRelu3d, nativeBatchStats, runningStatsArray } from './norm';
import { releasingSaved, saveInPlace } from './saved-tensors';

/**
 * The size from which normalised inputs are recomputed for the gradient instead of kept, from ICH_RECOMPUTE_MIN_MB
 * (MiB; 0: every one); unset, none (training's fold plan may still choose a size where memory is short:
 * train/memory.ts), since recomputing costs time and saves memory only where tensors are large. Measured at
 * the paper input with 16 (block 1's inputs, 15-50 MB per volume each): the cpu backend's peak at batch 8 16.7 ->
 * 13.6 GiB (18.4 -> 15.4 GiB when it keeps freed memory, src/backend.ts) and wasm's heap at batch 1 2.45 -> 2.27 GiB,
 * for 0-10% more time per step (bench/NOTES.md).
 */
export function recomputeMinBytes(): number {
  const text = process.env.ICH_RECOMPUTE_MIN_MB;
  if (text === undefined || text.trim() === '') return Infinity;
  const mb = Number(text);
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`ICH_RECOMPUTE_MIN_MB expected a size in MiB >= 0, got "${text}"`);
  return mb * 2 ** 20;
}

/**
 * Batch norm + ReLU followed by a 1 x 1 x 1 convolution without bias (DenseNet's norm1-relu1-conv1 in every dense
 * layer, and each transition's norm-relu-conv), with the batch norm's output recomputed in the backward pass instead
 * of kept (the memory-efficient DenseNet of Pleiss et al. 2017): that output is as large as the layer's concatenated
 * input, about a quarter of what a DenseNet-121 step keeps for its gradients. On the native path (the addon on cpu or
 * wasm) one op making the same native calls as the two ops in sequence, so the same values to the bit, plus one batch
 * norm forward pass per layer in the backward pass; below `minBytes` ({@link recomputeMinBytes}: by default always)
 * and elsewhere the two ops. Same contract as {@link batchNormRelu3d} for the statistics; weight [Cin, Cout]; output
 * [B*D, H, W, Cout].
 */
export function batchNormReluConv1x1(
  a: Act3d,
  p: BatchNormParams,
  weight: tf.Tensor2D,
  training: boolean,
  eps = 1e-5,
  minBytes = recomputeMinBytes(),
): { y: Act3d; stats: BatchStats | null } {
  const [b, d, h, w, cin] = shape5(a);
  if (weight.shape[0] !== cin) throw new Error(`batchNormReluConv1x1 weight expected [${cin}, Cout], got [${weight.shape.join(', ')}]`);
  const lib = nativeKernels();
  if (!lib || a.x.size * 4 < minBytes) {
    const r = batchNormRelu3d(a, p, training, true, eps);
    return { y: conv3d(r.y, weight, { kernel: 1, stride: 1, padding: 0 }), stats: r.stats };
  }
  const cout = weight.shape[1];
  const geometry = [b, d, h, w, cin, cout, 1, 1, 0];
  const given = training ? null : runningStatsArray(p);
  let used: Float32Array | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, gamma, beta, wt] = args as tf.Tensor[];
    const normed = emptyTensor(input.shape);
    const y = emptyTensor([b * d, h, w, cout]);
    saveInPlace(args[4] as tf.GradSaveFunc, [input, gamma, beta, wt]);
    // Views after the last allocation (an allocation may move the wasm heap).
    const normedView = valuesInPlace(normed);
    const [normedValues, stats] = lib.batchNormForward(valuesInPlace(input), valuesInPlace(gamma), valuesInPlace(beta), eps, true, given, normedView);
    writtenInto(normedView, normedValues);
    nativeConvInto(lib, geometry, y, 'forward', normed, wt);
    normed.dispose();
    used = stats;
    return {
      value: y,
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs, ws] = saved;
        const again = emptyTensor(xs.shape);
        const dNormed = emptyTensor(xs.shape);
        const dw = emptyTensor(ws.shape);
        const dx = emptyTensor(xs.shape);
        const [x, g, bt] = [valuesInPlace(xs), valuesInPlace(gs), valuesInPlace(bs)];
        // The batch norm's output again from the statistics this batch gave (the addon derives its scale and shift
        // from the float statistics in both cases: the same bits as the forward pass).
        const againView = valuesInPlace(again);
        writtenInto(againView, lib.batchNormForward(x, g, bt, eps, true, stats, againView)[0]);
        nativeConvInto(lib, geometry, dNormed, 'backwardData', dy, ws);
        nativeConvInto(lib, geometry, dw, 'backwardWeights', again, dy);
        const dxView = valuesInPlace(dx);
        const [dxValues, dgamma, dbeta] = lib.batchNormBackward(valuesInPlace(dNormed), x, g, bt, eps, true, stats, training, dxView);
        writtenInto(dxView, dxValues);
        tf.dispose([again, dNormed]);
        return [dx, tf.tensor1d(dgamma), tf.tensor1d(dbeta), dw];
      }),
    };
  });
  const y = f(a.x, p.gamma, p.beta, weight) as tf.Tensor4D;
  return { y: withTensor(a, y), stats: training ? nativeBatchStats(used as unknown as Float32Array, b * d * h * w) : null };
}
