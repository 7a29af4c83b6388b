import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { loadNativeDnnl } from '../../src/ops/native-dnnl';

const native = loadNativeDnnl();
/** Why the native-kernel variants are not tested, or null when they are. */
export const NATIVE_SKIP_REASON: string | null = native.ok ? null : native.reason;

/**
 * Backends every op, model and training test runs on: the TypeScript ops on cpu and wasm, the oneDNN addon's kernels
 * under wasm (`wasm+onednn`) when it is built, and webgpu when ICH_TEST_WEBGPU=1 and an adapter exists.
 */
export const TEST_BACKENDS: string[] = ['cpu', 'wasm', ...(native.ok ? ['wasm+onednn'] : []), ...(process.env.ICH_TEST_WEBGPU === '1' ? ['webgpu'] : [])];

/**
 * Runs `fn` with `backend` active ("name" or "name+onednn" for the native kernels, with `threads` OpenMP threads),
 * restoring the previous one.
 */
export async function onBackend<T>(backend: string, fn: () => T | Promise<T>, threads = 2): Promise<T> {
  const before = tf.getBackend();
  const [name, kernels] = backend.split('+');
  await initBackend(name, { native: kernels === 'onednn', threads });
  try {
    return await fn();
  } finally {
    // Later tests that set a backend themselves get the default choice again.
    await initBackend(before ?? name);
  }
}

/** Deterministic pseudo-random values in [-1, 1). */
export function values(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  });
}

/** Largest |a - b| / max(1, |b|) over two arrays. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length expected ${b.length}, got ${a.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}
