import { invertMatrix, matVec } from './linalg';

/** A logistic fit by Newton-Raphson: coefficients ([intercept, ...]), the final information matrix and log-likelihood. */
export interface NewtonLogisticFit {
  coef: number[];
  /** X^T W X (+ the penalty's diagonal): its inverse is the coefficients' covariance for an unpenalised fit. */
  information: number[][];
  logLikelihood: number;
  iterations: number;
}

/**
 * Logistic regression with an intercept by Newton's method, unpenalised (statsmodels Logit) or with an L2 penalty
 * 1/(2C) ||w||^2 on the weights but not the intercept (scikit-learn's LogisticRegression(C)), to convergence.
 * @param rows feature rows without the intercept column; @param c inverse penalty strength, or null for none.
 */
export function newtonLogistic(rows: readonly (readonly number[])[], y: readonly number[], c: number | null = null): NewtonLogisticFit {
  const k = (rows[0]?.length ?? 0) + 1;
  let beta = new Array<number>(k).fill(0);
  let information: number[][] = [];
  let logLikelihood = -Infinity;
  let iterations = 0;
  for (; iterations < 100; iterations++) {
    const grad = beta.map((b, j) => (c !== null && j > 0 ? -b / c : 0));
    information = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => (c !== null && a === b && a > 0 ? 1 / c : 0)));
    let ll = 0;
    rows.forEach((row, i) => {
      const r = [1, ...row];
      const p = 1 / (1 + Math.exp(-r.reduce((s, v, j) => s + v * beta[j], 0)));
      ll += y[i] * Math.log(Math.max(p, 1e-300)) + (1 - y[i]) * Math.log(Math.max(1 - p, 1e-300));
      const w = p * (1 - p);
      for (let a = 0; a < k; a++) {
        grad[a] += (y[i] - p) * r[a];
        for (let b = 0; b < k; b++) information[a][b] += w * r[a] * r[b];
      }
    });
    const step = matVec(invertMatrix(information), grad);
    beta = beta.map((b, j) => b + step[j]);
    const converged = Math.abs(ll - logLikelihood) < 1e-12 && Math.max(...step.map(Math.abs)) < 1e-10;
    logLikelihood = ll;
    if (converged) break;
  }
  return { coef: beta, information, logLikelihood, iterations: iterations + 1 };
}
