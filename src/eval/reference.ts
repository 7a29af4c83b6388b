import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../config/paths';
import { formatMeanStd, METRIC_LABELS, TABLE_METRICS } from './aggregate';

/** Mean and sample std over folds of one model, as the paper reports them. */
export interface ReportedModel {
  mean: Record<string, number>;
  std: Record<string, number>;
}

/** The study's reported numbers (data/reference/paper_results.json); always labelled paper-reported where shown. */
export interface PaperReference {
  source: string;
  cohort: {
    patients: number;
    poor: number;
    good: number;
    gcsCounts: Record<string, number>;
    sliceCounts: Record<string, number>;
    spearmanWithLabel: Record<string, number>;
    /** Scanner manufacturers by outcome. */
    scanners: Record<string, { good: number; poor: number }>;
    [key: string]: unknown;
  };
  crossValidation: { metrics: string[]; note: string; models: Record<string, ReportedModel> };
  fold0Readers: { patients: number; poor: number; good: number; metrics: string[]; rows: Record<string, Record<string, number | null>> };
  earlierWork: Record<string, unknown>;
}

/** Reads the paper's reported numbers. @throws naming the file when it is missing or not the expected JSON. */
export function paperReference(file = path.join(projectRoot(), 'data', 'reference', 'paper_results.json')): PaperReference {
  let data: PaperReference;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`paper reference expected readable JSON, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${file})`);
  }
  if (!data.crossValidation?.models) throw new Error(`paper reference expected crossValidation.models, got none (${file})`);
  return data;
}

/** The paper's name of each model of the results table, by the project's model name (the `ich train --model` names). */
export const PAPER_MODEL_NAMES: Readonly<Record<string, string>> = {
  'perez-cnn': 'Perez del Barrio CNN',
  densenet: 'DenseNet-121',
  'mt-bin-age': 'MT (bin age)',
  'mt-bin-gcs': 'MT (bin GCS)',
  'mt-bin-gcs-bin-age': 'MT (bin GCS, bin age)',
  'mt-ord-gcs': 'MT (ord GCS)',
  'mt-ord-gcs-bin-age': 'MT (ord GCS, bin age)',
};

/** The seven models of the results table in the paper's order (project names). */
export const RESULTS_TABLE_MODELS: readonly string[] = Object.keys(PAPER_MODEL_NAMES);

/** The columns of the paper's reader comparison (fold 0), with their labels. */
export const READER_METRICS: readonly { key: string; label: string }[] = [
  { key: 'accuracy', label: 'Acc' },
  { key: 'balancedAccuracy', label: 'BAcc' },
  { key: 'sensitivity', label: 'Sens' },
  { key: 'specificity', label: 'Spec' },
  { key: 'ppv', label: 'PPV' },
  { key: 'npv', label: 'NPV' },
  { key: 'f1', label: 'F1' },
  { key: 'auc', label: 'AUC' },
];

/** The paper's reader comparison (four neuroradiologists and three models on its fold-0 test set), labelled as such. */
export function paperReaderTable(reference: PaperReference): { header: string[]; rows: string[][]; caption: string } {
  const r = reference.fold0Readers;
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3));
  return {
    caption: `Paper-reported: readers and models on the paper's fold-0 test set (${r.patients} patients, ${r.poor} poor / ${r.good} good)`,
    header: ['reader or model (paper-reported)', ...READER_METRICS.map((m) => m.label)],
    rows: Object.entries(r.rows).map(([name, v]) => [name, ...READER_METRICS.map((m) => f(v[m.key]))]),
  };
}

/** The paper's results table (reported means and stds, its "recall" in our "sensitivity" column), in resultsTable's form. */
export function paperResultsTable(reference: PaperReference): { header: string[]; rows: string[][] } {
  const key = (k: string) => (k === 'sensitivity' ? 'recall' : k);
  return {
    header: ['model (paper-reported)', ...TABLE_METRICS.map((k) => METRIC_LABELS[k])],
    rows: Object.entries(reference.crossValidation.models).map(([model, m]) => [model, ...TABLE_METRICS.map((k) => formatMeanStd(m.mean[key(k)] ?? NaN, m.std[key(k)] ?? NaN))]),
  };
}
