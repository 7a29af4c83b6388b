import { CLINICAL_COLUMNS } from './clinical';
import { Patient } from './cohort';

/** One row of a "Table 1": a variable summarised in each outcome group. */
export interface DescriptiveRow {
  variable: string;
  unit: string;
  /** "mean ± sd" for numbers (GCS: "median [IQR]"), "n (%)" for 0/1 variables; missing values are left out. */
  good: string;
  poor: string;
  /** Patients with a value, per group. */
  nGood: number;
  nPoor: number;
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summarise(values: number[], kind: string): string {
  if (values.length === 0) return '-';
  if (kind === 'binary') {
    const n = values.filter((v) => v === 1).length;
    return `${n} (${((100 * n) / values.length).toFixed(1)}%)`;
  }
  if (kind === 'integer') {
    const s = values.slice().sort((a, b) => a - b);
    return `${quantile(s, 0.5)} [${quantile(s, 0.25)}-${quantile(s, 0.75)}]`;
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  const digits = Math.abs(mean) >= 100 ? 0 : Math.abs(mean) >= 10 ? 1 : 2;
  return `${mean.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}

/**
 * Describes every clinical variable by outcome (good vs poor prognosis), like a paper's Table 1: numbers as
 * mean ± sample sd, GCS as median [interquartile range], 0/1 variables as count (percent). The first row counts
 * the patients.
 */
export function describeByOutcome(patients: readonly Patient[]): DescriptiveRow[] {
  const good = patients.filter((p) => p.label === 0);
  const poor = patients.filter((p) => p.label === 1);
  const rows: DescriptiveRow[] = [
    { variable: 'Patients', unit: 'n', good: String(good.length), poor: String(poor.length), nGood: good.length, nPoor: poor.length },
  ];
  for (const spec of CLINICAL_COLUMNS.slice(2)) {
    const pick = (group: readonly Patient[]) => group.map((p) => p.clinical.values[spec.name]).filter((v): v is number => v !== null && v !== undefined);
    const g = pick(good);
    const q = pick(poor);
    rows.push({ variable: spec.name, unit: spec.kind === 'binary' ? 'n (%)' : spec.unit ?? '', good: summarise(g, spec.kind), poor: summarise(q, spec.kind), nGood: g.length, nPoor: q.length });
  }
  return rows;
}

/** Counts of each value (e.g. GCS score or slices per scan) as sorted [value, count] pairs. */
export function histogram(values: readonly number[]): [number, number][] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0] - b[0]);
}
