import * as path from 'node:path';
import { Patient } from '../data/cohort';
import { usableScans } from '../data/scan-check';
import { crossValidationFolds } from '../data/splits';
import { writeFileAtomic } from '../io/atomic';
import { formatCsv } from '../io/csv';
import { deriveSeed } from '../math/random';
import { fitTabular, TabularModelName } from '../models/tabular';

/** One fold of a tabular baseline, in the same shape as the image models' fold results. */
export interface TabularFoldResult {
  fold: number;
  model: string;
  predictions: { patientId: string; label: number; probabilities: { prognosis: number[] } }[];
  info: Record<string, unknown>;
}

/**
 * Cross-validates a tabular baseline on exactly the image models' folds (the same patients, with those whose scans
 * cannot be read passed over as the image runs do, and the same splits of their label vector, training on the
 * oversampled training part), writing `fold-K/predictions.csv` and `fold-K/result.json` under `out` like the image
 * models, so one table compares all.
 */
export async function runTabularCrossValidation(options: {
  model: TabularModelName;
  patients: readonly Patient[];
  out: string;
  /** Cache root holding the scans' verdicts (`usableScans`), the image runs' `cacheDir`. */
  cacheDir: string;
  /** Told of each patient passed over; default `console.warn`. */
  onNotice?: (message: string) => void;
  folds?: number[];
  foldCount?: number;
  seed?: number;
  epochs?: number;
}): Promise<TabularFoldResult[]> {
  const { model, out } = options;
  const { usable: patients } = await usableScans(options.patients, options.cacheDir, { notice: options.onNotice ?? ((m) => console.warn(m)) });
  const seed = options.seed ?? 1;
  const folds = crossValidationFolds(patients.map((p) => p.label), { folds: options.foldCount ?? 10 });
  const wanted = options.folds ?? folds.map((_, i) => i);
  const results: TabularFoldResult[] = [];
  for (const k of wanted) {
    if (!Number.isInteger(k) || k < 0 || k >= folds.length) throw new Error(`fold expected an integer in 0..${folds.length - 1}, got ${k}`);
    const f = folds[k];
    const pick = (idx: number[]) => idx.map((i) => patients[i]);
    const test = pick(f.test);
    const fit = await fitTabular(model, pick(f.trainOversampled), pick(f.val), test, deriveSeed(seed, k), { epochs: options.epochs });
    const predictions = test.map((p, i) => ({ patientId: p.id, label: p.label, probabilities: { prognosis: [fit.test[i]] } }));
    const dir = path.join(out, `fold-${k}`);
    writeFileAtomic(path.join(dir, 'predictions.csv'), formatCsv(['PatientID', 'label', 'fold', 'p_prognosis'], predictions.map((p) => [p.patientId, p.label, k, +p.probabilities.prognosis[0].toPrecision(7)])));
    writeFileAtomic(path.join(dir, 'result.json'), JSON.stringify({ fold: k, model, info: fit.info }, null, 1));
    results.push({ fold: k, model, predictions, info: fit.info });
  }
  return results;
}
