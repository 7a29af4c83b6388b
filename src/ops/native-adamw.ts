import * as tf from '@tensorflow/tfjs-core';
import { addonWith, nativeKernelReady, registerNativeMemoryKernel } from './native-memory';
import { AdamStepConstants, momentRows } from './webgpu/adamw';

/**
 * One AdamW (or Adam with L2 decay) step per parameter tensor by the native addon (native/ich_dnnl.cc `adamStep`) on
 * the cpu and wasm backends: one pass over the parameter, its gradient and its packed moments, read and written in
 * the tensors' own memory (the wasm heap, the cpu backend's arrays), instead of ~17 TensorFlow.js kernels and their
 * intermediates. Measured on wasm at 32 x 64 x 64, batch 2: the optimizer was ~200 ms of an 825 ms step
 * (bench/NOTES.md). Same arithmetic in the same order as the tfjs formulation (src/train/adamw.ts): the same bits.
 */
export const ADAM_STEP_NATIVE_KERNEL = 'IchAdamStepNative';

/** The addon's constants, in its order. */
function constantValues(c: AdamStepConstants): number[] {
  return [1 - c.lr * c.weightDecay, c.weightDecay, c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.eps, c.stepSize, c.bias2Sqrt];
}

/** Registers the step for the cpu and wasm backends (once); called by backend.ts when the addon is loaded. */
export function registerNativeAdamKernel(): void {
  registerNativeMemoryKernel(ADAM_STEP_NATIVE_KERNEL, ({ param, grad, moments }, attrs, memory) => {
    const lib = addonWith('adamStep', 'native AdamW');
    const c = attrs as AdamStepConstants;
    const n = param.shape.reduce((a, d) => a * d, 1);
    const momentsOut = memory.allocate([momentRows(c.amsgrad), n]);
    const paramOut = memory.allocate(param.shape);
    // Views only after both allocations: an allocation may grow the wasm heap, which detaches earlier views.
    lib.adamStep!(memory.view(param), memory.view(grad), memory.view(moments), memory.view(paramOut), memory.view(momentsOut), constantValues(c), c.amsgrad, c.decoupled);
    return [momentsOut, paramOut];
  });
}

/** Whether {@link adamStepNative} can run now: the addon (with adamStep) in use and the cpu or wasm backend active. */
export function nativeAdamActive(): boolean {
  return nativeKernelReady('adamStep', ADAM_STEP_NATIVE_KERNEL);
}

/**
 * One step for one parameter: the new packed moments ([k, n], k from {@link momentRows}) and the new parameter (its
 * shape); the caller assigns both. The same contract as the WebGPU path's `adamStepGpu`.
 */
export function adamStepNative(param: tf.Tensor, grad: tf.Tensor, moments: tf.Tensor2D, c: AdamStepConstants): { moments: tf.Tensor2D; param: tf.Tensor } {
  const [nextMoments, nextParam] = tf.engine().runKernel(ADAM_STEP_NATIVE_KERNEL, { param, grad, moments }, { ...c } as never) as tf.Tensor[];
  return { moments: nextMoments as tf.Tensor2D, param: nextParam };
}
