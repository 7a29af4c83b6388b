import { TaskName, taskTargets } from '../models/tasks';
import { binaryMetrics, rocAuc, rocCurve } from './metrics';
import { balancedAccuracy } from '../math/confusion';
import { bootstrapInterval, delongTest } from './stats';

/** One fold's test predictions, as image and tabular cross-validations both write them. */
export interface FoldPredictionSet {
  fold: number;
  predictions: readonly { patientId: string; label: number; probabilities: Partial<Record<TaskName, number[]>> }[];
}

/** A model's out-of-fold predictions of one head: every patient once, from the fold that tested it. */
export interface PooledPredictions {
  model: string;
  task: TaskName;
  patientIds: string[];
  /** 0/1 targets of the head (prognosis: 1 = poor). */
  labels: number[];
  /** Predicted probability of class 1. */
  scores: number[];
  /** The fold that tested each patient. */
  folds: number[];
}

/**
 * Pools the test predictions of a k-fold cross-validation (each patient is tested exactly once), for one head.
 * Auxiliary heads need the patients (clinical rows: GCS 3-15, age in years) for their targets; the ordinal GCS head is scored on its second bit
 * (GCS <= 8, the binary GCS target) unless `bit` says otherwise.
 * @throws naming the patient when one is tested twice, or when an auxiliary target cannot be formed.
 */
export function pooledPredictions(
  model: string,
  results: readonly FoldPredictionSet[],
  task: TaskName = 'prognosis',
  options: { patients?: readonly { id: string; label: number; gcs: number; age: number }[]; bit?: number } = {},
): PooledPredictions {
  const byId = new Map((options.patients ?? []).map((p) => [p.id, p]));
  const bit = options.bit ?? (task === 'gcs-ordinal' ? 1 : 0);
  const seen = new Map<string, number>();
  const out: PooledPredictions = { model, task, patientIds: [], labels: [], scores: [], folds: [] };
  for (const r of results) {
    for (const p of r.predictions) {
      if (seen.has(p.patientId)) {
        throw new Error(`pooled predictions expected each patient tested once, got patient ${p.patientId} in folds ${seen.get(p.patientId)} and ${r.fold} (${model})`);
      }
      seen.set(p.patientId, r.fold);
      const probabilities = p.probabilities[task];
      if (!probabilities || probabilities.length <= bit) throw new Error(`pooled predictions expected a ${task} output ${bit} for patient ${p.patientId}, got none (${model})`);
      let label = p.label;
      if (task !== 'prognosis') {
        const patient = byId.get(p.patientId);
        if (!patient) throw new Error(`pooled predictions expected the clinical row of patient ${p.patientId} for the ${task} target, got none (${model})`);
        label = taskTargets(task, patient)[bit];
      }
      out.patientIds.push(p.patientId);
      out.labels.push(label);
      out.scores.push(probabilities[bit]);
      out.folds.push(r.fold);
    }
  }
  return out;
}

/** ROC curve and AUC of pooled predictions, named for a legend (rocFigure's input). */
export function pooledRoc(p: PooledPredictions, name = p.model): { name: string; fpr: number[]; tpr: number[]; auc: number } {
  const { fpr, tpr } = rocCurve(p.labels, p.scores);
  return { name, fpr, tpr, auc: rocAuc(p.labels, p.scores) };
}

/** One row of a comparison table: pooled metrics with bootstrap intervals, and DeLong's test against the reference. */
export interface ComparisonRow {
  model: string;
  task: TaskName;
  /** Patients compared (those the reference also predicted). */
  n: number;
  auc: { estimate: number; lower: number; upper: number };
  balancedAccuracy: { estimate: number; lower: number; upper: number };
  sensitivity: number;
  specificity: number;
  /** True on the reference model's own row. */
  isReference: boolean;
  /** Against the reference model on the same patients; null on the reference's own row or when undefined. */
  delong: { reference: string; difference: number; ci95: [number, number]; pValue: number } | null;
  /** Bootstrap resamples skipped because one class was missing. */
  skippedResamples: number;
}

function align(model: PooledPredictions, reference: PooledPredictions): { labels: number[]; scores: number[]; referenceScores: number[] } {
  const refIndex = new Map(reference.patientIds.map((id, i) => [id, i]));
  const labels: number[] = [];
  const scores: number[] = [];
  const referenceScores: number[] = [];
  model.patientIds.forEach((id, i) => {
    const j = refIndex.get(id);
    if (j === undefined) return;
    if (reference.labels[j] !== model.labels[i]) {
      throw new Error(`model comparison expected one label per patient, got ${model.labels[i]} (${model.model}) and ${reference.labels[j]} (${reference.model}) for patient ${id}`);
    }
    labels.push(model.labels[i]);
    scores.push(model.scores[i]);
    referenceScores.push(reference.scores[j]);
  });
  return { labels, scores, referenceScores };
}

/**
 * Compares models on the patients they share with a reference model (the proposed one): pooled AUC and balanced
 * accuracy (threshold 0.5) with seeded percentile-bootstrap 95 % intervals, and DeLong's test of the AUC difference
 * (model - reference). Beyond the paper, which reports fold means only; the fold-mean table stays the paper's view.
 * @param options resamples (default 2000) and seed (default 1) of the bootstrap.
 */
export function compareModels(models: readonly PooledPredictions[], reference: string, options: { resamples?: number; seed?: number } = {}): ComparisonRow[] {
  const ref = models.find((m) => m.model === reference);
  if (!ref) throw new Error(`model comparison expected the reference "${reference}" among the models, got ${models.map((m) => m.model).join(', ') || 'none'}`);
  const { resamples = 2000, seed = 1 } = options;
  return models.map((m) => {
    const { labels, scores, referenceScores } = align(m, ref);
    if (labels.length === 0) throw new Error(`model comparison expected patients shared by ${m.model} and ${reference}, got none`);
    const auc = bootstrapInterval(labels, scores, (y, s) => rocAuc(y, s), { resamples, seed });
    const bacc = bootstrapInterval(labels, scores, (y, s) => balancedAccuracy(y, s, 0.5), { resamples, seed });
    const whole = binaryMetrics(labels, scores);
    let delong: ComparisonRow['delong'] = null;
    if (m !== ref) {
      try {
        const d = delongTest(labels, scores, referenceScores);
        delong = { reference, difference: d.difference, ci95: d.ci95, pValue: d.pValue };
      } catch {
        delong = null; // fewer than two patients of a class: no test
      }
    }
    return {
      model: m.model,
      task: m.task,
      n: labels.length,
      auc: { estimate: auc.estimate, lower: auc.lower, upper: auc.upper },
      balancedAccuracy: { estimate: bacc.estimate, lower: bacc.lower, upper: bacc.upper },
      sensitivity: whole.sensitivity,
      specificity: whole.specificity,
      isReference: m === ref,
      delong,
      skippedResamples: auc.skipped,
    };
  });
}

/** The comparison as table rows: "0.712 [0.65, 0.77]" cells and DeLong's difference and p-value. */
export function comparisonTable(rows: readonly ComparisonRow[]): { header: string[]; rows: string[][] } {
  const f = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
  const interval = (x: { estimate: number; lower: number; upper: number }) => `${f(x.estimate)} [${f(x.lower)}, ${f(x.upper)}]`;
  return {
    header: ['model', 'head', 'patients', 'AUC [95% CI]', 'BAcc [95% CI]', 'Sens', 'Spec', 'AUC - reference [95% CI]', 'DeLong p'],
    rows: rows.map((r) => [
      r.model,
      r.task,
      String(r.n),
      interval(r.auc),
      interval(r.balancedAccuracy),
      f(r.sensitivity),
      f(r.specificity),
      r.isReference ? 'reference' : r.delong ? `${r.delong.difference >= 0 ? '+' : ''}${f(r.delong.difference)} [${f(r.delong.ci95[0])}, ${f(r.delong.ci95[1])}]` : 'n/a (a class has < 2 patients)',
      r.delong ? (r.delong.pValue < 0.001 ? '<0.001' : r.delong.pValue.toFixed(3)) : '',
    ]),
  };
}

/**
 * Our models on one fold's test set in the columns of the paper's reader comparison (threshold 0.5, positive = poor).
 * The readers' answers exist only for the real cohort's fold 0, so they are never recomputed here.
 */
export function foldReaderColumns(models: readonly { model: string; result: FoldPredictionSet }[]): { header: string[]; rows: string[][] } {
  const f = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
  return {
    header: ['model (this run)', 'fold', 'patients', 'Acc', 'BAcc', 'Sens', 'Spec', 'PPV', 'NPV', 'F1', 'AUC'],
    rows: models.map(({ model, result }) => {
      const labels = result.predictions.map((p) => p.label);
      const m = binaryMetrics(labels, result.predictions.map((p) => p.probabilities.prognosis?.[0] ?? NaN));
      return [model, String(result.fold), String(m.n), ...[m.accuracy, m.balancedAccuracy, m.sensitivity, m.specificity, m.precision, m.npv, m.f1, m.auc].map(f)];
    }),
  };
}
