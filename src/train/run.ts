import * as path from 'node:path';
import { BackendReport, initBackend, keepFreedMemory } from '../backend';
import { cacheDir, dataDir, runsDir } from '../config/paths';
import { Profile } from '../config/profiles';
import { discoverCohort, Patient } from '../data/cohort';
import { modelSpec, ModelSpec, TaskName } from '../models/tasks';
import { profilePatients, runCrossValidation } from './cv';
import { FoldResult, TrainProgress } from './loop';
import { FoldMemoryPlan, foldMemoryPlan, leastFoldMemory } from './memory';
import { TabularModelName } from '../models/tabular';
import { runTabularCrossValidation, TabularFoldResult } from './tabular';

/** A model spec with other loss weights (plain data a notebook cell edits); unknown heads are an error. */
export function withLossWeights(spec: ModelSpec, weights: Partial<Record<TaskName, number>>, name?: string): ModelSpec {
  for (const task of Object.keys(weights)) {
    if (!spec.tasks.some((t) => t.task === task)) throw new Error(`loss weight expected for a head of ${spec.name} (${spec.tasks.map((t) => t.task).join(', ')}), got "${task}"`);
  }
  const tasks = spec.tasks.map((t) => ({ task: t.task, weight: weights[t.task] ?? t.weight }));
  return { ...spec, name: name ?? `${spec.name}-${tasks.map((t) => t.weight).join('-')}`, tasks };
}

/** What a notebook asks for: a model (name or spec), a profile, folds, and optionally the data and output folders. */
export interface RunRequest {
  model: string | ModelSpec;
  profile: Profile;
  folds?: number[];
  seed?: number;
  data?: string;
  out?: string;
  workers?: number;
  onProgress?: (p: TrainProgress) => void;
}

/**
 * Starts the backend for training `profile` and plans its folds by memory (src/train/memory.ts): the automatic choice
 * passes over wasm when a fold cannot fit its heap, and the plan's choice of keeping freed memory is applied. For
 * `ich train` and {@link trainModel}; the caller shows `plan.note`. `workers`: the user's fold count, if any.
 */
export async function startTraining(profile: Profile, workers?: number): Promise<{ report: BackendReport; plan: FoldMemoryPlan }> {
  const report = await initBackend(undefined, { memoryNeeded: leastFoldMemory(profile) });
  const plan = foldMemoryPlan(profile, report.backend, { workers });
  keepFreedMemory(plan.keepFreedMemory);
  return { report, plan };
}

/**
 * Cross-validates a model for a notebook cell: starts the backend, discovers the cohort, trains (resuming finished
 * folds from `runs/<profile>/<model>`), and returns the fold results.
 */
export async function trainModel(request: RunRequest): Promise<{ spec: ModelSpec; out: string; results: FoldResult[] }> {
  const spec = typeof request.model === 'string' ? modelSpec(request.model) : request.model;
  const { report, plan } = await startTraining(request.profile, request.workers);
  if (plan.note) console.log(plan.note);
  const cohort = discoverCohort(request.data ?? dataDir());
  const out = request.out ?? path.join(runsDir(), request.profile.name, spec.name);
  const results = await runCrossValidation({
    spec,
    profile: request.profile,
    patients: profilePatients(cohort.patients, request.profile),
    out,
    folds: request.folds,
    seed: request.seed,
    cacheDir: cacheDir(),
    workers: plan.workers,
    backend: report.backend,
    recomputeMinBytes: plan.recomputeMinBytes,
    onProgress: request.onProgress,
  });
  return { spec, out, results };
}

/** The patients a profile trains on (its first `maxPatients` usable patients of the cohort at `data`). */
export function profileCohortPatients(profile: Profile, data: string = dataDir()): Patient[] {
  return profilePatients(discoverCohort(data).patients, profile);
}

/** A progress callback for notebooks: one line per finished epoch (fold, loss, validation balanced accuracy). */
export function logEpochs(p: TrainProgress): void {
  if (p.valBalancedAccuracy === undefined) return;
  console.log(`fold ${p.fold} epoch ${p.epoch}/${p.epochs}: train loss ${p.loss.toFixed(4)}, val BAcc ${p.valBalancedAccuracy.toFixed(3)}`);
}

/** The prognosis test predictions of fold results (image or tabular) as {labels, scores} per fold (for metrics and tables). */
export function foldPredictions(results: readonly { predictions: readonly { label: number; probabilities: Partial<Record<TaskName, number[]>> }[] }[], task: TaskName = 'prognosis'): { labels: number[]; scores: number[] }[] {
  return results.map((r) => ({ labels: r.predictions.map((p) => p.label), scores: r.predictions.map((p) => p.probabilities[task]?.[0] ?? NaN) }));
}

/**
 * Cross-validates a tabular baseline for a notebook cell or the CLI on exactly the image models' patients and folds
 * of the profile (retrained each time: seconds). Writes under `runs/<profile>/tabular-<model>` unless `out` is given.
 */
export async function trainTabularModel(request: { model: TabularModelName; profile: Profile; folds?: number[]; seed?: number; data?: string; out?: string }): Promise<{ out: string; results: TabularFoldResult[] }> {
  if (request.model === 'mlp') await initBackend();
  const cohort = discoverCohort(request.data ?? dataDir());
  const out = request.out ?? path.join(runsDir(), request.profile.name, `tabular-${request.model}`);
  const results = await runTabularCrossValidation({
    model: request.model,
    patients: profilePatients(cohort.patients, request.profile),
    out,
    folds: request.folds,
    foldCount: request.profile.folds,
    seed: request.seed,
    cacheDir: cacheDir(),
  });
  return { out, results };
}
