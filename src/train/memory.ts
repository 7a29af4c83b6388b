import * as os from 'node:os';
import { Profile } from '../config/profiles';
import { VolumeShape } from '../data/preprocess';
import { DenseNetConfig, denseNetGeometry } from '../models/densenet-config';

const GIB = 2 ** 30;

/** wasm32's heap, which holds every tensor of a wasm backend (DESIGN.md). */
export const WASM_HEAP_BYTES = 4 * GIB;

/**
 * Bytes of the activations one training volume keeps for the backward pass in the DenseNet 3D (float32): the image,
 * the stem convolution's output and its batch norm's, the max-pooled stem, and per dense layer its concatenated input,
 * that input's batch-norm output and the bottleneck before and after its batch norm; per transition its batch-norm
 * output. What dominates at the paper input (40 x 301 x 301): block 1 at 10 x 76 x 76, 1.46 GiB per volume.
 * Resolutions from {@link denseNetGeometry}, as the model builds them.
 */
export function savedActivationBytes(config: DenseNetConfig, input: VolumeShape): number {
  const voxels = (dims: number[]) => dims[0] * dims[1] * dims[2];
  const { stem, blocks } = denseNetGeometry(config, input);
  let elements = voxels(input) + 2 * voxels(stem) * config.initFeatures;
  const bottleneck = config.bnSize * config.growth;
  for (const { dims, channels, layers } of blocks) {
    elements += voxels(dims) * channels;
    for (let i = 0; i < layers; i++) {
      const cin = channels + i * config.growth;
      elements += voxels(dims) * (cin + 2 * bottleneck + cin + config.growth);
    }
    elements += voxels(dims) * (channels + layers * config.growth);
  }
  return elements * 4;
}

/**
 * Peak memory of one fold's training on the CPU backends, in bytes: 0.72 GiB (Node, the addon, parameters, gradients
 * and AdamW moments) plus 1.37 x the saved activations per volume of a batch. Both fitted to the cpu backend at the
 * paper input, peak RSS 4.7 GiB at batch 2 and 16.5-16.7 GiB at batch 8 (bench/results/train-2026-11-28-cpu2-cpu-
 * onednn-release-saved-paper-b8.json): the 1.37 is what the backward pass holds beside the saved activations (their
 * gradients as it goes, the addon's work space). A guide for choosing how many folds to train at once, not a bound.
 */
export function foldMemoryEstimate(profile: Profile): number {
  return 0.72 * GIB + 1.37 * profile.batchSize * savedActivationBytes(profile.densenet, profile.inputSize);
}

/** How many folds to train at once, and why when memory decides it. */
export interface FoldWorkers {
  workers: number;
  /** A line for the user when memory limited the count or a fold may not fit (null otherwise). */
  note: string | null;
}

/**
 * Folds trained at once by default: on the CPU backends (wasm, cpu) one per core up to two (each worker one fold and
 * its own backend), as many as fit in 90 % of the machine's memory by {@link foldMemoryEstimate}, at least one; on a
 * GPU backend one. Says so when memory limits the count, and warns when one fold alone may not fit: the machine's
 * memory on the cpu backend, wasm's 4 GiB heap on wasm (where training would stop at the first step).
 */
export function defaultFoldWorkers(profile: Profile, backend: string, totalMemory = os.totalmem(), cores = os.availableParallelism()): FoldWorkers {
  if (backend !== 'wasm' && backend !== 'cpu') return { workers: 1, note: null };
  const perFold = foldMemoryEstimate(profile);
  const byCores = Math.max(1, Math.min(2, cores));
  const byMemory = Math.floor((0.9 * totalMemory) / perFold);
  const workers = Math.max(1, Math.min(byCores, byMemory));
  const gib = (n: number) => `${(n / GIB).toFixed(1)} GiB`;
  const fold = `one fold of the ${profile.name} profile (batch ${profile.batchSize} at ${profile.inputSize.join('x')}) needs about ${gib(perFold)}`;
  if (backend === 'wasm' && perFold > WASM_HEAP_BYTES) {
    return { workers, note: `${fold}, more than the wasm backend's 4 GiB heap: training will stop at its first step; ICH_BACKEND=cpu has no heap limit` };
  }
  if (byMemory < 1) return { workers, note: `${fold}, more than this machine's ${gib(totalMemory)}: it may run out of memory (a GPU, or a smaller batch)` };
  if (byMemory < byCores) return { workers, note: `${fold}; this machine's ${gib(totalMemory)} holds ${workers} at a time (--workers overrides)` };
  return { workers, note: null };
}
