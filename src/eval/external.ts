import { VolumeCache } from '../data/cache';
import { Patient } from '../data/cohort';
import { decodeOrdinalGcs, gcsClass } from '../data/labels';
import { Quirks } from '../data/preprocess';
import { SkippedScan, usableScans } from '../data/scan-check';
import { loadModel } from '../models/checkpoint';
import { ModelSpec, TaskName, taskTargets } from '../models/tasks';
import { VolumeSource } from '../train/data';
import { predictPatients } from '../train/loop';
import { binaryMetrics, BinaryMetrics, ordinalMetrics, OrdinalMetrics } from './metrics';

/** One patient's probabilities from every head of a model. */
export interface CohortPrediction {
  patientId: string;
  /** 1 = poor prognosis (the cohort's label). */
  label: number;
  probabilities: Partial<Record<TaskName, number[]>>;
}

/** A trained model applied to a whole cohort (external validation): predictions, metrics per head, what was skipped. */
export interface CohortEvaluation {
  spec: ModelSpec;
  /** Preprocessed input [depth, height, width] the checkpoint was trained on, and the scans were resized to. */
  inputSize: [number, number, number];
  predictions: CohortPrediction[];
  /** Binary heads against the cohort's labels (prognosis: the label; binary GCS: GCS <= 8; binary age: >= 80 years). */
  binary: Partial<Record<TaskName, BinaryMetrics>>;
  /** The ordinal GCS head's decoded classes (bits > 0.5 counted) against GCS 13-15 / 9-12 / 3-8. */
  ordinal?: OrdinalMetrics;
  /** Patients whose scans were passed over (unreadable or NaN voxels). */
  skipped: SkippedScan[];
}

/**
 * Runs a checkpoint (trained here, or imported from PyTorch with `ich import-weights`) on every usable patient of a
 * cohort in eval mode and scores each head against the cohort's labels at threshold 0.5 (paper.md, "Training": the
 * test step, without training). Scans that cannot be read are skipped and reported, not fatal.
 * @param options.cacheDir where preprocessed volumes are cached (shared with training runs).
 * @param options.batchSize volumes per forward pass; default 2.
 * @param options.quirks preprocessing variant; default the paper's ('paper').
 */
export async function evaluateCohort(
  checkpoint: string,
  patients: readonly Patient[],
  options: { cacheDir: string; batchSize?: number; quirks?: Quirks; notice?: (message: string) => void; onProgress?: (done: number, total: number) => void },
): Promise<CohortEvaluation> {
  const { usable, skipped } = await usableScans(patients, options.cacheDir, { notice: options.notice });
  const { model, meta } = loadModel(checkpoint);
  try {
    const source = new VolumeSource(new VolumeCache(options.cacheDir, { size: meta.inputSize, quirks: options.quirks }), meta.inputSize);
    const tasks = meta.spec.tasks.map((t) => t.task);
    const batch = options.batchSize ?? 2;
    const predictions: CohortPrediction[] = [];
    // Batch by batch so progress can be told and memory stays one batch's worth.
    for (let start = 0; start < usable.length; start += batch) {
      const part = usable.slice(start, start + batch);
      const { probabilities } = await predictPatients(model, part, source, batch);
      part.forEach((p, i) => predictions.push({ patientId: p.id, label: p.label, probabilities: Object.fromEntries(tasks.map((t) => [t, probabilities[t]![i]])) }));
      options.onProgress?.(predictions.length, usable.length);
    }
    const binary: Partial<Record<TaskName, BinaryMetrics>> = {};
    let ordinal: OrdinalMetrics | undefined;
    if (usable.length) {
      for (const task of tasks) {
        if (task === 'gcs-ordinal') {
          const bits = predictions.map((p) => p.probabilities[task] as [number, number]);
          ordinal = ordinalMetrics(usable.map((p) => gcsClass(p.gcs)), bits.map(decodeOrdinalGcs));
        } else {
          binary[task] = binaryMetrics(usable.map((p) => taskTargets(task, p)[0]), predictions.map((p) => p.probabilities[task]![0]));
        }
      }
    }
    return { spec: meta.spec, inputSize: meta.inputSize, predictions, binary, ordinal, skipped };
  } finally {
    model.dispose();
  }
}
