import * as fs from 'node:fs';
import { parseCsv } from '../io/csv';
import { DataIssue } from './issues';

/** How a clinical column is checked: 0/1, an integer range, or a number in a plausible range. */
export interface ColumnSpec {
  name: string;
  kind: 'id' | 'binary' | 'integer' | 'number';
  /** Plausible range (inclusive) for numbers; outside it the cell is an error. */
  min?: number;
  max?: number;
  /** Unit, for documentation and table labels. */
  unit?: string;
  /** A missing value makes the row unusable (label, age, GCS); other columns may be empty. */
  required?: boolean;
}

/** Name of the label column: 1 = poor prognosis, 0 = good. */
export const LABEL_COLUMN = 'Label (poor_prognosis)';

/**
 * The 43 columns of `CLINICAL_DATA_ICH.csv` in the authors' order (paper.md, "Clinical table"), with units and
 * plausible ranges. A 44th, `Cause_head_trauma` (0/1), is accepted when present.
 */
export const CLINICAL_COLUMNS: readonly ColumnSpec[] = [
  { name: 'PatientID', kind: 'id', required: true },
  { name: LABEL_COLUMN, kind: 'binary', required: true },
  { name: 'Gender', kind: 'binary' },
  { name: 'Age', kind: 'number', min: 0, max: 120, unit: 'years', required: true },
  ...['Antihypertensive_drugs', 'Smoker', 'Alcohol', 'HT', 'DM', 'Dyslipidemia', 'MH_ICH', 'MH_CVD', 'MH_neuro',
    'MH_dementia', 'MH_cancer', 'MH_hematho', 'MH_others', 'Anticoagulant', 'Antiaggregant', 'Calcium_antag',
    'Alpha_blockers'].map((name): ColumnSpec => ({ name, kind: 'binary' })),
  { name: 'Systolic_AP', kind: 'number', min: 40, max: 320, unit: 'mmHg' },
  { name: 'Dyastolic_AP', kind: 'number', min: 10, max: 220, unit: 'mmHg' },
  { name: 'OxSat', kind: 'number', min: 30, max: 100, unit: '%' },
  { name: 'Tº', kind: 'number', min: 30, max: 44, unit: '°C' },
  { name: 'HR', kind: 'number', min: 15, max: 260, unit: 'beats/min' },
  { name: 'RF', kind: 'number', min: 2, max: 80, unit: 'breaths/min' },
  { name: 'PE_neuro', kind: 'binary' },
  { name: 'GCS', kind: 'integer', min: 3, max: 15, unit: 'GCS 3-15', required: true },
  { name: 'Glucose', kind: 'number', min: 10, max: 1500, unit: 'mg/dL' },
  { name: 'Creatinine', kind: 'number', min: 0.05, max: 25, unit: 'mg/dL' },
  { name: 'Urea', kind: 'number', min: 1, max: 500, unit: 'mg/dL' },
  { name: 'Sodium', kind: 'number', min: 90, max: 190, unit: 'mEq/L' },
  { name: 'Potassium', kind: 'number', min: 1, max: 12, unit: 'mEq/L' },
  { name: 'WBC', kind: 'number', min: 0.1, max: 150, unit: '10^3/uL' },
  { name: 'Hgb', kind: 'number', min: 2, max: 25, unit: 'g/dL' },
  { name: 'Platelets', kind: 'number', min: 1, max: 2000, unit: '10^3/uL' },
  { name: 'MCV', kind: 'number', min: 40, max: 150, unit: 'fL' },
  { name: 'RCDW', kind: 'number', min: 5, max: 40, unit: '%' },
  { name: 'CMHC', kind: 'number', min: 15, max: 50, unit: 'g/dL' },
  { name: 'MPV', kind: 'number', min: 3, max: 25, unit: 'fL' },
  { name: 'INR', kind: 'number', min: 0.3, max: 20, unit: 'ratio' },
  { name: 'Fibrinogen', kind: 'number', min: 20, max: 2000, unit: 'mg/dL' },
];

/** The optional 44th column added after the study. */
export const OPTIONAL_COLUMNS: readonly ColumnSpec[] = [{ name: 'Cause_head_trauma', kind: 'binary' }];

/** The 41 clinical variables of the 43-column table (every column but the ID and the label), in table order; the optional Cause_head_trauma makes 42. */
export const CLINICAL_VARIABLES: readonly string[] = CLINICAL_COLUMNS.slice(2).map((c) => c.name);

/** Patient excluded from the study (its clinical row has no image in the authors' data). */
export const EXCLUDED_PATIENT_IDS: readonly string[] = ['213'];

/** One validated clinical row. Missing optional values are null. */
export interface ClinicalRecord {
  patientId: string;
  /** 1 = poor prognosis. */
  label: 0 | 1;
  /** Years. */
  age: number;
  /** Glasgow Coma Scale, 3-15. */
  gcs: number;
  /** Every clinical variable by column name (the 41, plus Cause_head_trauma when present). */
  values: Record<string, number | null>;
  /** 1-based line in the CSV. */
  line: number;
}

/** The result of reading a clinical table: the usable rows and every problem found. */
export interface ClinicalTable {
  file: string;
  columns: string[];
  records: ClinicalRecord[];
  issues: DataIssue[];
  /** Rows dropped on purpose (patient 213), not as errors. */
  excluded: string[];
  /** Data rows in the file, usable or not. */
  rowCount: number;
}

/** Column aliases: the DIGITAL.CSIC table names the ID `Patient`. */
const ID_ALIASES = ['PatientID', 'Patient', 'patient_id', 'ID'];
const LABEL_ALIASES = [LABEL_COLUMN, 'Label', 'label', 'poor_prognosis'];

/** Canonical form of a patient ID so "012", "12" and "12.0" match an image named 12. */
export function normalisePatientId(raw: string): string {
  const t = raw.trim();
  if (/^[0-9]+(\.0+)?$/.test(t)) return String(parseInt(t, 10));
  return t;
}

function parseNumber(cell: string): number | null {
  const t = cell.trim();
  if (t === '' || /^(nan|na|n\/a|null|none)$/i.test(t)) return null;
  // Spanish spreadsheets write decimal commas; a quoted "36,5" is accepted.
  const v = Number(/^-?[0-9]+,[0-9]+$/.test(t) ? t.replace(',', '.') : t);
  return Number.isFinite(v) ? v : NaN;
}

/**
 * Parses and validates the clinical table text. Every cell is checked against {@link CLINICAL_COLUMNS};
 * a row with a bad required value (ID, label, age, GCS) or a duplicate ID is reported and skipped, a bad optional
 * value is reported and set to null. Patient 213 is excluded as in the paper (set `excludeIds: []` to keep it).
 */
export function parseClinicalTable(
  text: string,
  file: string,
  options: { excludeIds?: readonly string[]; requireAllColumns?: boolean } = {},
): ClinicalTable {
  const excludeIds = new Set((options.excludeIds ?? EXCLUDED_PATIENT_IDS).map(normalisePatientId));
  const issues: DataIssue[] = [];
  let table;
  try {
    table = parseCsv(text, file);
  } catch (err) {
    return { file, columns: [], records: [], issues: [{ severity: 'error', file, message: (err as Error).message }], excluded: [], rowCount: 0 };
  }
  const header = table.header;
  const index = new Map(header.map((h, i) => [h, i]));
  const find = (aliases: string[]) => aliases.find((a) => index.has(a));
  const idCol = find(ID_ALIASES);
  const labelCol = find(LABEL_ALIASES);
  const requireAll = options.requireAllColumns ?? true;
  const specs = new Map<string, ColumnSpec>();
  for (const spec of [...CLINICAL_COLUMNS, ...OPTIONAL_COLUMNS]) specs.set(spec.name, spec);
  if (!idCol) {
    issues.push({ severity: 'error', file, column: 'PatientID', message: `column expected one of ${ID_ALIASES.join(', ')}, got header [${header.join(', ')}]` });
  }
  if (!labelCol) {
    issues.push({ severity: 'error', file, column: LABEL_COLUMN, message: `label column expected "${LABEL_COLUMN}", got none in the header` });
  }
  for (const spec of CLINICAL_COLUMNS.slice(2)) {
    if (!index.has(spec.name)) {
      issues.push({
        severity: spec.required || requireAll ? 'error' : 'warning',
        file,
        column: spec.name,
        message: `column expected in the header (one of the 43 columns of CLINICAL_DATA_ICH.csv), got it missing`,
      });
    }
  }
  const known = new Set([...specs.keys(), ...ID_ALIASES, ...LABEL_ALIASES]);
  for (const h of header) {
    if (!known.has(h)) issues.push({ severity: 'warning', file, column: h, message: `column expected to be one of the known clinical columns, got an unknown column (ignored)` });
  }
  if (!idCol || !labelCol) return { file, columns: header, records: [], issues, excluded: [], rowCount: table.rows.length };
  const missingRequired = CLINICAL_COLUMNS.filter((c) => c.required && c.kind !== 'id' && c.name !== LABEL_COLUMN && !index.has(c.name));
  if (missingRequired.length > 0) return { file, columns: header, records: [], issues, excluded: [], rowCount: table.rows.length };

  const records: ClinicalRecord[] = [];
  const excluded: string[] = [];
  const seen = new Map<string, number>();
  for (const { line, cells } of table.rows) {
    if (cells.length !== header.length) {
      issues.push({ severity: 'error', file, row: line, message: `row expected ${header.length} cells, got ${cells.length}` });
      continue;
    }
    const rawId = cells[index.get(idCol)!].trim();
    if (rawId === '') {
      issues.push({ severity: 'error', file, row: line, column: idCol, message: `patient ID expected, got an empty cell` });
      continue;
    }
    const patientId = normalisePatientId(rawId);
    if (excludeIds.has(patientId)) {
      excluded.push(patientId);
      continue;
    }
    if (seen.has(patientId)) {
      issues.push({ severity: 'error', file, row: line, column: idCol, patientId, message: `patient ID expected to be unique, got a duplicate of row ${seen.get(patientId)}` });
      continue;
    }
    seen.set(patientId, line);
    const values: Record<string, number | null> = {};
    let rowOk = true;
    const check = (column: string, spec: ColumnSpec) => {
      const cell = cells[index.get(column)!];
      const v = parseNumber(cell);
      const fail = (message: string) => {
        issues.push({ severity: spec.required ? 'error' : 'warning', file, row: line, column, patientId, message });
        if (spec.required) rowOk = false;
        values[spec.name] = null;
      };
      if (v === null) {
        if (spec.required) fail(`value expected (${describe(spec)}), got an empty cell`);
        else values[spec.name] = null;
        return;
      }
      if (Number.isNaN(v)) return fail(`value expected ${describe(spec)}, got ${JSON.stringify(cell)}`);
      if (spec.kind === 'binary' && v !== 0 && v !== 1) return fail(`value expected 0 or 1, got ${JSON.stringify(cell)}`);
      if (spec.kind === 'integer' && !Number.isInteger(v)) return fail(`value expected an integer ${describe(spec)}, got ${JSON.stringify(cell)}`);
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
        return fail(`value expected ${describe(spec)}, got ${cell.trim()}`);
      }
      values[spec.name] = v;
    };
    check(labelCol, { ...specs.get(LABEL_COLUMN)!, name: LABEL_COLUMN });
    for (const spec of [...CLINICAL_COLUMNS.slice(2), ...OPTIONAL_COLUMNS]) {
      if (index.has(spec.name)) check(spec.name, spec);
    }
    if (!rowOk) continue;
    records.push({
      patientId,
      label: values[LABEL_COLUMN] as 0 | 1,
      age: values.Age as number,
      gcs: values.GCS as number,
      values: Object.fromEntries(Object.entries(values).filter(([k]) => k !== LABEL_COLUMN)),
      line,
    });
  }
  return { file, columns: header, records, issues, excluded, rowCount: table.rows.length };
}

function describe(spec: ColumnSpec): string {
  if (spec.kind === 'binary') return '0 or 1';
  const range = spec.min !== undefined && spec.max !== undefined ? ` in [${spec.min}, ${spec.max}]` : '';
  return `${spec.kind === 'integer' ? 'an integer' : 'a number'}${range}${spec.unit ? ` ${spec.unit}` : ''}`;
}

/** Reads and validates a clinical CSV file; an unreadable file becomes an error issue, not an exception. */
export function readClinicalTable(file: string, options?: { excludeIds?: readonly string[]; requireAllColumns?: boolean }): ClinicalTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return {
      file,
      columns: [],
      records: [],
      issues: [{ severity: 'error', file, message: `clinical table expected to be readable, got ${(err as NodeJS.ErrnoException).code ?? 'an error'}` }],
      excluded: [],
      rowCount: 0,
    };
  }
  return parseClinicalTable(text, file, options);
}
