import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { initBackend } from '../../src/backend';
import { loadNativeDnnl } from '../../src/ops/native-dnnl';

const native = loadNativeDnnl();
/** Why the native-kernel variants are not tested, or null when they are. */
export const NATIVE_SKIP_REASON: string | null = native.ok ? null : native.reason;

/**
 * Whether a WebGPU adapter exists here (a GPU, or software Vulkan: Mesa's lavapipe from bookworm-backports, which
 * scripts/setup-webgpu.sh installs), probed once in a child process so a crashing driver cannot take the tests down.
 * ICH_TEST_WEBGPU=0 skips the probe.
 */
function probeWebgpu(): { ok: boolean; reason: string } {
  if (process.env.ICH_TEST_WEBGPU === '0') return { ok: false, reason: 'ICH_TEST_WEBGPU=0' };
  const script =
    "const {create}=require('webgpu');create([]).requestAdapter().then(a=>{console.log(JSON.stringify(a?{ok:true,reason:(a.info&&a.info.description)||'adapter'}:{ok:false,reason:'no WebGPU adapter (no GPU and no software Vulkan: run scripts/setup-webgpu.sh)'}));process.exit(0)},e=>{console.log(JSON.stringify({ok:false,reason:String(e)}));process.exit(0)})";
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, reason: `the webgpu package did not load (${(r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}`})` };
  }
}

/** WebGPU availability for the tests, with the adapter or the reason it is skipped. */
export const WEBGPU = probeWebgpu();
if (!WEBGPU.ok) process.stderr.write(`webgpu tests skipped: ${WEBGPU.reason}\n`);

/**
 * Backends every op, model and training test runs on: the TypeScript ops on cpu and wasm, the backend's own rank-5
 * conv3d and pooling kernels on cpu (`cpu+tfops`: the formulation the tensorflow backend, tfjs-node, uses natively),
 * the oneDNN addon's kernels under wasm and cpu (`wasm+onednn`, `cpu+onednn`: the route training takes when a fold
 * does not fit wasm's heap, with its own addition and unzeroed outputs) when it is built, and when an adapter exists
 * the TypeScript ops on webgpu and the project's WGSL kernels (`webgpu+wgsl`, what `ICH_BACKEND=webgpu` uses by default).
 */
const AVAILABLE: string[] = ['cpu', 'cpu+tfops', 'wasm', ...(native.ok ? ['wasm+onednn', 'cpu+onednn'] : []), ...(WEBGPU.ok ? ['webgpu', 'webgpu+wgsl'] : [])];
/** ICH_TEST_BACKENDS=cpu,webgpu narrows the list (bench/gpu.sh checks a GPU that way); unknown names are an error. */
const WANTED = process.env.ICH_TEST_BACKENDS?.split(',').map((b) => b.trim()).filter(Boolean);
for (const b of WANTED ?? []) if (!AVAILABLE.includes(b)) throw new Error(`ICH_TEST_BACKENDS expected some of ${AVAILABLE.join(', ')}, got "${b}"`);
export const TEST_BACKENDS: string[] = WANTED ?? AVAILABLE;

/**
 * Runs `fn` with `backend` active ("name", or "name+onednn" / "webgpu+wgsl" for the project's own kernels, oneDNN
 * with `threads` OpenMP threads, or "cpu+tfops" for the backend's rank-5 kernels), restoring the previous one.
 */
export async function onBackend<T>(backend: string, fn: () => T | Promise<T>, threads = 2): Promise<T> {
  const before = tf.getBackend();
  const [name, kernels] = backend.split('+');
  await initBackend(name, { native: kernels === 'onednn' || kernels === 'wgsl', tfKernels: kernels === 'tfops', threads });
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
