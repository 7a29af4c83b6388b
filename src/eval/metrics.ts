/** Binary classification metrics with positive class = poor prognosis (1). */

/** Confusion counts at a threshold: a case is positive when score >= threshold (the paper's inclusive rule). */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Confusion counts of scores (probabilities) against 0/1 labels. */
export function confusion(labels: readonly number[], scores: readonly number[], threshold = 0.5): Confusion {
  if (labels.length !== scores.length) throw new Error(`confusion expected as many scores as labels, got ${scores.length} and ${labels.length}`);
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  labels.forEach((y, i) => {
    const p = scores[i] >= threshold;
    if (y === 1) p ? c.tp++ : c.fn++;
    else p ? c.fp++ : c.tn++;
  });
  return c;
}

/**
 * Balanced accuracy: the mean of sensitivity and specificity. Like scikit-learn 1.2's balanced_accuracy_score, a
 * class absent from the labels is left out of the mean (with a warning there); NaN for empty input.
 */
export function balancedAccuracy(labels: readonly number[], scores: readonly number[], threshold = 0.5): number {
  const c = confusion(labels, scores, threshold);
  const rates: number[] = [];
  if (c.tp + c.fn > 0) rates.push(c.tp / (c.tp + c.fn));
  if (c.tn + c.fp > 0) rates.push(c.tn / (c.tn + c.fp));
  return rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : NaN;
}
