import * as tf from '@tensorflow/tfjs-core';
import { addonWith, nativeKernelReady, registerNativeMemoryKernel } from './native-memory';

/**
 * Channels-last concatenation of two activations (DenseNet's dense connectivity: every layer's input is all earlier
 * features) and its gradient, the split back, by the native addon on the cpu and wasm backends, in the tensors' own
 * memory. tfjs's wasm Concat copies row by row in JS (26 ms for the 58 concatenations of a 32 x 64 x 64, batch 2
 * training step, ~1 GB/s) and its gradient is a SplitV of the same cost (bench/NOTES.md).
 */
export const CONCAT_CHANNELS_KERNEL = 'IchConcatChannels';
export const SPLIT_CHANNELS_KERNEL = 'IchSplitChannels';

/** Registers both kernels for the cpu and wasm backends (once); called by backend.ts when the addon is loaded. */
export function registerNativeConcatKernels(): void {
  registerNativeMemoryKernel(CONCAT_CHANNELS_KERNEL, ({ a, b }, _, memory) => {
    const lib = addonWith('concatChannels', 'native concatenation');
    const [ca, cb] = [a.shape[a.shape.length - 1], b.shape[b.shape.length - 1]];
    const out = memory.allocate([...a.shape.slice(0, -1), ca + cb]);
    lib.concatChannels!(memory.view(out), memory.view(a), memory.view(b), ca, cb);
    return out;
  });
  registerNativeMemoryKernel(SPLIT_CHANNELS_KERNEL, ({ x }, attrs, memory) => {
    const lib = addonWith('splitChannels', 'native concatenation');
    const { channels } = attrs as { channels: [number, number] };
    const rest = x.shape.slice(0, -1);
    const a = memory.allocate([...rest, channels[0]]);
    const b = memory.allocate([...rest, channels[1]]);
    lib.splitChannels!(memory.view(x), memory.view(a), memory.view(b), channels[0], channels[1]);
    return [a, b];
  });
}

/** Whether {@link concatChannelsNative} can run now: the addon (with concatChannels) in use on the cpu or wasm backend. */
export function nativeConcatActive(): boolean {
  return nativeKernelReady('concatChannels', CONCAT_CHANNELS_KERNEL);
}

/**
 * [..., Ca] and [..., Cb] (the same leading sizes) -> [..., Ca + Cb], with the gradient split back the same way.
 * Exact copies, so the same values as tf.concat on the last axis.
 */
export function concatChannelsNative<T extends tf.Tensor>(a: T, b: T): T {
  const ca = a.shape[a.rank - 1];
  const cb = b.shape[b.rank - 1];
  if (a.rank !== b.rank || a.shape.slice(0, -1).some((d, i) => d !== b.shape[i])) {
    throw new Error(`concatChannels expected the same leading sizes, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as tf.Tensor[];
    return {
      value: tf.engine().runKernel(CONCAT_CHANNELS_KERNEL, { a: x, b: y }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(SPLIT_CHANNELS_KERNEL, { x: dy }, { channels: [ca, cb] } as never) as tf.Tensor[],
    };
  });
  return f(a, b) as T;
}
