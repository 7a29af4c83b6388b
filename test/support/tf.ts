import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';

/** Backends every op test runs on (webgpu joins when ICH_TEST_WEBGPU=1 and an adapter exists). */
export const TEST_BACKENDS: string[] = ['cpu', 'wasm', ...(process.env.ICH_TEST_WEBGPU === '1' ? ['webgpu'] : [])];

/** Runs `fn` with `backend` active, restoring the previous one afterwards. */
export async function onBackend<T>(backend: string, fn: () => T | Promise<T>): Promise<T> {
  const before = tf.getBackend();
  await initBackend(backend);
  try {
    return await fn();
  } finally {
    if (before) await tf.setBackend(before);
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
