import { CLINICAL_COLUMNS, OPTIONAL_COLUMNS } from './clinical';
import { Patient } from './cohort';

/** The tabular MLP's inputs (paper.md, "Models"): 21 numeric min-max scaled, GCS ordinal 0-12, the 0/1 variables. */
export const NUMERIC_FEATURES: readonly string[] = CLINICAL_COLUMNS.filter((c) => c.kind === 'number').map((c) => c.name);
/** 0/1 variables: the 19 of the 43-column table, plus Cause_head_trauma when the table has it (the paper's 20). */
export const BINARY_FEATURES: readonly string[] = [...CLINICAL_COLUMNS, ...OPTIONAL_COLUMNS].filter((c) => c.kind === 'binary' && c.name !== 'Label (poor_prognosis)').map((c) => c.name);

/** A fitted feature transform: which columns, and the training part's statistics. */
export interface TabularTransform {
  names: string[];
  /** Min and max of each numeric feature over the training patients. */
  min: Record<string, number>;
  max: Record<string, number>;
  /** Imputation values (training median for numbers, training mode for 0/1) for missing cells. */
  fill: Record<string, number>;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Fits the paper's tabular preprocessing on training patients only: min-max scaling of the numeric columns, GCS as an
 * ordinal 0-12, 0/1 columns as they are (Cause_head_trauma only when every training patient has it). Missing values
 * are imputed with the training median (numbers) or mode (0/1), an addition: the paper's table had none to impute.
 */
export function fitTabularTransform(train: readonly Patient[]): TabularTransform {
  if (train.length === 0) throw new Error('tabular transform expected training patients, got none');
  const binary = BINARY_FEATURES.filter((n) => train.some((p) => p.clinical.values[n] !== undefined));
  const names = [...NUMERIC_FEATURES, 'GCS', ...binary];
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  const fill: Record<string, number> = {};
  for (const n of NUMERIC_FEATURES) {
    const v = train.map((p) => p.clinical.values[n]).filter((x): x is number => x !== null && x !== undefined);
    min[n] = v.length ? Math.min(...v) : 0;
    max[n] = v.length ? Math.max(...v) : 1;
    fill[n] = v.length ? median(v) : 0;
  }
  for (const n of binary) {
    const v = train.map((p) => p.clinical.values[n]).filter((x): x is number => x !== null && x !== undefined);
    fill[n] = v.filter((x) => x === 1).length * 2 > v.length ? 1 : 0;
  }
  return { names, min, max, fill };
}

/** Feature rows of patients under a fitted transform ([patients][features]). */
export function applyTabularTransform(t: TabularTransform, patients: readonly Patient[]): number[][] {
  return patients.map((p) =>
    t.names.map((n) => {
      if (n === 'GCS') return p.gcs - 3;
      const raw = p.clinical.values[n];
      const v = raw === null || raw === undefined ? t.fill[n] : raw;
      if (n in t.min) {
        const span = t.max[n] - t.min[n];
        return span > 0 ? (v - t.min[n]) / span : 0;
      }
      return v;
    }),
  );
}
