/** Confusion counts and balanced accuracy: what training needs for model selection, below the evaluation layer. */

/** Confusion counts at a threshold: a case is positive when score >= threshold (the paper's inclusive rule). */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function checkBinaryInputs(labels: readonly number[], scores: readonly number[], where: string): void {
  if (labels.length !== scores.length) throw new Error(`${where} expected as many scores as labels, got ${scores.length} and ${labels.length}`);
  labels.forEach((y, i) => {
    if (y !== 0 && y !== 1) throw new Error(`${where} labels expected 0 or 1, got ${y} at index ${i}`);
  });
  scores.forEach((s, i) => {
    if (Number.isNaN(s)) throw new Error(`${where} scores expected numbers, got NaN at index ${i}`);
  });
}

/** Confusion counts of scores (probabilities) against 0/1 labels. */
export function confusion(labels: readonly number[], scores: readonly number[], threshold = 0.5): Confusion {
  checkBinaryInputs(labels, scores, 'confusion');
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  labels.forEach((y, i) => {
    const p = scores[i] >= threshold;
    if (y === 1) p ? c.tp++ : c.fn++;
    else p ? c.fp++ : c.tn++;
  });
  return c;
}

/**
 * Balanced accuracy: the mean recall over the classes present in the labels (scikit-learn 1.2 drops a class absent
 * from y_true, with a warning there); NaN for empty input.
 */
export function balancedAccuracy(labels: readonly number[], scores: readonly number[], threshold = 0.5): number {
  const c = confusion(labels, scores, threshold);
  const rates: number[] = [];
  if (c.tp + c.fn > 0) rates.push(c.tp / (c.tp + c.fn));
  if (c.tn + c.fp > 0) rates.push(c.tn / (c.tn + c.fp));
  return rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : NaN;
}

