import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels } from './native-dnnl';
import { memoryOf } from './native-memory';

/** Whether {@link registerNativeAddKernel} has taken the place of tfjs's cpu Add (its closure keeps tfjs's kernel). */
let registered = false;

/**
 * Routes the cpu backend's Add of two float32 tensors of one shape through the addon (`addInto`) while the native
 * kernels are in use; other Adds (broadcasts, other dtypes, no addon, ICH_NATIVE=0) keep tfjs's kernel. Most of a
 * training step's Adds are the tape's gradient accumulation for the DenseNet's feature maps, which feed every later
 * layer of their block: tfjs's kernel (one loop for every dtype and broadcast) took ~0.5 s of a 1.8 s step at
 * 40 x 160 x 160 on 2 cores, wasm's 17 ms (bench/NOTES.md). A float32 sum is correctly rounded either way, so the
 * values are the same to the bit. Registered once per process by backend.ts with an addon that has `addInto`.
 */
export function registerNativeAddKernel(): void {
  if (registered) return;
  const original = tf.getKernel(tf.Add, 'cpu');
  if (!original) throw new Error(`native Add expected tfjs's Add kernel for the cpu backend, got none`);
  registered = true;
  tf.unregisterKernel(tf.Add, 'cpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const lib = nativeKernels();
      const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
      if (!lib?.addInto || a.dtype !== 'float32' || b.dtype !== 'float32' || !sameShape) return original.kernelFunc(args);
      const memory = memoryOf('cpu', args.backend);
      const out = memory.allocate([...a.shape]);
      lib.addInto(memory.view(out), memory.view(a), memory.view(b));
      return out;
    },
  });
}
