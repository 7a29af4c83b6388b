import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { importDicomCohort } from '../../src/data/dicom-import';
import { readNifti } from '../../src/io/nifti';
import { volumeValues } from '../../src/io/volume';
import { FIXTURES, maxAbsDiff, tempDir } from '../support/paths';

// Expected voxels: dcm2niix's conversion of the same series read by nibabel (test/fixtures/gen/make_dicom_fixtures.py).
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));

/** A DICOM root of patient folders made from the fixture series, and the synthetic clinical table. */
function cohort(): { from: string; out: string; clinical: string } {
  const root = tempDir('ich-dicom-');
  const from = path.join(root, 'dicom');
  const put = (patient: string, series: string) => fs.cpSync(path.join(DIR, series), path.join(from, patient, series), { recursive: true });
  put('001', 'axial'); // patient 1: poor prognosis in the table
  put('2', 'study'); // patient 2: good; three series, auto passes over the scout and the thin bone series
  put('3', 'oblique-12bit');
  put('4', 'jpeg2000'); // compressed: skipped, reported
  put('5', 'truncated'); // one slice unreadable: the other one alone is no volume
  put('213', 'axial'); // excluded as in the paper
  put('9999', 'axial'); // no clinical row
  fs.mkdirSync(path.join(from, '6')); // an empty folder
  return { from, out: path.join(root, 'data'), clinical: path.join(FIXTURES, 'clinical_synth.csv') };
}

describe('data/dicom-import', () => {
  it('converts each patient folder into the authors\' layout, which the cohort reader then reads, and skips the broken ones', async () => {
    const { from, out, clinical } = cohort();
    const seen: string[] = [];
    const report = importDicomCohort({ from, clinical, out, onPatient: (e) => seen.push(e.patientId) });
    assert.deepEqual(seen, ['1', '2', '213', '3', '4', '5', '6', '9999']);
    const status = Object.fromEntries(report.patients.map((p) => [p.patientId, p.status === 'converted' ? p.file : p.reason]));
    assert.equal(status['1'], path.join('ICH_nii', 'POOR_PROGNOSIS', '1.nii.gz'));
    assert.equal(status['2'], path.join('ICH_nii', 'GOOD_PROGNOSIS', '2.nii.gz'));
    assert.match(status['3']!, /_PROGNOSIS/);
    assert.match(status['4']!, /pixel data expected uncompressed, RLE, lossless JPEG or JPEG-LS, got JPEG 2000 Lossless/);
    assert.match(status['5']!, /CT series of several slices expected, got 2 "HEAD 5mm" \(CT, 1 slices, localizer\)/);
    assert.match(status['6']!, /DICOM files expected, got none/);
    assert.match(status['213']!, /excluded as in the paper/);
    assert.match(status['9999']!, /usable clinical row expected for patient 9999, got none/);
    assert.deepEqual([report.converted, report.skipped], [3, 5]);
    assert.equal(report.rowsWithoutStudy.length, 261 - 6, 'every table row without a folder (1-6 have one) is listed');
    assert.ok(!report.rowsWithoutStudy.includes('4') && report.rowsWithoutStudy.includes('7'));
    const two = report.patients.find((p) => p.patientId === '2')!;
    assert.deepEqual(two.series, { number: 3, description: 'HEAD 5mm', uid: two.series!.uid, slices: 3, transferSyntax: 'Explicit VR Little Endian' });
    assert.deepEqual(two.otherSeries, ['1 "Scout" (1 slices, localizer)', '4 "HEAD 2.5mm BONE" (6 slices)']);
    const five = report.issues.filter((i) => i.patientId === '5');
    assert.ok(five.some((i) => /IM0001\.dcm$/.test(i.file) && /truncated/.test(i.message)), 'the unreadable file is named');
    // The written dataset: the table copied, the scans where the cohort reader looks, the values dcm2niix gives.
    const written = JSON.parse(fs.readFileSync(path.join(out, 'ICH_nii', 'import-dicom.json'), 'utf8'));
    assert.equal(written.converted, 3);
    const c = discoverCohort(out);
    assert.equal(c.layout, 'authors');
    assert.deepEqual(c.patients.map((p) => p.id).sort(), ['1', '2', '3']);
    assert.ok(c.issues.some((i) => /skull-stripped scans expected/.test(i.message)), 'ICH_nii is used with the usual warning');
    for (const [id, key] of [['1', 'axial'], ['2', 'study-thick'], ['3', 'oblique-12bit']]) {
      const v = await readNifti(c.patients.find((p) => p.id === id)!.imagePath);
      assert.deepEqual(v.dims, expected.volumes[key].dims);
      assert.equal(maxAbsDiff(volumeValues(v), expected.volumes[key].values), 0, `patient ${id} values`);
      for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(v.affine[r][k] - expected.volumes[key].affine[r][k]) < 1e-3, `patient ${id} affine`);
      assert.match(v.description ?? '', /GE MEDICAL SYSTEMS/);
    }
  });

  it('takes the patient ID from the DICOM PatientID when asked, refuses a repeated ID, and moves a relabelled scan', () => {
    const root = tempDir('ich-dicom-tag-');
    const from = path.join(root, 'dicom');
    fs.cpSync(path.join(DIR, 'axial'), path.join(from, 'a', 's'), { recursive: true });
    fs.cpSync(path.join(DIR, 'big-endian'), path.join(from, 'b', 's'), { recursive: true });
    // Both fixture series carry PatientID "PID-axial": the second folder is refused as a repeat.
    const csv = fs.readFileSync(path.join(FIXTURES, 'clinical_synth.csv'), 'utf8').split('\n');
    const header = csv[0];
    const row = csv[1].replace(/^1,1,/, 'PID-axial,0,');
    const clinical = path.join(root, 'clinical.csv');
    fs.writeFileSync(clinical, [header, row].join('\n') + '\n');
    const out = path.join(root, 'data');
    fs.mkdirSync(path.join(out, 'ICH_nii', 'POOR_PROGNOSIS'), { recursive: true });
    fs.writeFileSync(path.join(out, 'ICH_nii', 'POOR_PROGNOSIS', 'PID-axial.nii.gz'), 'stale');
    const report = importDicomCohort({ from, clinical, out, idFrom: 'tag' });
    assert.deepEqual(report.patients.map((p) => [p.patientId, p.status]), [
      ['PID-axial', 'converted'],
      ['PID-axial', 'skipped'],
    ]);
    assert.match(report.patients[1].reason!, /patient ID expected once, got "PID-axial" again \(also .*[/\\]a\)/);
    assert.ok(fs.existsSync(path.join(out, 'ICH_nii', 'GOOD_PROGNOSIS', 'PID-axial.nii.gz')));
    assert.ok(!fs.existsSync(path.join(out, 'ICH_nii', 'POOR_PROGNOSIS', 'PID-axial.nii.gz')), 'the old label\'s copy is removed');
  });

  it('resamples a gantry-tilted series as dcm2niix\'s Tilt_1 file, or keeps it as acquired with keepTilt', async () => {
    // Expected: dcm2niix's corrected file (test/fixtures/gen/make_tilt_fixtures.py) and its uncorrected one.
    const corrected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'dicom-tilt', 'expected.json'), 'utf8')).volumes['gantry-tilt'];
    const root = tempDir('ich-dicom-tilt-');
    const from = path.join(root, 'dicom');
    fs.cpSync(path.join(DIR, 'gantry-tilt'), path.join(from, '1'), { recursive: true });
    const clinical = path.join(FIXTURES, 'clinical_synth.csv');
    for (const keepTilt of [false, true]) {
      const out = path.join(root, keepTilt ? 'kept' : 'resampled');
      const report = importDicomCohort({ from, clinical, out, keepTilt });
      const entry = report.patients[0];
      assert.equal(entry.status, 'converted', entry.reason);
      const v = await readNifti(path.join(out, entry.file!));
      const want = keepTilt ? expected.volumes['gantry-tilt'] : corrected;
      assert.deepEqual([v.dims, entry.dims], [want.dims, want.dims]);
      assert.equal(maxAbsDiff(volumeValues(v), want.values), 0);
      assert.equal(entry.tiltDegrees, 12);
      assert.match(entry.warnings.join(), keepTilt ? /gantry tilt of 12\.00 degrees: voxels kept as acquired \(--keep-tilt\)/ : /gantry tilt of 12\.00 degrees: resampled onto planes perpendicular to the stack \(slices shifted by 1\.485 rows each, 5 -> 10 rows\)/);
      assert.ok(report.issues.some((i) => i.severity === 'warning' && /gantry tilt/.test(i.message)), 'the tilt is in the report\'s issues too');
    }
  });

  it('throws only when there is nothing to read: no folder, or no patient folders in it', () => {
    const root = tempDir('ich-dicom-none-');
    const clinical = path.join(FIXTURES, 'clinical_synth.csv');
    assert.throws(() => importDicomCohort({ from: path.join(root, 'missing'), clinical, out: root }), /DICOM folder expected, got ".*missing" \(no such folder\)/);
    assert.throws(() => importDicomCohort({ from: root, clinical, out: path.join(root, 'o') }), /one sub-folder per patient, got none/);
  });
});
