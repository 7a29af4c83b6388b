import { parentPort, workerData } from 'node:worker_threads';
import { explainBackendError, initBackend } from '../backend';
import { VolumeCache } from '../data/cache';
import { Patient } from '../data/cohort';
import { CvFold } from '../data/splits';
import { VolumeSource } from './data';
import { trainFold, TrainRecipe } from './loop';
import { timeTrainingSteps } from './benchmark';

/** Work for one worker thread: folds of a cross-validation, or a throughput measurement. */
export type WorkerJob =
  | {
      kind: 'folds';
      backend: string;
      /** CPU threads for native kernels in this worker (cores / workers). */
      threads: number;
      /** Whether the worker uses the native kernels (as the parent does, so results do not depend on workers). */
      native: boolean;
      recipe: TrainRecipe;
      patients: Patient[];
      folds: { index: number; fold: CvFold; dir: string }[];
      cacheDir: string;
      cacheOptions: ConstructorParameters<typeof VolumeCache>[1];
      size: [number, number, number];
      /** Batch-norm outputs recomputed in the backward pass from this size in bytes up (trainFold). */
      recomputeMinBytes?: number;
      /** Whether the process keeps freed memory for reuse (as the parent does: the setting is process-wide). */
      keepFreedMemory: boolean;
    }
  | { kind: 'bench'; backend: string; threads: number; native: boolean; keepFreedMemory: boolean; shape: [number, number, number]; batch: number; steps: number };

async function run(job: WorkerJob): Promise<void> {
  await initBackend(job.backend, { threads: job.threads, native: job.native, keepFreedMemory: job.keepFreedMemory });
  if (job.kind === 'bench') {
    parentPort!.postMessage({ type: 'bench', timing: await timeTrainingSteps(job.shape, job.batch, job.steps) });
    return;
  }
  const source = new VolumeSource(new VolumeCache(job.cacheDir, job.cacheOptions), job.size);
  for (const f of job.folds) {
    const result = await trainFold({
      recipe: job.recipe,
      patients: job.patients,
      fold: f.fold,
      foldIndex: f.index,
      source,
      dir: f.dir,
      onProgress: (p) => parentPort!.postMessage({ type: 'progress', progress: p }),
      onNotice: (message) => parentPort!.postMessage({ type: 'notice', message }),
      recomputeMinBytes: job.recomputeMinBytes,
    });
    parentPort!.postMessage({ type: 'result', result });
  }
}

run(workerData as WorkerJob).then(
  () => parentPort!.postMessage({ type: 'done' }),
  (err) => parentPort!.postMessage({ type: 'error', message: explainBackendError(err).message }),
);
