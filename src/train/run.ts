import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../backend';
import { cacheDir, dataDir, runsDir } from '../config/paths';
import { Profile } from '../config/profiles';
import { discoverCohort } from '../data/cohort';
import { modelSpec, ModelSpec, TaskName } from '../models/tasks';
import { profilePatients, runCrossValidation } from './cv';
import { FoldResult, TrainProgress } from './loop';

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
 * Cross-validates a model for a notebook cell: starts the backend, discovers the cohort, trains (resuming finished
 * folds from `runs/<profile>/<model>`), and returns the fold results.
 */
export async function trainModel(request: RunRequest): Promise<{ spec: ModelSpec; out: string; results: FoldResult[] }> {
  const spec = typeof request.model === 'string' ? modelSpec(request.model) : request.model;
  const report = await initBackend();
  const cohort = discoverCohort(request.data ?? dataDir());
  const out = request.out ?? path.join(runsDir(), request.profile.name, spec.name);
  const cpu = report.backend === 'wasm' || report.backend === 'cpu';
  const results = await runCrossValidation({
    spec,
    profile: request.profile,
    patients: profilePatients(cohort.patients, request.profile),
    out,
    folds: request.folds,
    seed: request.seed,
    cacheDir: cacheDir(),
    workers: request.workers ?? (cpu ? Math.min(2, os.cpus().length) : 1),
    backend: report.backend,
    onProgress: request.onProgress,
  });
  return { spec, out, results };
}

/** The prognosis test predictions of fold results as {labels, scores} per fold (for metrics and tables). */
export function foldPredictions(results: readonly FoldResult[], task: TaskName = 'prognosis'): { labels: number[]; scores: number[] }[] {
  return results.map((r) => ({ labels: r.predictions.map((p) => p.label), scores: r.predictions.map((p) => p.probabilities[task]?.[0] ?? NaN) }));
}
