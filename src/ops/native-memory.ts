import * as tf from '@tensorflow/tfjs-core';
import { NativeDnnl, nativeKernels } from './native-dnnl';

/**
 * A tensor's values in the memory its backend keeps them in (the wasm heap, the cpu backend's arrays), as Float32Array
 * views the native addon reads and writes without copies: what lets a registered kernel hand the addon the tensors
 * themselves instead of `dataSync()` copies and new tensors made from the results.
 */
export interface TensorMemory {
  /** A new float32 tensor of `shape` in the backend's memory. */
  allocate(shape: number[]): tf.TensorInfo;
  /**
   * Its values in place. On wasm an allocation may grow (and so move) the heap, which detaches earlier views: take the
   * views after the last allocation of a kernel.
   */
  view(t: tf.TensorInfo): Float32Array;
}

/** The backends whose tensors live in CPU memory the addon can reach. */
export const NATIVE_MEMORY_BACKENDS = ['cpu', 'wasm'] as const;
export type NativeMemoryBackend = (typeof NATIVE_MEMORY_BACKENDS)[number];

interface WasmBackendMemory {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

interface CpuBackendMemory {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  data: { get(dataId: object): { values?: unknown } | undefined };
}

/** The {@link TensorMemory} of a kernel's backend (the object tfjs hands the kernel function). */
export function memoryOf(backendName: NativeMemoryBackend, backend: unknown): TensorMemory {
  if (backendName === 'wasm') {
    const b = backend as WasmBackendMemory;
    return { allocate: (shape) => b.makeOutput(shape, 'float32'), view: (t) => b.typedArrayFromHeap(t) };
  }
  const b = backend as CpuBackendMemory;
  return {
    allocate: (shape) => b.makeTensorInfo(shape, 'float32', uninitializedFloats(shape.reduce((a, d) => a * d, 1))),
    view: (t) => {
      const values = b.data.get(t.dataId)?.values;
      if (!(values instanceof Float32Array)) throw new Error(`native kernel expected float32 values on the cpu backend, got ${t.dtype} [${t.shape.join(', ')}]`);
      return values;
    },
  };
}

/**
 * A Float32Array of `length` values left as the allocator found them (malloc, not calloc): a native kernel writes every
 * value of its outputs, as it must on wasm, whose heap is never cleared; zeroing first cost the cpu backend ~0.1 s of a
 * 1.4 s step at 40 x 160 x 160 (bench/NOTES.md).
 */
function uninitializedFloats(length: number): Float32Array {
  const bytes = Buffer.allocUnsafeSlow(length * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}

/** Whether the active backend is one whose tensors the addon can reach in place. */
export function nativeMemoryBackendActive(): boolean {
  return (NATIVE_MEMORY_BACKENDS as readonly string[]).includes(tf.getBackend());
}

/**
 * Registers a kernel for the cpu and wasm backends (once per backend): `run` gets the inputs, the attributes and the
 * backend's {@link TensorMemory}.
 */
export function registerNativeMemoryKernel(
  kernelName: string,
  run: (inputs: Record<string, tf.TensorInfo>, attrs: unknown, memory: TensorMemory) => tf.TensorInfo | tf.TensorInfo[],
): void {
  for (const backendName of NATIVE_MEMORY_BACKENDS) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => run(inputs as Record<string, tf.TensorInfo>, attrs, memoryOf(backendName, backend)),
    });
  }
}

/** The addon in use, which must have `fn` (`what` names the op for the error: a build from before `fn` existed). */
export function addonWith(fn: keyof NativeDnnl, what: string): NativeDnnl {
  const lib = nativeKernels();
  if (typeof lib?.[fn] !== 'function') throw new Error(`${what} expected the addon with ${fn} loaded, got ${lib ? 'an older build (run scripts/build-native.sh)' : 'none'}`);
  return lib;
}

/** Whether a kernel of {@link registerNativeMemoryKernel} can run now: the addon in use has `fn`, the backend is cpu or wasm. */
export function nativeKernelReady(fn: keyof NativeDnnl, kernelName: string): boolean {
  return typeof nativeKernels()?.[fn] === 'function' && nativeMemoryBackendActive() && !!tf.getKernel(kernelName, tf.getBackend());
}

/**
 * A tensor's values for one native call, without a copy where the backend allows it: on wasm a view of the heap
 * (`dataSync()` there copies, at ~2 GB/s: ~40 ms per 85 MB measured, which is what a training step's gradients weigh
 * at 32 x 64 x 64, batch 2), on cpu the backend's own array (which `dataSync()` returns as it is), else a copy.
 * The view is valid only until the backend next allocates (a wasm allocation may grow and so move the heap): pass it
 * straight to the addon and never keep it; tensors a backward pass reads are saved with `saveInPlace` (saved-tensors.ts).
 */
export function valuesInPlace(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`native kernel expected a float32 tensor, got ${t.dtype} [${t.shape.join(', ')}]`);
  if (tf.getBackend() === 'wasm') return memoryOf('wasm', tf.backend()).view(t);
  return t.dataSync() as Float32Array;
}

/**
 * An addon result in `view` (a {@link valuesInPlace} view passed to it as its output): an addon built before output
 * arguments existed returns a new array instead, copied in here. Returns the view.
 */
export function writtenInto(view: Float32Array, result: Float32Array): Float32Array {
  if (result !== view) view.set(result);
  return view;
}

/** Kernel name of {@link emptyTensor}'s allocation (cpu and wasm). */
export const NATIVE_EMPTY_KERNEL = 'IchNativeEmpty';

/** Registers the allocation kernel for the cpu and wasm backends (once); called by backend.ts with the addon. */
export function registerNativeEmptyKernel(): void {
  registerNativeMemoryKernel(NATIVE_EMPTY_KERNEL, (_, attrs, memory) => memory.allocate((attrs as { shape: number[] }).shape));
}

/**
 * A new float32 tensor of `shape` for the addon to write its result into ({@link valuesInPlace} of it, taken after the
 * last allocation), instead of a new array copied into a tensor afterwards: its values are whatever the memory held
 * (the wasm heap's, or malloc's on cpu): every value must be written before anyone reads it.
 */
export function emptyTensor(shape: number[]): tf.Tensor {
  return tf.engine().runKernel(NATIVE_EMPTY_KERNEL, {}, { shape } as never) as tf.Tensor;
}
