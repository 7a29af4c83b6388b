import * as os from 'node:os';
import { nativeKernels } from '../ops/native-dnnl';
import { explainBackendError, keepsFreedMemory } from '../backend';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { Profile } from '../config/profiles';
import { VolumeCache } from '../data/cache';
import { Patient } from '../data/cohort';
import { usableScans } from '../data/scan-check';
import { crossValidationFolds, CvFold } from '../data/splits';
import { writeFileAtomic } from '../io/atomic';
import { checkpointExists } from '../models/checkpoint';
import { ModelSpec, TASK_OUTPUTS, TaskName } from '../models/tasks';
import { VolumeSource } from './data';
import type { WorkerJob } from './fold-worker';
import { FoldResult, trainFold, TrainProgress, TrainRecipe } from './loop';

/** A cross-validation run of one model. */
export interface CrossValidationOptions {
  spec: ModelSpec;
  profile: Profile;
  /** The patients to cross-validate; those whose scans cannot be read are passed over first (`usableScans`). */
  patients: readonly Patient[];
  /** Output folder: one `fold-K/` per fold plus `run.json` (which lists the skipped scans). */
  out: string;
  /** Fold indices to run (default all). */
  folds?: number[];
  seed?: number;
  cacheDir: string;
  /** Overrides of the profile's recipe (loss weights are in `spec`). */
  recipe?: Partial<TrainRecipe>;
  onProgress?: (p: TrainProgress) => void;
  /**
   * Folds trained at once in worker threads, one backend each (default 1: in this thread). On the CPU backends two
   * workers use both cores of a 2-core machine; results are identical to a sequential run.
   */
  workers?: number;
  /** Backend for the workers (default: the active one). */
  backend?: string;
  /** Batch-norm outputs recomputed in the backward pass from this size in bytes up (trainFold; from train/memory.ts). */
  recomputeMinBytes?: number;
  /**
   * Told of each patient passed over because its scan cannot be read (`usableScans`: before the folds are drawn) and of
   * each finished fold whose files could not be taken back on resuming (why, and that it is tested or trained again);
   * default `console.warn`.
   */
  onNotice?: (message: string) => void;
}

/** The recipe a profile implies for a model. */
export function recipeFor(spec: ModelSpec, profile: Profile, seed = 1, overrides: Partial<TrainRecipe> = {}): TrainRecipe {
  return {
    spec,
    densenet: profile.densenet,
    epochs: profile.epochs,
    patience: profile.patience,
    batchSize: profile.batchSize,
    accumulation: profile.accumulation,
    seed,
    ...overrides,
  };
}

/** The patients a profile uses: all, or the first `maxPatients` in table order. */
export function profilePatients(patients: readonly Patient[], profile: Profile): Patient[] {
  return profile.maxPatients === null ? [...patients] : patients.slice(0, profile.maxPatients);
}

/**
 * Runs the paper's cross-validation for one model: the folds of `crossValidationFolds` over the patients' labels,
 * each trained by `trainFold` under `out/fold-K`. A finished fold (`result.json` and `predictions.csv`) is read back,
 * not retrained, once `checkedFoldResult` accepts it (else it is tested again from its checkpoints, or trained again,
 * and `onNotice` says why); an interrupted fold resumes from its last epoch, so re-running after a kill finishes the
 * same run.
 */
export async function runCrossValidation(options: CrossValidationOptions): Promise<FoldResult[]> {
  const { spec, profile, out } = options;
  const notice = options.onNotice ?? ((message: string) => console.warn(message));
  const { usable: patients, skipped } = await usableScans(options.patients, options.cacheDir, { notice });
  const seed = options.seed ?? 1;
  const recipe = recipeFor(spec, profile, seed, options.recipe);
  const folds: CvFold[] = crossValidationFolds(patients.map((p) => p.label), { folds: profile.folds });
  const wanted = options.folds ?? folds.map((_, i) => i);
  for (const k of wanted) {
    if (!Number.isInteger(k) || k < 0 || k >= folds.length) throw new Error(`fold expected an integer in 0..${folds.length - 1}, got ${k}`);
  }
  fs.mkdirSync(out, { recursive: true });
  // A folder is resumed only by the same run: same patients, model, recipe and seed (else its folds would be mixed in).
  const identity = { model: spec.name, spec, profile: profile.name, seed, patients: patients.map((p) => p.id), recipe };
  const runFile = path.join(out, 'run.json');
  if (fs.existsSync(runFile)) {
    const prior = JSON.parse(fs.readFileSync(runFile, 'utf8'));
    delete prior.folds; // the folds asked for may differ between calls of one run
    delete prior.skippedScans;
    if (JSON.stringify(prior) !== JSON.stringify(JSON.parse(JSON.stringify(identity)))) {
      throw new Error(`run folder expected to hold this run (same patients, model, recipe and seed), got a different one: choose another --out or delete it (${out})`);
    }
  }
  writeFileAtomic(runFile, JSON.stringify({ ...identity, folds: wanted, skippedScans: skipped }, null, 1));
  const source = new VolumeSource(new VolumeCache(options.cacheDir, { size: profile.inputSize, padDepth: profile.padDepth, quirks: recipe.quirks }), profile.inputSize);
  const results: FoldResult[] = [];
  const pending: number[] = [];
  const tasks = spec.tasks.map((t) => t.task);
  for (const k of wanted) {
    const dir = path.join(out, `fold-${k}`);
    if (missingFoldFiles(dir).length > 0) {
      pending.push(k);
      continue;
    }
    // A finished fold is taken back only if it still answers this fold: a damaged or hand-edited file would otherwise
    // enter the pooled results unseen. Its checkpoints usually survive, so testing again costs one pass over the test set.
    try {
      results.push(checkedFoldResult(dir, k, folds[k].test.map((i) => patients[i]), tasks));
    } catch (err) {
      const again = checkpointExists(path.join(dir, 'last')) && checkpointExists(path.join(dir, 'best')) ? 'testing it again from its checkpoints' : 'training it again';
      notice(`fold ${k}: finished files not usable, ${again}: ${(err as Error).message}`);
      fs.rmSync(path.join(dir, 'result.json'), { force: true });
      pending.push(k);
    }
  }
  const workers = Math.min(options.workers ?? 1, pending.length);
  if (workers <= 1) {
    for (const k of pending) {
      let r: FoldResult | null;
      try {
        r = await trainFold({
          recipe,
          patients,
          fold: folds[k],
          foldIndex: k,
          source,
          dir: path.join(out, `fold-${k}`),
          onProgress: options.onProgress,
          onNotice: notice,
          recomputeMinBytes: options.recomputeMinBytes,
        });
      } catch (err) {
        throw explainBackendError(err);
      }
      if (r) results.push(r);
    }
  } else {
    const shares: number[][] = Array.from({ length: workers }, () => []);
    pending.forEach((k, i) => shares[i % workers].push(k));
    const outcomes = await Promise.all(
      shares.map((share) =>
        runWorker(
          {
            kind: 'folds',
            backend: options.backend ?? tf.getBackend(),
            threads: threadsPerWorker(workers),
            native: nativeKernels() !== null,
            recipe,
            patients: [...patients],
            folds: share.map((k) => ({ index: k, fold: folds[k], dir: path.join(out, `fold-${k}`) })),
            cacheDir: options.cacheDir,
            cacheOptions: { size: profile.inputSize, padDepth: profile.padDepth, quirks: recipe.quirks },
            size: profile.inputSize,
            recomputeMinBytes: options.recomputeMinBytes,
            keepFreedMemory: keepsFreedMemory(),
          },
          options.onProgress,
          notice,
        ),
      ),
    );
    for (const o of outcomes) results.push(...(o as FoldResult[]));
  }
  return results.sort((a, b) => a.fold - b.fold);
}

/** Native-kernel threads for each of `workers` parallel workers: the cores shared out, at least one. */
export function threadsPerWorker(workers: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, workers)));
}

/** Runs a job in a worker thread, forwarding its progress and notices; resolves with its fold results or bench timing. */
export function runWorker(job: WorkerJob, onProgress?: (p: TrainProgress) => void, onNotice?: (message: string) => void): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'fold-worker.js'), { workerData: job });
    const collected: unknown[] = [];
    worker.on('message', (msg: { type: string; progress?: TrainProgress; result?: FoldResult; timing?: unknown; message?: string }) => {
      if (msg.type === 'progress' && msg.progress) onProgress?.(msg.progress);
      else if (msg.type === 'result' && msg.result) collected.push(msg.result);
      else if (msg.type === 'bench') collected.push(msg.timing);
      else if (msg.type === 'notice' && msg.message) (onNotice ?? console.warn)(msg.message);
      else if (msg.type === 'error') reject(new Error(msg.message));
      else if (msg.type === 'done') resolve(collected);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`training worker expected exit code 0, got ${code}`));
    });
  });
}

/** The files a finished fold folder has that this one lacks (result.json, predictions.csv): none once it is finished. */
function missingFoldFiles(dir: string): string[] {
  return ['result.json', 'predictions.csv'].filter((f) => !fs.existsSync(path.join(dir, f)));
}

/**
 * A finished fold read back: its number and test predictions, and the training record (selected epoch, history) that
 * image models' folds have and tabular ones (`ich train-tabular`) do not.
 */
export type FinishedFold = Pick<FoldResult, 'fold' | 'predictions'> & Partial<Omit<FoldResult, 'fold' | 'predictions'>>;

/** Reads a finished fold's result and test predictions back from its folder (an image or a tabular model's). */
export function readFoldResult(dir: string): FinishedFold {
  const file = path.join(dir, 'result.json');
  let result: FinishedFold;
  try {
    result = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`fold result expected JSON, got ${(err as Error).message} (${file})`);
  }
  if (typeof result !== 'object' || result === null || !Number.isInteger(result.fold)) {
    throw new Error(`fold result expected an object with an integer fold, got ${JSON.stringify(result)?.slice(0, 60)} (${file})`);
  }
  const lines = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  result.predictions = lines.slice(1).map((line) => {
    const cells = line.split(',');
    const probabilities: Record<string, number[]> = {};
    header.forEach((h, i) => {
      if (!h.startsWith('p_')) return;
      const task = h.slice(2).replace(/_\d+$/, '');
      (probabilities[task] ??= []).push(Number(cells[i]));
    });
    return { patientId: cells[0], label: Number(cells[1]), probabilities };
  });
  return result;
}

/**
 * Throws on the first prediction row whose label is not 0 or 1 or whose outputs of `tasks` are not probabilities in
 * [0, 1] (one per head output: two for the ordinal GCS head), naming the file and row.
 */
function checkPredictionRows(result: FinishedFold, tasks: readonly TaskName[], csv: string): void {
  result.predictions.forEach((p, i) => {
    const where = `${csv}, row ${i + 2}`;
    if (p.label !== 0 && p.label !== 1) throw new Error(`label expected 0 or 1, got ${p.label} (${where})`);
    for (const task of tasks) {
      const values = p.probabilities[task] ?? [];
      if (values.length !== TASK_OUTPUTS[task]) throw new Error(`p_${task} expected ${TASK_OUTPUTS[task]} column(s), got ${values.length} (${where})`);
      for (const v of values) if (!(v >= 0 && v <= 1)) throw new Error(`p_${task} expected a probability in [0, 1], got ${v} (${where})`);
    }
  });
}

/**
 * A finished fold's result read back for resuming, checked against the fold it must answer: fold number, exactly the
 * fold's test patients with their labels, and a probability for every head output of `tasks`.
 * @throws naming the file (and row) that does not fit.
 */
export function checkedFoldResult(dir: string, fold: number, test: readonly Patient[], tasks: readonly TaskName[]): FoldResult {
  const result = readFoldResult(dir);
  const csv = path.join(dir, 'predictions.csv');
  const file = path.join(dir, 'result.json');
  if (result.fold !== fold) throw new Error(`fold result expected fold ${fold}, got ${result.fold} (${file})`);
  if (typeof result.selectedEpoch !== 'number' || !Array.isArray(result.history)) {
    throw new Error(`fold result expected an image model's selectedEpoch and history, got ${Object.keys(result).filter((k) => k !== 'predictions').join(', ')} (${file})`);
  }
  checkPredictionRows(result, tasks, csv);
  const labels = new Map(test.map((p) => [p.id, p.label]));
  const seen = new Set<string>();
  result.predictions.forEach((p, i) => {
    const label = labels.get(p.patientId);
    if (label === undefined || seen.has(p.patientId)) throw new Error(`patient expected one of the fold's test patients, once, got ${p.patientId} (${csv}, row ${i + 2})`);
    if (label !== p.label) throw new Error(`label of patient ${p.patientId} expected ${label}, got ${p.label} (${csv}, row ${i + 2})`);
    seen.add(p.patientId);
  });
  if (seen.size !== labels.size) throw new Error(`predictions expected the fold's ${labels.size} test patients, got ${seen.size} (${csv})`);
  return result as FoldResult;
}

/** A run folder read back (`ich train` or `ich train-tabular` output): its finished folds and what was passed over. */
export interface RunFolder {
  /** The model's name: the one given, else run.json's model, else the folder's name. */
  model: string;
  dir: string;
  /** Finished folds (fold-K/ with result.json and predictions.csv), in fold order. */
  results: FinishedFold[];
  /** Fold folders not used, each with why (unfinished, unreadable, or a prediction that is not a probability). */
  skipped: { fold: string; reason: string }[];
}

/** The model named in a run folder's run.json; undefined where there is none (tabular runs write no run.json). */
function runModelName(dir: string): string | undefined {
  try {
    const model = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).model;
    return typeof model === 'string' && model !== '' ? model : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads every finished fold of a run folder, for summaries outside a notebook. A fold still training or with a
 * broken file is passed over and listed in `skipped`, so one bad fold does not hide the rest.
 * @throws when the folder is missing or holds no fold-K folders.
 */
export function readRunFolder(dir: string, name?: string): RunFolder {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    throw new Error(`run folder expected a readable directory, got ${(err as NodeJS.ErrnoException).code ?? 'an error'} (${dir})`);
  }
  const folds = entries
    .map((e) => /^fold-(\d+)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null && fs.statSync(path.join(dir, m[0])).isDirectory())
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  if (folds.length === 0) throw new Error(`run folder expected fold-K folders (ich train or ich train-tabular output), got none (${dir})`);
  const out: RunFolder = { model: name ?? runModelName(dir) ?? path.basename(path.resolve(dir)), dir, results: [], skipped: [] };
  for (const [folder] of folds) {
    const foldDir = path.join(dir, folder);
    const missing = missingFoldFiles(foldDir);
    if (missing.length > 0) {
      out.skipped.push({ fold: folder, reason: `unfinished (no ${missing.join(' or ')})` });
      continue;
    }
    try {
      const result = readFoldResult(foldDir);
      checkPredictionRows(result, ['prognosis'], path.join(foldDir, 'predictions.csv'));
      out.results.push(result);
    } catch (err) {
      out.skipped.push({ fold: folder, reason: (err as Error).message });
    }
  }
  return out;
}
