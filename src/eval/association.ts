import { invertMatrix } from '../math/linalg';
import { newtonLogistic } from '../math/logistic';
import { averageRanks, pearson, spearman } from '../math/ranks';
import { erfc, normalCdf } from './stats';

/** ln Gamma(x) for x > 0 (Lanczos, 15 digits). */
export function logGamma(x: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 500; n++) {
      ap++;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Chi-square survival function P(X >= x) with `dof` degrees of freedom. */
export function chi2Sf(x: number, dof: number): number {
  return gammaQ(dof / 2, x / 2);
}

/** Student t two-sided p-value for a statistic with `dof` degrees of freedom (via the regularised incomplete beta). */
export function studentTTwoSided(t: number, dof: number): number {
  return incompleteBeta(dof / (dof + t * t), dof / 2, 0.5);
}

/** Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbeta = logGamma(a + b) - logGamma(a) - logGamma(b);
  const front = Math.exp(Math.log(x) * a + Math.log(1 - x) * b + lbeta);
  const cf = (xx: number, aa: number, bb: number) => {
    let c = 1;
    let d = 1 - ((aa + bb) * xx) / (aa + 1);
    if (Math.abs(d) < 1e-300) d = 1e-300;
    d = 1 / d;
    let h = d;
    for (let m = 1; m < 500; m++) {
      const m2 = 2 * m;
      let aa2 = (m * (bb - m) * xx) / ((aa + m2 - 1) * (aa + m2));
      d = 1 + aa2 * d;
      if (Math.abs(d) < 1e-300) d = 1e-300;
      c = 1 + aa2 / c;
      if (Math.abs(c) < 1e-300) c = 1e-300;
      d = 1 / d;
      h *= d * c;
      aa2 = (-(aa + m) * (aa + bb + m) * xx) / ((aa + m2) * (aa + m2 + 1));
      d = 1 + aa2 * d;
      if (Math.abs(d) < 1e-300) d = 1e-300;
      c = 1 + aa2 / c;
      if (Math.abs(c) < 1e-300) c = 1e-300;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-15) break;
    }
    return h;
  };
  return x < (a + 1) / (a + b + 2) ? (front * cf(x, a, b)) / a : 1 - (front * cf(1 - x, b, a)) / b;
}

/** A correlation and its two-sided p-value (t distribution with n - 2 dof, as SciPy's spearmanr and pearsonr). */
export interface Correlation {
  r: number;
  pValue: number;
  n: number;
}

/** Drops pairs where either side is NaN (pandas' pairwise complete observations). */
function complete(x: readonly number[], y: readonly number[]): [number[], number[]] {
  const a: number[] = [];
  const b: number[] = [];
  x.forEach((v, i) => {
    if (!Number.isNaN(v) && !Number.isNaN(y[i])) {
      a.push(v);
      b.push(y[i]);
    }
  });
  return [a, b];
}

function withP(r: number, n: number): Correlation {
  if (Number.isNaN(r) || n < 3) return { r, pValue: NaN, n };
  if (Math.abs(r) >= 1) return { r, pValue: 0, n };
  const t = r * Math.sqrt((n - 2) / (1 - r * r));
  return { r, pValue: studentTTwoSided(t, n - 2), n };
}

/** Spearman correlation (average ranks for ties) with its p-value, as scipy.stats.spearmanr; NaN pairs dropped. */
export function spearmanTest(x: readonly number[], y: readonly number[]): Correlation {
  const [a, b] = complete(x, y);
  return withP(spearman(a, b), a.length);
}

/** Pearson correlation with its p-value; with a 0/1 variable it is the point-biserial correlation. */
export function pearsonTest(x: readonly number[], y: readonly number[]): Correlation {
  const [a, b] = complete(x, y);
  return withP(pearson(a, b), a.length);
}

/** Spearman matrix over named variables (pairwise complete observations, as pandas' DataFrame.corr('spearman')). */
export function spearmanMatrix(columns: Record<string, readonly number[]>): { names: string[]; r: number[][] } {
  const names = Object.keys(columns);
  const r = names.map((a) => names.map((b) => (a === b ? 1 : spearmanTest(columns[a], columns[b]).r)));
  return { names, r };
}

/**
 * Mann-Whitney U test, two-sided, as scipy.stats.mannwhitneyu 1.10 with method 'auto': here always the normal
 * approximation with tie correction and continuity correction (SciPy uses the exact distribution only when both
 * groups have fewer than 8 values and there are no ties; that case is refused rather than approximated).
 * @returns U of the first group and the p-value.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): { u: number; pValue: number } {
  const x = a.filter((v) => !Number.isNaN(v));
  const y = b.filter((v) => !Number.isNaN(v));
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error(`Mann-Whitney U expected values in both groups, got ${n1} and ${n2}`);
  const all = [...x, ...y];
  const ranks = averageRanks(all);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const counts = new Map<number, number>();
  for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ties = [...counts.values()].some((t) => t > 1);
  if (n1 < 8 && n2 < 8 && !ties) throw new Error(`Mann-Whitney U with ${n1} and ${n2} values and no ties needs the exact distribution, which is not implemented`);
  const n = n1 + n2;
  let tieTerm = 0;
  for (const t of counts.values()) tieTerm += t ** 3 - t;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const u = Math.max(u1, n1 * n2 - u1);
  const z = (u - mu - 0.5) / sigma;
  return { u: u1, pValue: Math.min(1, 2 * (1 - normalCdf(z))) };
}

/**
 * Chi-square test of independence of two categorical variables, as scipy.stats.chi2_contingency (Yates' continuity
 * correction when the table has one degree of freedom).
 */
export function chiSquareTest(x: readonly number[], y: readonly number[]): { statistic: number; pValue: number; dof: number; table: number[][] } {
  const pairs = x.map((v, i) => [v, y[i]]).filter(([a, b]) => !Number.isNaN(a) && !Number.isNaN(b));
  const xs = [...new Set(pairs.map((p) => p[0]))].sort((a, b) => a - b);
  const ys = [...new Set(pairs.map((p) => p[1]))].sort((a, b) => a - b);
  const table = xs.map(() => ys.map(() => 0));
  for (const [a, b] of pairs) table[xs.indexOf(a)][ys.indexOf(b)]++;
  const n = pairs.length;
  const rowSum = table.map((r) => r.reduce((s, v) => s + v, 0));
  const colSum = ys.map((_, j) => table.reduce((s, r) => s + r[j], 0));
  const dof = (xs.length - 1) * (ys.length - 1);
  if (dof === 0) return { statistic: 0, pValue: 1, dof, table };
  let statistic = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = 0; j < ys.length; j++) {
      const e = (rowSum[i] * colSum[j]) / n;
      let diff = table[i][j] - e;
      if (dof === 1) diff = Math.sign(diff) * Math.max(0, Math.abs(diff) - 0.5);
      statistic += (diff * diff) / e;
    }
  }
  return { statistic, pValue: chi2Sf(statistic, dof), dof, table };
}

/** A fitted logistic model: coefficients with Wald statistics and odds ratios (statsmodels Logit summary). */
export interface LogisticFit {
  names: string[];
  coef: number[];
  se: number[];
  z: number[];
  pValue: number[];
  oddsRatio: number[];
  oddsRatioCi95: [number, number][];
  logLikelihood: number;
  iterations: number;
}

/**
 * Unpenalised logistic regression by Newton-Raphson (statsmodels' Logit.fit): an intercept plus the given
 * predictors; Wald standard errors from the inverse information matrix.
 */
export function logisticRegression(y: readonly number[], predictors: Record<string, readonly number[]>): LogisticFit {
  const names = ['const', ...Object.keys(predictors)];
  const rows: number[][] = [];
  const ys: number[] = [];
  y.forEach((v, i) => {
    const row = Object.values(predictors).map((p) => p[i]);
    if (!Number.isNaN(v) && row.every((r) => !Number.isNaN(r))) {
      rows.push(row);
      ys.push(v);
    }
  });
  const fit = newtonLogistic(rows, ys);
  const cov = invertMatrix(fit.information);
  const se = cov.map((r, i) => Math.sqrt(r[i]));
  const z = fit.coef.map((b, i) => b / se[i]);
  const q = 1.959963984540054;
  return {
    names,
    coef: fit.coef,
    se,
    z,
    pValue: z.map((v) => erfc(Math.abs(v) / Math.SQRT2)),
    oddsRatio: fit.coef.map(Math.exp),
    oddsRatioCi95: fit.coef.map((b, i) => [Math.exp(b - q * se[i]), Math.exp(b + q * se[i])] as [number, number]),
    logLikelihood: fit.logLikelihood,
    iterations: fit.iterations,
  };
}
