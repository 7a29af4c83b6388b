import * as os from 'node:os';
import { keepsFreedMemory, WASM_HEAP_BYTES } from '../backend';
import { Profile } from '../config/profiles';
import { VolumeShape } from '../data/preprocess';
import { DenseNetConfig, denseNetGeometry } from '../models/densenet-config';
import { recomputeMinBytes } from '../ops/bn-relu-conv';
import { nativeKernels } from '../ops/native-dnnl';

const GIB = 2 ** 30;

/**
 * Bytes of the activations one training volume keeps for the backward pass in the DenseNet 3D (float32): the image,
 * the stem convolution's output and its batch norm's, the max-pooled stem, and per dense layer its concatenated input,
 * that input's batch-norm output and the bottleneck before and after its batch norm; per transition its batch-norm
 * output. What dominates at the paper input (40 x 301 x 301): block 1 at 10 x 76 x 76, 1.46 GiB per volume.
 * Resolutions from {@link denseNetGeometry}, as the model builds them. With `recompute` (a batch and the threshold of
 * src/ops/bn-relu-conv.ts), the batch-norm outputs before a 1 x 1 x 1 convolution whose batch tensor holds at least
 * `minBytes` are recomputed in the backward pass, not kept, and are left out.
 */
export function savedActivationBytes(config: DenseNetConfig, input: VolumeShape, recompute?: { batch: number; minBytes: number }): number {
  const voxels = (dims: number[]) => dims[0] * dims[1] * dims[2];
  // A batch-norm output of `n` elements per volume that a fused BN-ReLU-conv may recompute instead of keep.
  const normOutput = (n: number) => (recompute && recompute.batch * n * 4 >= recompute.minBytes ? 0 : n);
  const { stem, blocks } = denseNetGeometry(config, input);
  let elements = voxels(input) + 2 * voxels(stem) * config.initFeatures;
  const bottleneck = config.bnSize * config.growth;
  blocks.forEach(({ dims, channels, layers }, bi) => {
    elements += voxels(dims) * channels;
    for (let i = 0; i < layers; i++) {
      const cin = channels + i * config.growth;
      elements += voxels(dims) * (cin + 2 * bottleneck + config.growth) + normOutput(voxels(dims) * cin);
    }
    // A transition's batch norm feeds its 1 x 1 x 1 convolution; the last block's (norm5) feeds the heads.
    const end = voxels(dims) * (channels + layers * config.growth);
    elements += bi < blocks.length - 1 ? normOutput(end) : end;
  });
  return elements * 4;
}

/**
 * Peak memory of one fold's training on the CPU backends, in bytes: 0.72 GiB (Node, the addon, parameters, gradients
 * and AdamW moments) plus, per volume of a batch, the saved activations it keeps and a share of all of them for what
 * the backward pass holds beside them (their gradients as it goes, the addon's work space; a recomputed batch-norm
 * output is not kept but its gradient still passes): 0.37 when freed memory goes back to the system, 0.51 when the
 * process keeps it for reuse (`freedKept`, src/backend.ts `keepsFreedMemory`: the heap's free blocks do not always fit
 * the next request). Fitted to the cpu backend at the paper input. Returning memory: peak RSS 4.7 GiB at batch 2 and
 * 16.5-16.7 GiB at batch 8 (bench/results/train-2026-11-28-cpu2-cpu-onednn-release-saved-paper-b8.json), and with
 * `recomputeMinBytes` (src/ops/bn-relu-conv.ts) 16 MiB the measured 13.7 GiB within 1 %
 * (bench/results/train-2026-11-28-cpu2-cpu-onednn-recompute16-paper-b8.json). Keeping it: 18.4 GiB at batch 8
 * (bench/results/train-2026-11-28-cpu2-cpu-onednn-keep-freed-paper-b8.json), and with 16 MiB recomputed the measured
 * 15.4 GiB within 1 % (...-keep-freed-recompute16-paper-b8.json). A guide for planning, not a bound.
 */
export function foldMemoryEstimate(profile: Profile, recomputeMinBytes = Infinity, freedKept = false): number {
  const all = savedActivationBytes(profile.densenet, profile.inputSize);
  const kept = savedActivationBytes(profile.densenet, profile.inputSize, { batch: profile.batchSize, minBytes: recomputeMinBytes });
  return 0.72 * GIB + profile.batchSize * (kept + (freedKept ? 0.51 : 0.37) * all);
}

/**
 * Peak memory of one fold's training on the TypeScript ops (no native addon: scripts/build-native.sh not run, or
 * ICH_NATIVE=0), in bytes: 0.72 GiB plus 15.5 x the saved activations per volume, since the tfjs formulation
 * materialises each 3x3x3 convolution's shifted inputs and products. Fitted to the wasm backend's peak RSS with
 * DenseNet-121: 1.48 GiB at 32 x 64 x 64 batch 1, 2.33 GiB at batch 2, 2.75 GiB at 40 x 64 x 64 batch 2 (14.3-15.6
 * x); 40 x 64 x 64 at batch 4 (4.8 GiB by this) ran out of wasm's 4 GiB heap (bench/NOTES.md). A guide, not a bound.
 */
export function typeScriptFoldMemoryEstimate(profile: Profile): number {
  return 0.72 * GIB + profile.batchSize * 15.5 * savedActivationBytes(profile.densenet, profile.inputSize);
}

/**
 * The threshold the fold plan recomputes from when memory asks for it: block 1's normalised inputs at the paper input
 * (15-50 MB per volume each), not the small tensors of later blocks, where recomputing costs time and saves little.
 */
export const AUTO_RECOMPUTE_MIN_BYTES = 16 * 2 ** 20;

/** How many folds to train at once, what to recompute and whether to keep freed memory, and why when memory decides it. */
export interface FoldMemoryPlan {
  workers: number;
  /**
   * Batch-norm outputs of at least this many bytes are recomputed in the backward pass (src/ops/bn-relu-conv.ts;
   * Infinity: none). Same results to the bit, up to ~10 % more time per step.
   */
  recomputeMinBytes: number;
  /**
   * Whether the process keeps freed memory for reuse (src/backend.ts `keepFreedMemory`, which the caller applies):
   * false when a fold fits only with memory returned to the system, at up to ~45 % more time per step on the cpu backend.
   */
  keepFreedMemory: boolean;
  /** A line for the user when memory limited the count, turned recomputation on, or a fold may not fit (null otherwise). */
  note: string | null;
}

/**
 * Folds trained at once, batch-norm recomputation and freed-memory reuse, chosen by memory. On the CPU backends (wasm,
 * cpu): one fold per core up to two (each worker one fold and its own backend), as many as fit in 90 % of the
 * machine's memory by {@link foldMemoryEstimate}, at least one; `workers` (the user's --workers) fixes the count
 * instead. When one fold does not fit its share (or, on wasm, 90 % of the 4 GiB heap), the batch-norm outputs of at
 * least {@link AUTO_RECOMPUTE_MIN_BYTES} are recomputed in the backward pass (the paper's batch 8 at 40 x 301 x 301:
 * 18.4 -> 15.4 GiB on the cpu backend); ICH_RECOMPUTE_MIN_MB, when set, decides that instead. When it still does not
 * fit and the process keeps freed memory (`keepsFreedMemory`: the cpu backend's default), the plan returns it to the
 * system instead (15.4 -> 13.7 GiB, slower). Warns when a fold may still not fit: the machine's memory on the cpu
 * backend, wasm's heap on wasm (where training would stop at the first step). Without the native kernels
 * (`nativeKernels`, default: whether they are in use) the estimate is {@link typeScriptFoldMemoryEstimate} and the note
 * names the native kernels' figure. On a GPU backend one fold at a time, recomputation as ICH_RECOMPUTE_MIN_MB says
 * (only the native CPU kernels recompute) and memory as it is.
 */
export function foldMemoryPlan(
  profile: Profile,
  backend: string,
  options: { workers?: number; totalMemory?: number; cores?: number; keepsFreedMemory?: boolean; nativeKernels?: boolean } = {},
): FoldMemoryPlan {
  const asked = recomputeMinBytes();
  const native = options.nativeKernels ?? nativeKernels() !== null;
  // Only the cpu backend's tensors are malloc'd (wasm's heap and a GPU's memory are what they are), and only the
  // native kernels keep freed memory.
  const keeps = native && backend === 'cpu' && (options.keepsFreedMemory ?? keepsFreedMemory());
  if (backend !== 'wasm' && backend !== 'cpu') return { workers: options.workers ?? 1, recomputeMinBytes: asked, keepFreedMemory: keeps, note: null };
  const totalMemory = options.totalMemory ?? os.totalmem();
  const byCores = Math.max(1, Math.min(2, options.cores ?? os.availableParallelism()));
  const wasm = backend === 'wasm';
  // What one fold may use: its share of 90 % of the machine's memory and, on wasm, of its own heap.
  const budget = (workers: number) => Math.min((0.9 * totalMemory) / workers, wasm ? 0.9 * WASM_HEAP_BYTES : Infinity);
  const workersFor = (perFold: number) => options.workers ?? Math.max(1, Math.min(byCores, Math.floor((0.9 * totalMemory) / perFold)));
  const fits = (perFold: number) => perFold <= budget(workersFor(perFold));
  // The TypeScript ops neither recompute nor keep memory (both belong to the native kernels).
  const plain = native ? foldMemoryEstimate(profile, asked, keeps) : typeScriptFoldMemoryEstimate(profile);
  let perFold = plain;
  let minBytes = asked;
  // Infinity: ICH_RECOMPUTE_MIN_MB is unset, so the plan may choose.
  const auto = native && asked === Infinity && !fits(plain);
  if (auto) {
    minBytes = AUTO_RECOMPUTE_MIN_BYTES;
    perFold = foldMemoryEstimate(profile, minBytes, keeps);
  }
  const returned = keeps && !fits(perFold);
  if (returned) perFold = foldMemoryEstimate(profile, minBytes, false);
  const plan: FoldMemoryPlan = { workers: workersFor(perFold), recomputeMinBytes: minBytes, keepFreedMemory: keeps && !returned, note: null };
  const gib = (n: number) => `${(n / GIB).toFixed(1)} GiB`;
  let note = `one fold of the ${profile.name} profile (batch ${profile.batchSize} at ${profile.inputSize.join('x')}) needs about ${gib(plain)}`;
  if (!native) note += ` on the TypeScript ops (about ${gib(leastFoldMemory(profile))} with the native kernels, which scripts/build-native.sh builds)`;
  const steps: string[] = [];
  if (auto) steps.push(`recomputing its batch-norm outputs of ${AUTO_RECOMPUTE_MIN_BYTES / 2 ** 20} MiB and more in the backward pass (same results, up to ~10 % slower; ICH_RECOMPUTE_MIN_MB overrides)`);
  if (returned) steps.push('returning freed memory to the system instead of keeping it for reuse (same results, up to ~45 % slower: fresh memory faults in page by page)');
  if (steps.length) note += `; ${steps.join(' and ')} brings it to about ${gib(perFold)}`;
  if (wasm && perFold > WASM_HEAP_BYTES) {
    note += `, more than the wasm backend's 4 GiB heap: training will stop at its first step; ${native ? 'ICH_BACKEND=cpu has no heap limit' : 'build the native kernels, or ICH_BACKEND=cpu (no heap limit, far slower without them)'}`;
  } else if (perFold > (0.9 * totalMemory) / plan.workers) {
    note += `, more than ${plan.workers > 1 ? `a 1/${plan.workers} share of ` : ''}this machine's ${gib(totalMemory)}: it may run out of memory (a GPU, or a smaller batch)`;
  } else if (options.workers === undefined && plan.workers < byCores) {
    note += `; this machine's ${gib(totalMemory)} holds ${plan.workers} at a time (--workers overrides)`;
  } else if (!steps.length) {
    return plan;
  }
  return { ...plan, note };
}

/**
 * The least memory one fold of `profile` trains in by {@link foldMemoryEstimate}: with the recomputation the fold plan
 * would turn on ({@link AUTO_RECOMPUTE_MIN_BYTES}), or with what ICH_RECOMPUTE_MIN_MB asks when set, and freed memory
 * returned to the system. What `ich train` and `trainModel` pass to initBackend as `memoryNeeded`, so that the paper
 * profile (13.7 GiB) trains on the cpu backend instead of stopping in wasm's 4 GiB heap.
 */
export function leastFoldMemory(profile: Profile): number {
  const asked = recomputeMinBytes();
  return foldMemoryEstimate(profile, asked === Infinity ? AUTO_RECOMPUTE_MIN_BYTES : asked);
}
