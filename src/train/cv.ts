import * as fs from 'node:fs';
import * as path from 'node:path';
import { Profile } from '../config/profiles';
import { VolumeCache } from '../data/cache';
import { Patient } from '../data/cohort';
import { crossValidationFolds, CvFold } from '../data/splits';
import { writeFileAtomic } from '../io/atomic';
import { ModelSpec } from '../models/tasks';
import { VolumeSource } from './data';
import { FoldResult, trainFold, TrainProgress, TrainRecipe } from './loop';

/** A cross-validation run of one model. */
export interface CrossValidationOptions {
  spec: ModelSpec;
  profile: Profile;
  patients: readonly Patient[];
  /** Output folder: one `fold-K/` per fold plus `run.json`. */
  out: string;
  /** Fold indices to run (default all). */
  folds?: number[];
  seed?: number;
  cacheDir: string;
  /** Overrides of the profile's recipe (loss weights are in `spec`). */
  recipe?: Partial<TrainRecipe>;
  onProgress?: (p: TrainProgress) => void;
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
 * each trained by `trainFold` under `out/fold-K`. A fold whose `result.json` exists is read back, not retrained, and
 * an interrupted fold resumes from its last epoch, so re-running after a kill finishes the same run.
 */
export async function runCrossValidation(options: CrossValidationOptions): Promise<FoldResult[]> {
  const { spec, profile, patients, out } = options;
  const seed = options.seed ?? 1;
  const recipe = recipeFor(spec, profile, seed, options.recipe);
  const folds: CvFold[] = crossValidationFolds(patients.map((p) => p.label), { folds: profile.folds });
  const wanted = options.folds ?? folds.map((_, i) => i);
  for (const k of wanted) {
    if (!Number.isInteger(k) || k < 0 || k >= folds.length) throw new Error(`fold expected an integer in 0..${folds.length - 1}, got ${k}`);
  }
  fs.mkdirSync(out, { recursive: true });
  writeFileAtomic(
    path.join(out, 'run.json'),
    JSON.stringify({ model: spec.name, spec, profile: profile.name, seed, folds: wanted, patients: patients.map((p) => p.id), recipe }, null, 1),
  );
  const source = new VolumeSource(new VolumeCache(options.cacheDir, { size: profile.inputSize, padDepth: profile.padDepth, quirks: recipe.quirks }), profile.inputSize);
  const results: FoldResult[] = [];
  for (const k of wanted) {
    const dir = path.join(out, `fold-${k}`);
    const done = path.join(dir, 'result.json');
    if (fs.existsSync(done) && fs.existsSync(path.join(dir, 'predictions.csv'))) {
      results.push(readFoldResult(dir));
      continue;
    }
    const r = await trainFold({ recipe, patients, fold: folds[k], foldIndex: k, source, dir, onProgress: options.onProgress });
    if (r) results.push(r);
  }
  return results;
}

/** Reads a finished fold's result and test predictions back from its folder. */
export function readFoldResult(dir: string): FoldResult {
  const result = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')) as FoldResult;
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
