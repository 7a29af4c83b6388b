import { median as ssMedian } from 'simple-statistics';
import { CLINICAL_VARIABLES } from '../data/clinical';
import { Patient } from '../data/cohort';
import { chiSquareTest, Correlation, logisticRegression, LogisticFit, mannWhitneyU, spearmanMatrix, spearmanTest } from './association';
import { rocAuc } from './metrics';

/** The association statistics of a cohort's clinical table with the prognosis label (the paper's GCS/age analysis). */
export interface CohortStatistics {
  patients: number;
  /** Spearman correlation of every clinical variable (and GCS <= 8) with the label, strongest first. */
  spearman: ({ variable: string } & Correlation)[];
  /** Mann-Whitney U of age and GCS between poor and good prognosis. */
  mannWhitney: Record<'Age' | 'GCS', { u: number; pValue: number; medianPoor: number; medianGood: number }>;
  /** Chi-square tests of the binary auxiliary labels against the label. */
  chiSquare: Record<'GCS<=8' | 'Age>=80', { statistic: number; pValue: number; table: number[][] }>;
  /** Logistic regression of prognosis on GCS and age. */
  logistic: LogisticFit;
  /** Single-variable ROC AUC (GCS taken as lower = worse). */
  auc: { Age: number; GCS: number };
}

function median(values: number[]): number {
  return values.length ? ssMedian(values) : NaN;
}

/** Computes {@link CohortStatistics} over usable patients (missing values are left out pairwise). */
export function cohortStatistics(patients: readonly Patient[]): CohortStatistics {
  const y = patients.map((p) => p.label);
  const value = (name: string) => patients.map((p) => p.clinical.values[name] ?? NaN);
  const spearman = [...CLINICAL_VARIABLES, 'GCS<=8'].map((variable) => ({
    variable,
    ...spearmanTest(variable === 'GCS<=8' ? patients.map((p) => (p.gcs <= 8 ? 1 : 0)) : value(variable), y),
  }));
  spearman.sort((a, b) => (Number.isNaN(a.r) ? 1 : Number.isNaN(b.r) ? -1 : Math.abs(b.r) - Math.abs(a.r)));
  const split = (xs: number[]) => ({ poor: xs.filter((_, i) => y[i] === 1), good: xs.filter((_, i) => y[i] === 0) });
  const mw = (xs: number[]) => {
    const { poor, good } = split(xs);
    return { ...mannWhitneyU(poor, good), medianPoor: median(poor), medianGood: median(good) };
  };
  const ages = patients.map((p) => p.age);
  const gcs = patients.map((p) => p.gcs);
  const chi = (xs: number[]) => {
    const r = chiSquareTest(xs, y);
    return { statistic: r.statistic, pValue: r.pValue, table: r.table };
  };
  return {
    patients: patients.length,
    spearman,
    mannWhitney: { Age: mw(ages), GCS: mw(gcs) },
    chiSquare: { 'GCS<=8': chi(gcs.map((g) => (g <= 8 ? 1 : 0))), 'Age>=80': chi(ages.map((a) => (a >= 80 ? 1 : 0))) },
    logistic: logisticRegression(y, { GCS: gcs, Age: ages }),
    auc: { Age: rocAuc(y, ages), GCS: rocAuc(y, gcs.map((g) => -g)) },
  };
}

/** Spearman matrix of the label and every clinical variable (pairwise complete), for the heatmap. */
export function cohortSpearmanMatrix(patients: readonly Patient[]): { names: string[]; r: number[][] } {
  const columns: Record<string, number[]> = { 'poor prognosis': patients.map((p) => p.label) };
  for (const v of CLINICAL_VARIABLES) columns[v] = patients.map((p) => p.clinical.values[v] ?? NaN);
  return spearmanMatrix(columns);
}

/** A variable's values split by outcome. */
export function outcomeGroups(patients: readonly Patient[], value: (p: Patient) => number): { good: number[]; poor: number[] } {
  return { good: patients.filter((p) => p.label === 0).map(value), poor: patients.filter((p) => p.label === 1).map(value) };
}
