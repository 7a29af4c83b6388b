import * as tf from '@tensorflow/tfjs-core';

/**
 * Saves a customGrad's tensors for its gradient function without copying them: each saved tensor is a second handle on
 * the same memory (a reshape to its own shape, which on the cpu, wasm and webgpu backends only raises the backend's
 * reference count), where tfjs's `save` clones (on wasm a copy inside the heap, so every saved activation twice).
 * The native ops kept `dataSync()` host copies before: 150 MB and 36-60 ms of a 360-470 ms DenseNet-121 step at
 * 32 x 64 x 64, batch 2, on wasm, and V8's major collections for that much external memory (bench/NOTES.md).
 * The gradient function gets them as its `saved` argument, in order; the engine disposes them after the gradients, as
 * it does its clones (also for a node off the gradient's path), and nothing is saved when no gradient tape records.
 * tfjs 4.22's save function makes its list by calling `map` on the array it is given (engine.runKernelFunc): the array
 * passed here makes the handles in its own `map`. A tfjs that made the list another way would clone these tensors as
 * before: more memory and time, the same values.
 */
export function saveInPlace(save: tf.GradSaveFunc, tensors: tf.Tensor[]): void {
  const list = tensors.slice();
  Object.defineProperty(list, 'map', { value: () => tensors.map((t) => tf.keep(tf.reshape(t, t.shape))) });
  save(list);
}

/**
 * A customGrad gradient function that frees its saved tensors once it has run (also when it throws): the engine frees
 * what the nodes saved only after the whole backward pass, so a training step held every saved activation and every
 * gradient at once. Freed as the backward pass goes, the activations of the layers it has passed make room for their
 * gradients: the paper input at batch 1 took 2.45 instead of 3.65 GiB of wasm's 4 GiB heap (bench/NOTES.md). The
 * engine's own disposal of the same tensors afterwards does nothing. Not for gradients of gradients (the saved
 * tensors would be gone), which no op here supports.
 */
export function releasingSaved<T>(gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => T): (dy: tf.Tensor, saved: tf.Tensor[]) => T {
  return (dy, saved) => {
    try {
      return gradFunc(dy, saved);
    } finally {
      tf.dispose(saved);
    }
  };
}
