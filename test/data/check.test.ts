import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { checkDataset, inPlaneAspectWarning } from '../../src/data/check';
import { discoverCohort, detectLayout, patientIdFromFile } from '../../src/data/cohort';
import { writeNifti } from '../../src/io/nifti';
import { Volume } from '../../src/io/volume';
import { writeNpy } from '../../src/io/npy';
import { parseCsv, formatCsv } from '../../src/io/csv';
import { damagedCopy, smallCohort } from '../support/cohort';
import { FIXTURES, tempDir } from '../support/paths';

function imageOf(root: string, id: number): string {
  for (const folder of ['GOOD_PROGNOSIS', 'POOR_PROGNOSIS']) {
    const f = path.join(root, 'ICH_nii_StrippedSkull', folder, `${id}_brain.nii.gz`);
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`no image for ${id}`);
}

function editCsv(root: string, edit: (header: string[], rows: string[][]) => string[][]): void {
  const file = path.join(root, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv');
  const t = parseCsv(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, formatCsv(t.header, edit(t.header, t.rows.map((r) => r.cells))));
}

describe('data/cohort and data/check', () => {
  it('discovers the authors layout and joins rows and scans in table order', async () => {
    const root = await smallCohort();
    const cohort = discoverCohort(root);
    assert.equal(cohort.layout, 'authors');
    assert.equal(cohort.patients.length, 30);
    assert.deepEqual(cohort.patients.map((p) => p.id), Array.from({ length: 30 }, (_, i) => String(i + 1)));
    assert.ok(cohort.patients.every((p) => p.imagePath.endsWith('_brain.nii.gz') && p.rawImagePath && p.maskPath));
    assert.ok(cohort.patients.every((p) => p.folder === (p.label ? 'POOR_PROGNOSIS' : 'GOOD_PROGNOSIS')));
    assert.deepEqual(cohort.issues, []);
    const raw = discoverCohort(root, { imageSource: 'raw' });
    assert.ok(raw.patients.every((p) => !p.imagePath.includes('StrippedSkull')));
  });

  it('warns, keeping the patient, when a scan\'s field of view is not square and the 301 x 301 resize would squeeze it', async () => {
    const root = await damagedCopy();
    // 32 x 40 voxels of 1 mm: what a gantry-tilt resampling that added rows looks like.
    writeNifti(imageOf(root, 8), { dims: [32, 40, 6], raw: new Float32Array(32 * 40 * 6), voxelSize: [1, 1, 5] });
    const report = await checkDataset(root);
    const eight = report.issues.filter((i) => i.patientId === '8');
    assert.deepEqual(eight.map((i) => [i.severity, i.message]), [
      ['warning', 'in-plane field of view expected square for the 301 x 301 resize, got 32.0 x 40.0 mm (32 x 40 voxels): the height is squeezed 1.25x more (gantry-tilt resampling or a rectangular reconstruction?)'],
    ]);
    assert.ok(!report.summary.skipped.some((x) => x.patientId === '8'), 'a warning, not a skip');
    const volume = (dims: [number, number, number], voxelSize: [number, number, number]): Volume =>
      ({ source: 'v', format: 'nifti1', dims, voxelType: 'int16', voxelSize, affine: [], raw: new Int16Array(0), slope: 1, intercept: 0 });
    assert.equal(inPlaneAspectWarning(volume([32, 40, 2], [1.25, 1, 5])), null, 'rectangular voxels, square field of view');
    assert.equal(inPlaneAspectWarning(volume([512, 530, 2], [0.45, 0.45, 5])), null, 'within 5%');
    assert.match(inPlaneAspectWarning(volume([630, 512, 2], [0.45, 0.45, 5]))!, /the width is squeezed 1\.23x more/);
  });

  it('takes patient IDs from every naming scheme', () => {
    assert.equal(patientIdFromFile('/a/12_brain.nii.gz'), '12');
    assert.equal(patientIdFromFile('012.nii'), '12');
    assert.equal(patientIdFromFile('7_mask.nii.gz'), '7');
    assert.equal(patientIdFromFile('33.npy'), '33');
  });

  it('reports every broken file and row, skips only those patients, and stays usable', async () => {
    const root = await damagedCopy();
    // Scans: truncated gzip, wrong magic, 4D, unsupported datatype, NaN voxels, one missing, one without a row.
    const cut = fs.readFileSync(imageOf(root, 1));
    fs.writeFileSync(imageOf(root, 1), cut.subarray(0, Math.floor(cut.length / 2)));
    const magic = Buffer.from(zlib.gunzipSync(fs.readFileSync(imageOf(root, 2))));
    magic.write('abc', 344, 'latin1');
    fs.writeFileSync(imageOf(root, 2), zlib.gzipSync(magic));
    fs.copyFileSync(path.join(FIXTURES, 'nifti/bad_4d.nii.gz'), imageOf(root, 3));
    fs.copyFileSync(path.join(FIXTURES, 'nifti/bad_complex64.nii'), imageOf(root, 4));
    const nan = new Float32Array(32 * 32 * 6);
    nan[100] = NaN;
    writeNifti(imageOf(root, 5), { dims: [32, 32, 6], raw: nan });
    fs.rmSync(imageOf(root, 6));
    fs.copyFileSync(imageOf(root, 7), path.join(path.dirname(imageOf(root, 7)), '999_brain.nii.gz'));
    // Rows: out-of-range GCS, non-numeric age, duplicate ID.
    editCsv(root, (header, rows) => {
      const col = (name: string) => header.indexOf(name);
      rows[7][col('GCS')] = '17';
      rows[8][col('Age')] = 'old';
      return [...rows, rows[9].slice()];
    });
    const report = await checkDataset(root);
    assert.equal(report.usable, true, 'one broken patient never makes the whole dataset unusable');
    const skipped = new Map(report.summary.skipped.map((s) => [s.patientId, s.reason]));
    assert.match(skipped.get('1')!, /truncated file/);
    assert.match(skipped.get('2')!, /magic expected "n\+1", got "abc"/);
    assert.match(skipped.get('3')!, /expected 3 dimensions, got 4D/);
    assert.match(skipped.get('4')!, /complex64/);
    assert.match(skipped.get('5')!, /1 NaN or infinite voxels/);
    assert.equal(skipped.get('6'), 'no scan');
    assert.equal(skipped.get('999'), 'no usable clinical row');
    assert.equal(skipped.get('8'), 'no usable clinical row');
    assert.equal(skipped.get('9'), 'no usable clinical row');
    assert.equal(report.summary.usablePatients, 30 - 8);
    const csvIssue = (row: number, column: string) => report.issues.find((i) => i.row === row && i.column === column);
    assert.match(csvIssue(9, 'GCS')!.message, /got 17/);
    assert.match(csvIssue(10, 'Age')!.message, /got "old"/);
    assert.match(csvIssue(32, 'PatientID')!.message, /duplicate of row 11/);
    for (const id of ['1', '2', '3', '4', '5']) {
      const issue = report.issues.find((i) => i.patientId === id && i.severity === 'error');
      assert.ok(issue && issue.file.endsWith(`${id}_brain.nii.gz`), `issue for patient ${id} names its file`);
    }
    const gcsTotal = Object.values(report.summary.gcsHistogram).reduce((a, b) => a + b, 0);
    assert.equal(gcsTotal, report.summary.usablePatients);
  });

  it('calls a dataset without a column, without a table or without a layout unusable, with the reason', async () => {
    const root = await damagedCopy();
    const file = path.join(root, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv');
    const t = parseCsv(fs.readFileSync(file, 'utf8'));
    const drop = t.header.indexOf('Urea');
    fs.writeFileSync(file, formatCsv(t.header.filter((_, i) => i !== drop), t.rows.map((r) => r.cells.filter((_, i) => i !== drop))));
    const report = await checkDataset(root);
    assert.equal(report.usable, false);
    assert.ok(report.issues.some((i) => i.column === 'Urea' && /missing/.test(i.message)));
    fs.rmSync(file);
    const noTable = await checkDataset(root);
    assert.equal(noTable.usable, false);
    assert.ok(noTable.issues.some((i) => /expected to be readable, got ENOENT/.test(i.message)));
    const empty = tempDir();
    const none = await checkDataset(empty);
    assert.equal(none.usable, false);
    assert.match(none.issues[0].message, /authors' layout.*DIGITAL\.CSIC layout/);
    assert.throws(() => detectLayout(empty), /got neither/);
  });

  it('reads the DIGITAL.CSIC layout (PREPROCESSED IMAGES/*.npy + CSV/ALL_PATIENTS.csv)', async () => {
    const src = await smallCohort();
    const root = tempDir();
    const base = path.join(root, '3D_dataset');
    const t = parseCsv(fs.readFileSync(path.join(src, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv'), 'utf8'));
    const header = ['Patient', ...t.header.slice(1)];
    fs.mkdirSync(path.join(base, 'CSV'), { recursive: true });
    fs.writeFileSync(path.join(base, 'CSV', 'ALL_PATIENTS.csv'), formatCsv(header, t.rows.slice(0, 6).map((r) => r.cells)));
    t.rows.slice(0, 6).forEach((r) => {
      const folder = r.cells[1] === '1' ? 'ICH' : 'CONTROLS';
      const vol = Float32Array.from({ length: 20 * 20 * 8 }, (_, i) => ((i * 7) % 100) / 100);
      writeNpy(path.join(base, 'PREPROCESSED IMAGES', folder, `${r.cells[0]}.npy`), vol, [20, 20, 8]);
    });
    const cohort = discoverCohort(root);
    assert.equal(cohort.layout, 'digital-csic');
    assert.equal(cohort.patients.length, 6);
    const report = await checkDataset(root);
    assert.equal(report.summary.usablePatients, 6);
    assert.deepEqual(report.summary.sliceHistogram, { 8: 6 });
  });
});
