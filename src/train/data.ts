import * as tf from '@tensorflow/tfjs-core';
import { augmentVolume } from '../data/augment';
import { VolumeCache } from '../data/cache';
import { Patient } from '../data/cohort';
import { Quirks, VolumeShape } from '../data/preprocess';
import { deriveSeed, SeededRandom } from '../math/random';
import { TASK_OUTPUTS, TaskName, taskTargets } from '../models/tasks';

/** Loads preprocessed volumes through the disk cache, keeping up to `maxBytes` of them in memory. */
export class VolumeSource {
  private readonly memory = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(readonly cache: VolumeCache, readonly size: VolumeShape, private readonly maxBytes = 2 * 1024 ** 3) {}

  /** The preprocessed [depth, height, width] volume of a patient. */
  async get(patient: Patient): Promise<Float32Array> {
    const hit = this.memory.get(patient.imagePath);
    if (hit) return hit;
    const { data } = await this.cache.get(patient.imagePath);
    if (this.bytes + data.byteLength <= this.maxBytes) {
      this.memory.set(patient.imagePath, data);
      this.bytes += data.byteLength;
    }
    return data;
  }
}

/** A batch ready for the model: voxels [B, D, H, W] and 0/1 targets per head ([B, k]). */
export interface TrainingBatch {
  positions: number[];
  data: Float32Array;
  shape: [number, number, number, number];
  targets: Partial<Record<TaskName, number[][]>>;
}

/**
 * Assembles a batch of patients, with the paper's training augmentation when `augment` is given (seeded per epoch and
 * patient position, so a resumed run draws the same volumes as an uninterrupted one).
 */
export async function makeBatch(
  patients: readonly Patient[],
  positions: readonly number[],
  tasks: readonly TaskName[],
  source: VolumeSource,
  augment: { seed: number; epoch: number; quirks: Quirks } | null,
): Promise<TrainingBatch> {
  const [d, h, w] = source.size;
  const size = d * h * w;
  const data = new Float32Array(positions.length * size);
  const targets: Partial<Record<TaskName, number[][]>> = {};
  for (const t of tasks) targets[t] = [];
  for (let k = 0; k < positions.length; k++) {
    const p = patients[positions[k]];
    let v = await source.get(p);
    if (augment) {
      const rng = new SeededRandom(deriveSeed(deriveSeed(augment.seed, augment.epoch), positions[k] * 7919 + k));
      v = augmentVolume(v, source.size, rng, { quirks: augment.quirks }).data;
    }
    data.set(v, k * size);
    for (const t of tasks) targets[t]!.push(taskTargets(t, p));
  }
  return { positions: [...positions], data, shape: [positions.length, d, h, w], targets };
}

/** Targets of a batch as tensors. */
export function targetTensors(batch: TrainingBatch): Partial<Record<TaskName, tf.Tensor2D>> {
  const out: Partial<Record<TaskName, tf.Tensor2D>> = {};
  for (const [task, rows] of Object.entries(batch.targets) as [TaskName, number[][]][]) {
    out[task] = tf.tensor2d(rows, [rows.length, TASK_OUTPUTS[task]]);
  }
  return out;
}

/** pos_weight = negatives / positives of a head's first bit over the training part (the single-task baselines). */
export function positiveWeight(task: TaskName, patients: readonly Patient[]): number {
  const ys = patients.map((p) => taskTargets(task, p)[0]);
  const pos = ys.filter((y) => y === 1).length;
  return pos > 0 ? (ys.length - pos) / pos : 1;
}
