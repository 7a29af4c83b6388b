import { strict as assert } from 'node:assert';
import { CLINICAL_COLUMNS, CLINICAL_VARIABLES, normalisePatientId, parseClinicalTable } from '../../src/data/clinical';
import { formatCsv } from '../../src/io/csv';

const HEADER = CLINICAL_COLUMNS.map((c) => c.name);

/** A valid row for a patient, every column in range. */
function row(id: number | string, overrides: Record<string, string | number> = {}): (string | number)[] {
  const base: Record<string, string | number> = {};
  for (const c of CLINICAL_COLUMNS) {
    base[c.name] = c.kind === 'binary' ? (Number(id) % 2) : c.kind === 'integer' ? 12 : c.min !== undefined ? (c.min + c.max!) / 2 : 1;
  }
  base.PatientID = id;
  base.Age = 70;
  return HEADER.map((h) => (h in overrides ? overrides[h] : base[h]));
}

describe('data/clinical', () => {
  it('has the 43 columns of CLINICAL_DATA_ICH.csv in order, and 41 variables', () => {
    assert.equal(CLINICAL_COLUMNS.length, 43);
    assert.equal(CLINICAL_VARIABLES.length, 41);
    assert.equal(HEADER[24], 'Tº');
    assert.deepEqual(HEADER.slice(0, 4), ['PatientID', 'Label (poor_prognosis)', 'Gender', 'Age']);
    assert.equal(HEADER[42], 'Fibrinogen');
  });

  it('reads a valid table, excludes patient 213 and accepts the optional 44th column', () => {
    const t = parseClinicalTable(formatCsv([...HEADER, 'Cause_head_trauma'], [[...row(1), 0], [...row(213), 1], [...row(2), 1]]), 'c.csv');
    assert.deepEqual(t.issues, []);
    assert.deepEqual(t.records.map((r) => r.patientId), ['1', '2']);
    assert.deepEqual(t.excluded, ['213']);
    assert.equal(t.records[0].values.Cause_head_trauma, 0);
    assert.equal(t.records[1].label, 0);
    assert.equal(t.rowCount, 3);
  });

  it('reports a missing column by name as an error', () => {
    const header = HEADER.filter((h) => h !== 'Urea');
    const t = parseClinicalTable(formatCsv(header, [row(1).filter((_, i) => HEADER[i] !== 'Urea')]), 'c.csv');
    const issue = t.issues.find((i) => i.column === 'Urea');
    assert.ok(issue && issue.severity === 'error' && /missing/.test(issue.message));
  });

  it('skips rows with an out-of-range GCS, a non-numeric age, a bad label or a duplicate ID, each reported with row and column', () => {
    const t = parseClinicalTable(
      formatCsv(HEADER, [row(1), row(2, { GCS: 16 }), row(3, { Age: 'seventy' }), row(4, { 'Label (poor_prognosis)': 2 }), row(1), row(5, { GCS: 7.5 }), row(6, { Age: '' })]),
      'c.csv',
    );
    assert.deepEqual(t.records.map((r) => r.patientId), ['1']);
    const find = (row: number, column: string) => t.issues.find((i) => i.row === row && i.column === column);
    assert.match(find(3, 'GCS')!.message, /value expected an integer in \[3, 15\] GCS 3-15, got 16/);
    assert.match(find(4, 'Age')!.message, /value expected a number in \[0, 120\] years, got "seventy"/);
    assert.match(find(5, 'Label (poor_prognosis)')!.message, /expected 0 or 1, got "2"/);
    assert.match(find(6, 'PatientID')!.message, /unique, got a duplicate of row 2/);
    assert.match(find(7, 'GCS')!.message, /integer/);
    assert.match(find(8, 'Age')!.message, /got an empty cell/);
    assert.ok(t.issues.every((i) => i.severity === 'error' && i.file === 'c.csv'));
  });

  it('keeps a row whose optional value is bad, with a warning and a null', () => {
    const t = parseClinicalTable(formatCsv(HEADER, [row(1, { Sodium: 500 }), row(2, { Glucose: 'NaN' })]), 'c.csv');
    assert.equal(t.records.length, 2);
    assert.equal(t.records[0].values.Sodium, null);
    assert.equal(t.records[1].values.Glucose, null);
    assert.equal(t.issues.length, 1);
    assert.equal(t.issues[0].severity, 'warning');
    assert.equal(t.issues[0].column, 'Sodium');
  });

  it('accepts `Patient` as the ID column, decimal commas, and normalises IDs', () => {
    const header = ['Patient', ...HEADER.slice(1)];
    const t = parseClinicalTable(formatCsv(header, [row('012', { 'Tº': '36,5' })]), 'a.csv');
    assert.equal(t.records[0].patientId, '12');
    assert.equal(t.records[0].values['Tº'], 36.5);
    assert.equal(normalisePatientId(' 7.0 '), '7');
    assert.equal(normalisePatientId('A-12'), 'A-12');
  });

  it('reports a table without the ID or the label column, a ragged row and an empty file', () => {
    const noId = parseClinicalTable(formatCsv(HEADER.slice(1), [row(1).slice(1)]), 'n.csv');
    assert.ok(noId.issues.some((i) => i.column === 'PatientID' && i.severity === 'error'));
    const ragged = parseClinicalTable(formatCsv(HEADER, [row(1).slice(0, 10)]), 'r.csv');
    assert.match(ragged.issues[0].message, /row expected 43 cells, got 10/);
    const empty = parseClinicalTable('', 'e.csv');
    assert.equal(empty.records.length, 0);
    assert.match(empty.issues[0].message, /empty file/);
  });
});
