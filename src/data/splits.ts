import { NumpyRandomState } from '../math/mt19937';

/** Classes in order of first appearance, and each sample's class index (as scikit-learn's StratifiedKFold encodes). */
function encodeByAppearance(labels: readonly number[]): { encoded: number[]; classes: number } {
  const seen = new Map<number, number>();
  const sortedUnique = [...new Set(labels)].sort((a, b) => a - b);
  const firstIndex = new Map<number, number>();
  labels.forEach((y, i) => {
    if (!firstIndex.has(y)) firstIndex.set(y, i);
  });
  sortedUnique
    .slice()
    .sort((a, b) => firstIndex.get(a)! - firstIndex.get(b)!)
    .forEach((y, k) => seen.set(y, k));
  return { encoded: labels.map((y) => seen.get(y)!), classes: sortedUnique.length };
}

function checkLabels(labels: readonly number[], where: string): void {
  labels.forEach((y, i) => {
    if (!Number.isFinite(y)) throw new Error(`${where} labels expected finite numbers, got ${y} at index ${i}`);
  });
}

/**
 * Test-fold assignment of `StratifiedKFold(nSplits, shuffle=True, random_state=seed)` (scikit-learn 1.2):
 * a round-robin allocation per class, each class's fold numbers shuffled with NumPy's RandomState.
 * @returns fold index of every sample.
 */
export function stratifiedFoldAssignment(labels: readonly number[], nSplits = 10, seed = 1): number[] {
  checkLabels(labels, 'StratifiedKFold');
  if (!Number.isInteger(nSplits) || nSplits < 2) throw new Error(`StratifiedKFold n_splits expected an integer >= 2, got ${nSplits}`);
  if (nSplits > labels.length) throw new Error(`StratifiedKFold n_splits expected <= number of samples ${labels.length}, got ${nSplits}`);
  const { encoded, classes } = encodeByAppearance(labels);
  const counts = new Array<number>(classes).fill(0);
  encoded.forEach((k) => counts[k]++);
  if (counts.every((c) => nSplits > c)) {
    throw new Error(`StratifiedKFold n_splits expected <= the largest class size ${Math.max(...counts)}, got ${nSplits}`);
  }
  const order = encoded.slice().sort((a, b) => a - b);
  const allocation: number[][] = [];
  for (let i = 0; i < nSplits; i++) {
    const row = new Array<number>(classes).fill(0);
    for (let j = i; j < order.length; j += nSplits) row[order[j]]++;
    allocation.push(row);
  }
  const rng = new NumpyRandomState(seed);
  const folds = new Array<number>(labels.length);
  for (let k = 0; k < classes; k++) {
    const forClass: number[] = [];
    for (let f = 0; f < nSplits; f++) for (let r = 0; r < allocation[f][k]; r++) forClass.push(f);
    rng.shuffle(forClass);
    let next = 0;
    encoded.forEach((c, i) => {
      if (c === k) folds[i] = forClass[next++];
    });
  }
  return folds;
}

/** Train and test indices (ascending) of each fold of {@link stratifiedFoldAssignment}. */
export function stratifiedKFold(labels: readonly number[], nSplits = 10, seed = 1): { train: number[]; test: number[] }[] {
  const folds = stratifiedFoldAssignment(labels, nSplits, seed);
  return Array.from({ length: nSplits }, (_, f) => ({
    train: folds.flatMap((g, i) => (g === f ? [] : [i])),
    test: folds.flatMap((g, i) => (g === f ? [i] : [])),
  }));
}

/** scikit-learn's `_approximate_mode`: per-class draws summing to nDraws, remainders broken by random choice. */
function approximateMode(classCounts: number[], nDraws: number, rng: NumpyRandomState): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0);
  const continuous = classCounts.map((c) => (c / total) * nDraws);
  const floored = continuous.map(Math.floor);
  let needToAdd = Math.trunc(nDraws - floored.reduce((a, b) => a + b, 0));
  if (needToAdd > 0) {
    const remainder = continuous.map((c, i) => c - floored[i]);
    const values = [...new Set(remainder)].sort((a, b) => b - a);
    for (const value of values) {
      const inds = remainder.flatMap((r, i) => (r === value ? [i] : []));
      const addNow = Math.min(inds.length, needToAdd);
      for (const i of rng.choiceWithoutReplacement(inds, addNow)) floored[i] += 1;
      needToAdd -= addNow;
      if (needToAdd === 0) break;
    }
  }
  return floored;
}

/**
 * `train_test_split(range(n), test_size=testSize, random_state=seed, stratify=labels)` (scikit-learn 1.2,
 * StratifiedShuffleSplit): n_test = ceil(testSize * n), stratified per class, both parts in sklearn's shuffled order.
 * @returns positions into `labels`.
 */
export function stratifiedTrainTestSplit(labels: readonly number[], testSize = 0.1, seed = 1): { train: number[]; test: number[] } {
  checkLabels(labels, 'train_test_split');
  const n = labels.length;
  if (!(testSize > 0 && testSize < 1)) throw new Error(`train_test_split test_size expected a fraction in (0, 1), got ${testSize}`);
  const nTest = Math.ceil(testSize * n);
  const nTrain = n - nTest;
  if (nTrain <= 0) throw new Error(`train_test_split expected a non-empty train part, got n=${n}, test_size=${testSize}`);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const yIndices = labels.map((y) => classes.indexOf(y));
  const classCounts = classes.map((_, k) => yIndices.filter((c) => c === k).length);
  if (Math.min(...classCounts) < 2) {
    throw new Error(`train_test_split stratify expected at least 2 samples in every class, got class counts [${classCounts.join(', ')}]`);
  }
  if (nTrain < classes.length) throw new Error(`train_test_split train size ${nTrain} expected >= number of classes ${classes.length}`);
  if (nTest < classes.length) throw new Error(`train_test_split test size ${nTest} expected >= number of classes ${classes.length}`);
  // Stable argsort by class = indices of each class in ascending order.
  const classIndices = classes.map((_, k) => yIndices.flatMap((c, i) => (c === k ? [i] : [])));
  const rng = new NumpyRandomState(seed);
  const nI = approximateMode(classCounts, nTrain, rng);
  const remaining = classCounts.map((c, i) => c - nI[i]);
  const tI = approximateMode(remaining, nTest, rng);
  const train: number[] = [];
  const test: number[] = [];
  classes.forEach((_, k) => {
    const perm = rng.permutation(classCounts[k]);
    const permIndices = perm.map((p) => classIndices[k][p]);
    train.push(...permIndices.slice(0, nI[k]));
    test.push(...permIndices.slice(nI[k], nI[k] + tI[k]));
  });
  return { train: rng.permutation(train), test: rng.permutation(test) };
}

/**
 * `RandomOverSampler(random_state=seed).fit_resample` (imbalanced-learn 0.10, strategy 'auto'): every class
 * but the majority is resampled with replacement up to the majority count.
 * @returns positions into `labels`: all of them in order, then the drawn extra samples class by class.
 */
export function randomOverSample(labels: readonly number[], seed = 2): number[] {
  checkLabels(labels, 'RandomOverSampler');
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const counts = classes.map((c) => labels.filter((y) => y === c).length);
  const majorityCount = Math.max(...counts, 0);
  const majority = classes[counts.indexOf(majorityCount)];
  const rng = new NumpyRandomState(seed);
  const out = labels.map((_, i) => i);
  classes.forEach((c, k) => {
    if (c === majority) return;
    const need = majorityCount - counts[k];
    const members = labels.flatMap((y, i) => (y === c ? [i] : []));
    for (const r of rng.randint(0, counts[k], need)) out.push(members[r]);
  });
  return out;
}

/** One cross-validation fold as the authors built it; every array indexes the label vector given. */
export interface CvFold {
  /** Test part of StratifiedKFold, ascending. */
  test: number[];
  /** Validation part (stratified, in scikit-learn's order). */
  val: number[];
  /** Training part after the validation split (scikit-learn's order). */
  train: number[];
  /** `train` followed by the oversampled extra minority samples. */
  trainOversampled: number[];
}

/** Seeds and sizes of {@link crossValidationFolds}; defaults are the paper's. */
export interface CvOptions {
  folds?: number;
  seed?: number;
  valFraction?: number;
  valSeed?: number;
  oversampleSeed?: number;
}

/**
 * The paper's splits for any 0/1 label vector (paper.md, "Splits and labels"): StratifiedKFold(10, shuffle,
 * seed 1); inside each fold's training part a stratified 10 % validation split (seed 1); random oversampling of
 * the remaining training part (seed 2).
 */
export function crossValidationFolds(labels: readonly number[], options: CvOptions = {}): CvFold[] {
  const { folds = 10, seed = 1, valFraction = 0.1, valSeed = 1, oversampleSeed = 2 } = options;
  return stratifiedKFold(labels, folds, seed).map(({ train: trainAll, test }) => {
    const inner = stratifiedTrainTestSplit(trainAll.map((i) => labels[i]), valFraction, valSeed);
    const train = inner.train.map((p) => trainAll[p]);
    const val = inner.test.map((p) => trainAll[p]);
    const over = randomOverSample(train.map((i) => labels[i]), oversampleSeed);
    return { test, val, train, trainOversampled: over.map((p) => train[p]) };
  });
}
