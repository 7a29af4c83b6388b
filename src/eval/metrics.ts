import { balancedAccuracy, checkBinaryInputs, Confusion, confusion } from '../math/confusion';
import { averageRanks } from '../math/ranks';

/**
 * Binary classification metrics with positive class = poor prognosis (1), matching scikit-learn 1.2 including its
 * corner cases: where scikit-learn divides by zero with zero_division="warn" the value is 0 (precision, recall, F1,
 * and here specificity and NPV, which are the recall and precision of class 0); accuracy and balanced accuracy of
 * no samples are NaN; ROC AUC with one class throws, as scikit-learn raises ValueError.
 */

export { Confusion, confusion, balancedAccuracy, checkBinaryInputs } from '../math/confusion';

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Every binary metric of the study at a threshold, by the names `ich metrics` prints. */
export interface BinaryMetrics extends Confusion {
  auc: number;
  accuracy: number;
  balancedAccuracy: number;
  /** Recall of class 1. */
  sensitivity: number;
  specificity: number;
  /** Positive predictive value. */
  precision: number;
  npv: number;
  f1: number;
  threshold: number;
  n: number;
}

/** All binary metrics (paper.md, "Training": AUC, accuracy, balanced accuracy, specificity, NPV, precision, recall, F1). */
export function binaryMetrics(labels: readonly number[], scores: readonly number[], threshold = 0.5): BinaryMetrics {
  const c = confusion(labels, scores, threshold);
  const n = labels.length;
  const hasBoth = c.tp + c.fn > 0 && c.tn + c.fp > 0;
  return {
    ...c,
    auc: hasBoth ? rocAuc(labels, scores) : NaN,
    accuracy: n ? (c.tp + c.tn) / n : NaN,
    balancedAccuracy: balancedAccuracy(labels, scores, threshold),
    sensitivity: ratio(c.tp, c.tp + c.fn),
    specificity: ratio(c.tn, c.tn + c.fp),
    precision: ratio(c.tp, c.tp + c.fp),
    npv: ratio(c.tn, c.tn + c.fn),
    f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
    threshold,
    n,
  };
}

/**
 * ROC AUC, equal to scikit-learn's roc_auc_score (trapezoids over distinct thresholds, so ties count one half):
 * computed as the Mann-Whitney statistic with average ranks.
 * @throws when only one class is present, as scikit-learn does.
 */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  checkBinaryInputs(labels, scores, 'rocAuc');
  const pos = labels.filter((y) => y === 1).length;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) throw new Error('rocAuc expected both classes in the labels, got only one: ROC AUC is not defined');
  const ranks = averageRanks(scores);
  let sum = 0;
  labels.forEach((y, i) => {
    if (y === 1) sum += ranks[i];
  });
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** ROC curve points as scikit-learn 1.2's roc_curve (drop_intermediate=True): fpr, tpr and thresholds (first = max + 1). */
export function rocCurve(labels: readonly number[], scores: readonly number[]): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  checkBinaryInputs(labels, scores, 'rocCurve');
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  order.forEach((i, k) => {
    if (labels[i] === 1) tp++;
    else fp++;
    if (k === order.length - 1 || scores[order[k + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(fp);
      thresholds.push(scores[i]);
    }
  });
  // Drop points on straight segments (second differences zero in both fps and tps).
  const keep: number[] = [];
  for (let i = 0; i < fps.length; i++) {
    if (i === 0 || i === fps.length - 1) keep.push(i);
    else if (fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0) keep.push(i);
  }
  const f = [0, ...keep.map((i) => fps[i])];
  const t = [0, ...keep.map((i) => tps[i])];
  const th = [thresholds[keep[0]] + 1, ...keep.map((i) => thresholds[i])];
  const fMax = f[f.length - 1];
  const tMax = t[t.length - 1];
  return { fpr: f.map((v) => (fMax > 0 ? v / fMax : NaN)), tpr: t.map((v) => (tMax > 0 ? v / tMax : NaN)), thresholds: th };
}

/** Metrics of the ordinal GCS classes (0 mild, 1 moderate, 2 severe): accuracy, balanced accuracy, MAE, RMSE, QWK. */
export interface OrdinalMetrics {
  accuracy: number;
  balancedAccuracy: number;
  mae: number;
  rmse: number;
  quadraticKappa: number;
}

/** Ordinal metrics of predicted vs true classes, as scikit-learn's multiclass scores and cohen_kappa_score(weights='quadratic'). */
export function ordinalMetrics(truth: readonly number[], predicted: readonly number[]): OrdinalMetrics {
  if (truth.length !== predicted.length) throw new Error(`ordinalMetrics expected equal lengths, got ${truth.length} and ${predicted.length}`);
  const n = truth.length;
  const classes = [...new Set([...truth, ...predicted])].sort((a, b) => a - b);
  const k = classes.length;
  const idx = new Map(classes.map((c, i) => [c, i]));
  const cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  truth.forEach((t, i) => cm[idx.get(t)!][idx.get(predicted[i])!]++);
  let correct = 0;
  let abs = 0;
  let sq = 0;
  truth.forEach((t, i) => {
    if (t === predicted[i]) correct++;
    abs += Math.abs(t - predicted[i]);
    sq += (t - predicted[i]) ** 2;
  });
  const recalls = cm.map((row, i) => {
    const s = row.reduce((a, b) => a + b, 0);
    return s > 0 ? row[i] / s : NaN;
  }).filter((r) => !Number.isNaN(r));
  // Cohen's kappa with quadratic weights over the label indices, as scikit-learn computes it.
  const rowSum = cm.map((r) => r.reduce((a, b) => a + b, 0));
  const colSum = classes.map((_, j) => cm.reduce((a, r) => a + r[j], 0));
  let num = 0;
  let den = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = k > 1 ? ((i - j) ** 2) / ((k - 1) ** 2) : 0;
      num += w * cm[i][j];
      den += (w * rowSum[i] * colSum[j]) / n;
    }
  }
  return {
    accuracy: n ? correct / n : NaN,
    balancedAccuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : NaN,
    mae: n ? abs / n : NaN,
    rmse: n ? Math.sqrt(sq / n) : NaN,
    quadraticKappa: den === 0 ? NaN : 1 - num / den,
  };
}
