import { mean as ssMean, sampleStandardDeviation } from 'simple-statistics';
import { SeededRandom } from '../math/random';

/** Complementary error function, |relative error| < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Mean and sample standard deviation (ddof 1) over folds, as the paper reports "mean +- std"; NaN values are skipped. */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const v = values.filter((x) => !Number.isNaN(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  return { mean: ssMean(v), std: n > 1 ? sampleStandardDeviation(v) : NaN, n };
}

/** Binomial(n, 1/2) cumulative probability P(X <= k), exact in double precision for the sizes of a test set. */
function binomialHalfCdf(k: number, n: number): number {
  let term = Math.pow(0.5, n);
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term *= (n - i + 1) / i;
    sum += term;
  }
  return Math.min(1, sum);
}

/**
 * McNemar's test for paired correctness of two classifiers (e.g. a model and a reader) on the same patients, as
 * statsmodels' mcnemar: exact (binomial, two-sided, default) or chi-square with continuity correction.
 * @param correctA 0/1 per patient; @param correctB 0/1 per patient.
 */
export function mcnemar(correctA: readonly number[], correctB: readonly number[], exact = true): { statistic: number; pValue: number; b: number; c: number } {
  if (correctA.length !== correctB.length) throw new Error(`mcnemar expected paired vectors, got lengths ${correctA.length} and ${correctB.length}`);
  let b = 0;
  let c = 0;
  correctA.forEach((a, i) => {
    if (a === 1 && correctB[i] === 0) b++;
    else if (a === 0 && correctB[i] === 1) c++;
  });
  if (exact) {
    const statistic = Math.min(b, c);
    return { statistic, pValue: b + c === 0 ? 1 : Math.min(1, 2 * binomialHalfCdf(statistic, b + c)), b, c };
  }
  if (b + c === 0) return { statistic: 0, pValue: 1, b, c };
  const statistic = (Math.abs(b - c) - 1) ** 2 / (b + c);
  return { statistic, pValue: erfc(Math.sqrt(statistic / 2)), b, c };
}

/**
 * DeLong's test for the difference of two correlated ROC AUCs on the same patients (DeLong et al. 1988, structural
 * components): the AUCs, their difference, its standard error, a two-sided p-value and a 95 % interval.
 */
export function delongTest(
  labels: readonly number[],
  scoresA: readonly number[],
  scoresB: readonly number[],
): { aucA: number; aucB: number; difference: number; se: number; z: number; pValue: number; ci95: [number, number] } {
  if (labels.length !== scoresA.length || labels.length !== scoresB.length) throw new Error('delongTest expected labels and both score vectors of one length');
  const pos = labels.flatMap((y, i) => (y === 1 ? [i] : []));
  const neg = labels.flatMap((y, i) => (y === 0 ? [i] : []));
  const m = pos.length;
  const n = neg.length;
  if (m < 2 || n < 2) throw new Error(`delongTest expected at least 2 patients per class, got ${m} positive and ${n} negative`);
  const components = (s: readonly number[]) => {
    const v10 = pos.map((i) => neg.reduce((acc, j) => acc + (s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0), 0) / n);
    const v01 = neg.map((j) => pos.reduce((acc, i) => acc + (s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0), 0) / m);
    return { v10, v01, auc: v10.reduce((a, b) => a + b, 0) / m };
  };
  const A = components(scoresA);
  const B = components(scoresB);
  const cov = (x: number[], y: number[]) => {
    const mx = x.reduce((a, b) => a + b, 0) / x.length;
    const my = y.reduce((a, b) => a + b, 0) / y.length;
    return x.reduce((acc, xi, i) => acc + (xi - mx) * (y[i] - my), 0) / (x.length - 1);
  };
  const variance = (cov(A.v10, A.v10) + cov(B.v10, B.v10) - 2 * cov(A.v10, B.v10)) / m + (cov(A.v01, A.v01) + cov(B.v01, B.v01) - 2 * cov(A.v01, B.v01)) / n;
  const difference = A.auc - B.auc;
  const se = Math.sqrt(Math.max(variance, 0));
  const z = se > 0 ? difference / se : difference === 0 ? 0 : Infinity * Math.sign(difference);
  const pValue = se > 0 ? 2 * (1 - normalCdf(Math.abs(z))) : difference === 0 ? 1 : 0;
  const q = 1.959963984540054;
  return { aucA: A.auc, aucB: B.auc, difference, se, z, pValue, ci95: [difference - q * se, difference + q * se] };
}

/** Percentile of sorted values with NumPy's default linear interpolation. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Seeded percentile bootstrap interval of a metric on paired (label, score) data: `resamples` draws with replacement
 * of `size` patients (default the test size; the authors' variant used 100), skipping draws where the metric is
 * undefined (e.g. one class for the AUC) and reporting how many were skipped.
 */
export function bootstrapInterval(
  labels: readonly number[],
  scores: readonly number[],
  metric: (labels: number[], scores: number[]) => number,
  options: { resamples?: number; size?: number; seed?: number; level?: number } = {},
): { estimate: number; lower: number; upper: number; used: number; skipped: number } {
  const { resamples = 2000, size = labels.length, seed = 1, level = 0.95 } = options;
  const rng = new SeededRandom(seed);
  const values: number[] = [];
  let skipped = 0;
  for (let r = 0; r < resamples; r++) {
    const ys: number[] = [];
    const ss: number[] = [];
    for (let i = 0; i < size; i++) {
      const k = rng.int(labels.length);
      ys.push(labels[k]);
      ss.push(scores[k]);
    }
    let v: number;
    try {
      v = metric(ys, ss);
    } catch {
      v = NaN;
    }
    if (Number.isNaN(v)) skipped++;
    else values.push(v);
  }
  values.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  let estimate: number;
  try {
    estimate = metric([...labels], [...scores]);
  } catch {
    estimate = NaN;
  }
  return { estimate, lower: percentile(values, 100 * alpha), upper: percentile(values, 100 * (1 - alpha)), used: values.length, skipped };
}
