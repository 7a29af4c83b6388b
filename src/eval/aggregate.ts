import { BinaryMetrics, binaryMetrics } from './metrics';
import { meanStd } from './stats';

/** The eight metrics of the paper's results table, in its column order. */
export const TABLE_METRICS = ['auc', 'accuracy', 'balancedAccuracy', 'specificity', 'npv', 'precision', 'sensitivity', 'f1'] as const;
export type TableMetric = (typeof TABLE_METRICS)[number];

/** Column headers of the paper's table for each metric. */
export const METRIC_LABELS: Record<TableMetric, string> = {
  auc: 'AUC',
  accuracy: 'Acc',
  balancedAccuracy: 'BAcc',
  specificity: 'Spec',
  npv: 'NPV',
  precision: 'Prec',
  sensitivity: 'Rec',
  f1: 'F1',
};

/** One model's cross-validation: per-fold metrics and their mean and sample std (the paper's "mean +- std"). */
export interface ModelSummary {
  model: string;
  folds: BinaryMetrics[];
  summary: Record<TableMetric, { mean: number; std: number; n: number }>;
}

/** Per-fold test predictions (label, probability of poor prognosis) to a model summary. */
export function summariseFolds(model: string, folds: { labels: number[]; scores: number[] }[], threshold = 0.5): ModelSummary {
  const metrics = folds.map((f) => binaryMetrics(f.labels, f.scores, threshold));
  const summary = Object.fromEntries(TABLE_METRICS.map((k) => [k, meanStd(metrics.map((m) => m[k]))])) as ModelSummary['summary'];
  return { model, folds: metrics, summary };
}

/** A mean and std as the paper prints them: ".6855 +-.073"; "n/a" for undefined values. */
export function formatMeanStd(mean: number, std: number): string {
  const fmt = (v: number, digits: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(digits).replace(/^0\./, '.').replace(/^-0\./, '-.'));
  return `${fmt(mean, 4)} +-${fmt(std, 3)}`;
}

/** The results table as rows of strings, ".6855 +-.073" style like the paper. */
export function resultsTable(models: readonly ModelSummary[]): { header: string[]; rows: string[][] } {
  return {
    header: ['model', ...TABLE_METRICS.map((k) => METRIC_LABELS[k])],
    rows: models.map((m) => [m.model, ...TABLE_METRICS.map((k) => formatMeanStd(m.summary[k].mean, m.summary[k].std))]),
  };
}
