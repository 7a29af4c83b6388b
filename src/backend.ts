import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The union package registers the gradients of every core op (tfjs-core's CommonJS bundle registers none; its
// register_all_gradients module is ESM with extensionless imports, which Node cannot load from CommonJS).
import '@tensorflow/tfjs';
import * as os from 'node:os';
import { registerNativeAddKernel } from './ops/native-add';
import { registerNativeAdamKernel } from './ops/native-adamw';
import { registerNativeConcatKernels } from './ops/native-concat';
import { loadNativeDnnl, nativeKernels, useNativeKernels } from './ops/native-dnnl';
import { registerNativeEmptyKernel } from './ops/native-memory';
import { useTfKernels } from './ops/tf-kernels';
import { readConvTuning, useConvTuning } from './ops/webgpu/conv-tuning';
import { useWebGpuKernels } from './ops/webgpu/kernels';

// Silences the cpu backend's console banner about tfjs-node (this module reports the backend itself).
tf.env().set('PROD', true);

/**
 * The ONLY place that chooses a TensorFlow.js backend (DESIGN.md, "Compute backends").
 * `ICH_BACKEND=tensorflow|webgpu|wasm|cpu`, or automatic: tfjs-node-gpu, then tfjs-node when installed, else wasm.
 */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** What {@link initBackend} chose and why, for notebooks and logs. */
export interface BackendReport {
  /** The active backend. */
  backend: BackendName;
  /** What was asked for ('auto' when nothing was). */
  requested: BackendName | 'auto';
  /** The package providing it. */
  package: string;
  tfjsVersion: string;
  /** True when tensors live on a GPU. */
  gpu: boolean;
  /** Loud problems, e.g. tfjs-node-gpu silently running on the CPU. */
  warnings: string[];
  /** Backends tried before this one, with the reason each was passed over. */
  skipped: string[];
  /**
   * The kernels behind the 3D ops: "oneDNN 2.6.3 conv3d + native pooling, batch norm, concatenation and AdamW, 2
   * threads" on cpu/wasm, the WGSL programs on webgpu, TensorFlow's rank-5 kernels on tensorflow; or null with
   * {@link BackendReport.nativeSkipped} saying why (addon not built, disabled by ICH_NATIVE=0).
   */
  native: string | null;
  nativeSkipped?: string;
}

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** CPU threads for native kernels in this thread (default: all cores; fold workers pass cores / workers). */
  threads?: number;
  /** Use the project's own kernels: the oneDNN addon when built, the WGSL programs on webgpu (default: true unless ICH_NATIVE=0). */
  native?: boolean;
  /**
   * Run the 3D convolutions and poolings through the backend's own rank-5 kernels (tf.conv3d and friends): the
   * default on the tensorflow backend (native there); elsewhere only to check that formulation on cpu (tests).
   */
  tfKernels?: boolean;
  /**
   * Bytes one training thread's tensors will need at their peak (a fold's estimate, src/train/memory.ts): the
   * automatic choice passes over wasm when they exceed 90 % of its heap ({@link WASM_HEAP_BYTES}), where training would
   * stop at its first step, for the cpu backend (no heap limit, the same native kernels). A named backend is kept.
   */
  memoryNeeded?: number;
  /**
   * With the cpu backend's native kernels: keep freed memory for reuse ({@link keepFreedMemory}; default true). The
   * fold plan (src/train/memory.ts) turns it off when a fold would not fit otherwise; fold workers pass the parent's.
   */
  keepFreedMemory?: boolean;
}

/** wasm32's heap, which holds every tensor of the wasm backend (DESIGN.md). */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

const NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
let current: BackendReport | null = null;
const warned = new Set<string>();

/** Loads a package by name; null when it is not installed or fails to load (optional dependencies). */
function tryRequire(name: string): { ok: true; module: unknown } | { ok: false; reason: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { ok: true, module: require(name) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: e.code === 'MODULE_NOT_FOUND' ? `${name} is not installed` : `${name} failed to load: ${e.message.split('\n')[0]}` };
  }
}

async function activate(name: BackendName): Promise<{ pkg: string; gpu: boolean; warnings: string[] }> {
  const warnings: string[] = [];
  switch (name) {
    case 'cpu':
      await tf.setBackend('cpu');
      return { pkg: '@tensorflow/tfjs-backend-cpu', gpu: false, warnings };
    case 'wasm': {
      const r = tryRequire('@tensorflow/tfjs-backend-wasm');
      if (!r.ok) throw new Error(`backend wasm expected @tensorflow/tfjs-backend-wasm, got: ${r.reason}`);
      if (!(await tf.setBackend('wasm'))) throw new Error('backend wasm expected to initialise, got a failure');
      return { pkg: '@tensorflow/tfjs-backend-wasm', gpu: false, warnings };
    }
    case 'webgpu': {
      const dawn = tryRequire('webgpu');
      if (!dawn.ok) throw new Error(`backend webgpu expected the \`webgpu\` package (Dawn), got: ${dawn.reason}`);
      const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
      const mod = dawn.module as { create?: (flags: string[]) => unknown; globals?: Record<string, unknown> };
      if (mod.globals) Object.assign(globalThis, mod.globals);
      if (!g.navigator?.gpu && mod.create) Object.defineProperty(globalThis, 'navigator', { value: { gpu: mod.create([]) }, configurable: true });
      const r = tryRequire('@tensorflow/tfjs-backend-webgpu');
      if (!r.ok) throw new Error(`backend webgpu expected @tensorflow/tfjs-backend-webgpu, got: ${r.reason}`);
      // The split-K matMul program sums with atomics, in a different order on every run: the packed program keeps
      // training deterministic for a seed (ICH_WEBGPU_DETERMINISTIC=0 gives tfjs its own choice back).
      if (process.env.ICH_WEBGPU_DETERMINISTIC !== '0') tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', 3);
      const adapter = (await (g.navigator!.gpu as { requestAdapter(): Promise<{ info?: { description?: string; vendor?: string; architecture?: string } } | null> }).requestAdapter()) ?? null;
      if (!adapter) throw new Error('backend webgpu expected a GPU adapter, got none (no GPU and no software Vulkan; see scripts/setup-webgpu.sh)');
      const description = adapter.info?.description || [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
      const software = /llvmpipe|lavapipe|swiftshader|software/i.test(`${description} ${adapter.info?.architecture ?? ''}`);
      if (software) warnings.push(`WebGPU runs on a software adapter (${description}): correct, but far slower than a GPU`);
      if (!(await tf.setBackend('webgpu'))) throw new Error('backend webgpu expected a GPU adapter, got none');
      watchDeviceErrors();
      return { pkg: `@tensorflow/tfjs-backend-webgpu on ${description}`, gpu: !software, warnings };
    }
    case 'tensorflow': {
      let pkg = '@tensorflow/tfjs-node-gpu';
      let r = tryRequire(pkg);
      if (!r.ok) {
        pkg = '@tensorflow/tfjs-node';
        r = tryRequire(pkg);
      }
      if (!r.ok) throw new Error(`backend tensorflow expected @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, got: ${r.reason}`);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`backend tensorflow expected ${pkg} to register, got a failure`);
      const usingGpu = Boolean((tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice);
      if (pkg.endsWith('-gpu') && !usingGpu) {
        warnings.push(
          'WARNING: @tensorflow/tfjs-node-gpu is installed but runs on the CPU (it needs CUDA 11.2 and cuDNN 8.1; on other versions it falls back silently)',
        );
      }
      return { pkg, gpu: usingGpu, warnings };
    }
  }
}

/** What the WebGPU device reported since the last {@link assertDeviceHealthy}: the first messages and how many in all. */
const deviceErrors = { first: [] as string[], count: 0 };
let watchedDevice: unknown = null;

interface ErrorReportingDevice {
  onuncapturederror: ((event: { error: { message: string } }) => void) | null;
}

/**
 * Collects the WebGPU device's uncaptured errors (validation, out of memory). tfjs does not watch them, and Dawn
 * answers an invalid dispatch by skipping it: the results stay zeros or stale values, and a run that cannot fit
 * would otherwise train on garbage and time as if it were fast.
 */
function watchDeviceErrors(): void {
  const device = (tf.backend() as unknown as { device?: ErrorReportingDevice }).device;
  if (!device || device === watchedDevice) return;
  watchedDevice = device;
  device.onuncapturederror = (event) => {
    deviceErrors.count++;
    if (deviceErrors.first.length < 3) deviceErrors.first.push(event.error.message.split('\n')[0]);
  };
}

/**
 * Throws when the WebGPU device reported errors since the last call (e.g. a tensor over the device's
 * maxStorageBufferBindingSize, or GPU memory exhausted), then forgets them so that a smaller retry can run. Call it
 * after reading a result back, when the device has delivered its errors. A no-op on the other backends.
 * @param where what had just run, for the message (e.g. "fold 2, epoch 3, batch 5").
 */
export function assertDeviceHealthy(where: string): void {
  if (deviceErrors.count === 0) return;
  const { first, count } = deviceErrors;
  deviceErrors.first = [];
  deviceErrors.count = 0;
  throw new Error(
    `WebGPU device expected no errors, got ${count} (${first.join('; ')}) (${where}); its results are invalid: ` +
      'lower the batch size or the input size if a tensor is too large',
  );
}

/**
 * Chooses and initialises the backend: `requested`, else `ICH_BACKEND`, else automatic (tfjs-node-gpu, tfjs-node,
 * wasm, cpu in that order, each tried only when its package loads; wasm only when `options.memoryNeeded` fits its heap). Warnings are also written to stderr (each once).
 * @throws when a backend is named explicitly and cannot start, with the reason.
 */
export async function initBackend(requested: string | undefined = process.env.ICH_BACKEND, options: BackendOptions = {}): Promise<BackendReport> {
  const want = requested && requested.trim() !== '' ? requested.trim() : 'auto';
  if (want !== 'auto' && !NAMES.includes(want as BackendName)) {
    throw new Error(`ICH_BACKEND expected one of ${NAMES.join(', ')}, got "${want}"`);
  }
  const order: BackendName[] = want === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [want as BackendName];
  const skipped: string[] = [];
  for (const name of order) {
    if (want === 'auto' && name === 'wasm' && (options.memoryNeeded ?? 0) > 0.9 * WASM_HEAP_BYTES) {
      skipped.push(`wasm: training needs at least ~${(options.memoryNeeded! / 2 ** 30).toFixed(1)} GiB, more than its 4 GiB heap holds`);
      continue;
    }
    try {
      const { pkg, gpu, warnings } = await activate(name);
      await tf.ready();
      const native = chooseNative(name, options);
      if (keepFreedMemory(options.keepFreedMemory ?? true)) native.native += '; freed memory kept for reuse';
      if (name === 'webgpu' && native.native) {
        const tuning = applyConvTuning(pkg);
        if (tuning) {
          native.native += `; ${tuning.description}`;
          warnings.push(...tuning.warnings);
        }
      }
      current = { backend: name, requested: want as BackendName | 'auto', package: pkg, tfjsVersion: tf.version_core, gpu, warnings, skipped, ...native };
      // Once per process: tests and notebooks switch backends many times.
      for (const w of warnings.filter((w) => !warned.has(w))) {
        warned.add(w);
        process.stderr.write(`${w}\n`);
      }
      return current;
    } catch (err) {
      if (want !== 'auto') throw err;
      skipped.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`backend expected one of ${order.join(', ')} to start, got none: ${skipped.join('; ')}`);
}

/**
 * The kernels behind the 3D ops for the active backend: oneDNN convolutions (native addon) with the backends whose
 * tensors live in CPU memory (cpu, wasm: reading a tensor there is a copy, not a GPU download), WGSL programs with
 * webgpu, and TensorFlow's own rank-5 conv3d and pooling with tfjs-node (the tensorflow backend).
 */
function chooseNative(name: BackendName, options: BackendOptions): { native: string | null; nativeSkipped?: string } {
  useNativeKernels(null);
  useWebGpuKernels(false);
  useConvTuning(null);
  useTfKernels(false);
  if (options.tfKernels ?? name === 'tensorflow') {
    if (name === 'wasm' || name === 'webgpu') throw new Error(`tfKernels expected the tensorflow or cpu backend, got ${name} (its rank-5 conv3d is wrong or does not compile)`);
    return { native: useTfKernels(true) };
  }
  const wanted = options.native ?? process.env.ICH_NATIVE !== '0';
  if (!wanted) return { native: null, nativeSkipped: 'disabled (ICH_NATIVE=0)' };
  if (name === 'webgpu') return { native: useWebGpuKernels(true) };
  if (name !== 'cpu' && name !== 'wasm') return { native: null, nativeSkipped: `not used with the ${name} backend` };
  const loaded = loadNativeDnnl();
  if (!loaded.ok) return { native: null, nativeSkipped: loaded.reason };
  const threads = Math.max(1, Math.floor(options.threads ?? os.availableParallelism()));
  loaded.lib.setThreads(threads);
  useNativeKernels(loaded.lib);
  registerNativeEmptyKernel();
  // Builds from before the fused optimizer step and the concatenation lack them: those keep their tfjs formulation.
  const adam = typeof loaded.lib.adamStep === 'function';
  if (adam) registerNativeAdamKernel();
  const concat = typeof loaded.lib.concatChannels === 'function';
  if (concat) registerNativeConcatKernels();
  // wasm's own Add is compiled already; the cpu backend's is a JavaScript loop.
  const add = name === 'cpu' && typeof loaded.lib.addInto === 'function';
  if (add) registerNativeAddKernel();
  const parts = ['pooling', 'batch norm', ...(concat ? ['concatenation'] : []), ...(add ? ['addition'] : []), ...(adam ? ['AdamW'] : [])];
  const listed = `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return { native: `oneDNN ${loaded.lib.version()} conv3d + native ${listed}, ${threads} thread${threads > 1 ? 's' : ''}` };
}

let freedMemoryKept = false;

/**
 * Whether this process keeps freed memory for reuse instead of returning it to the system: glibc's malloc without a
 * separate mapping per large block and without trimming (the addon's keepFreedMemory). The cpu backend's tensors are
 * malloc'd arrays, and by default each block over 32 MiB (block 1's feature maps: 30-470 MB at the paper input) is
 * mapped fresh and faults in page by page on first write: at the paper's batch 8 this took a training step from 20.5
 * to 29.5 s (bench/NOTES.md). Kept, the heap grows to a step's peak once (~10 % above the peak without, by the fold
 * estimate of src/train/memory.ts) and the process holds it while the backend is active, as the wasm heap is held.
 * `on` takes effect only with the cpu backend's native kernels active (initBackend turns it on there unless
 * `keepFreedMemory: false`); off, what is free goes back to the system. Returns whether it is on.
 */
export function keepFreedMemory(on: boolean): boolean {
  const want = on && tf.getBackend() === 'cpu' && nativeKernels() !== null;
  if (want === freedMemoryKept) return freedMemoryKept;
  const loaded = loadNativeDnnl();
  freedMemoryKept = loaded.ok && typeof loaded.lib.keepFreedMemory === 'function' ? loaded.lib.keepFreedMemory(want) : false;
  return freedMemoryKept;
}

/** Whether freed memory is kept for reuse now ({@link keepFreedMemory}). */
export function keepsFreedMemory(): boolean {
  return freedMemoryKept;
}

/**
 * Reads ICH_WGSL_CONV_TUNING (a file of `ich bench tune --out FILE`) when set, for the WGSL conv kernels: the tiling
 * measured fastest per pass and shape on a GPU. Warns when it was measured on another adapter (its tilings are
 * correct anywhere, but chosen for that one). Null when the variable is unset.
 * @throws when the file is missing or malformed: a run asked for it explicitly.
 */
function applyConvTuning(adapter: string): { description: string; warnings: string[] } | null {
  const file = process.env.ICH_WGSL_CONV_TUNING;
  if (!file) return null;
  const table = readConvTuning(file);
  useConvTuning(table, file);
  const warnings =
    table.adapter === adapter ? [] : [`ICH_WGSL_CONV_TUNING: ${file} was measured on "${table.adapter}", not on "${adapter}": its tilings are correct but may not be the fastest here`];
  return { description: `conv tiling tuned for ${Object.keys(table.entries).length} passes (${file})`, warnings };
}

/** The report of the active backend, or null before {@link initBackend}. */
export function backendReport(): BackendReport | null {
  return current && current.backend === tf.getBackend() ? current : null;
}

/**
 * Turns the wasm backend's opaque out-of-memory failures ("Aborted()", "memory access out of bounds") into an error
 * that says what happened and what to do; other errors come back unchanged. wasm32 addresses at most 4 GiB, which
 * the paper's 40x301x301 DenseNet-121 activations exceed even at batch 1 (measured).
 */
export function explainBackendError(err: unknown, backend: string = tf.getBackend()): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (backend === 'wasm' && /Aborted\(|memory access out of bounds|Out of memory|Cannot enlarge memory/i.test(e.message)) {
    return new Error(
      `training on the wasm backend expected to fit its heap (wasm32: at most 4 GiB), got "${e.message.split('\n')[0]}": ` +
        'use a smaller input or batch, ICH_BACKEND=cpu (no heap limit; the native kernels still do the convolutions), or a GPU backend',
    );
  }
  return e;
}

/** One line describing the backend, for notebook setup cells and logs. */
export function describeBackend(report: BackendReport): string {
  return `TensorFlow.js ${report.tfjsVersion} on ${report.backend} (${report.package}${report.gpu ? ', GPU' : ', CPU'}` +
    `${report.native ? `; ${report.native}` : ''})` +
    (report.requested === 'auto' && report.skipped.length ? `; passed over: ${report.skipped.join('; ')}` : '');
}
