import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleSeries, chooseSeries, DicomSeries, DicomSliceHeader, scanDicomFolder } from '../../src/data/dicom-series';
import { volumeValues } from '../../src/io/volume';
import { FIXTURES, maxAbsDiff } from '../support/paths';

// Expected volumes: what Debian's dcm2niix 1.0.20220720 writes for each series, read by nibabel 5.0
// (get_fdata, the affine); test/fixtures/gen/make_dicom_fixtures.py. Affines agree to 1e-3 mm: dcm2niix's oblique
// geometry differs from the exact one by ~3e-4 mm (its single-precision arithmetic); the voxels are exact.
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));

function one(folder: string) {
  const scan = scanDicomFolder(path.join(DIR, folder));
  assert.deepEqual(scan.issues, [], folder);
  assert.equal(scan.series.length, 1, folder);
  return assembleSeries(scan.series[0]);
}

function assertAffine(actual: number[][], wanted: number[][], what: string) {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(actual[r][c] - wanted[r][c]) < 1e-3, `${what} affine[${r}][${c}] ${actual[r][c]} vs ${wanted[r][c]}`);
}

describe('data/dicom-series', () => {
  const enhanced = ['enhanced', 'enhanced-implicit', 'enhanced-jpeg', 'enhanced-jpeg-no-offsets', 'enhanced-rle'];
  for (const name of enhanced) {
    it(`stacks the frames of an enhanced CT file (${name}) by their functional groups, as dcm2niix stacks the classic series`, () => {
      const ref = expected.volumes[name];
      const scan = scanDicomFolder(path.join(DIR, name));
      assert.deepEqual(scan.issues, []);
      assert.deepEqual(scan.series.map((s) => [s.number, s.description, s.slices.length, s.localizer]), [[5, 'Head enhanced', 4, false]]);
      assert.deepEqual(scan.series[0].slices.map((s) => s.frame), [0, 1, 2, 3]);
      let reads = 0;
      const { volume } = assembleSeries(scan.series[0], (f) => (reads++, fs.readFileSync(f)));
      assert.equal(reads, 1, 'the file is read once for its four frames');
      assert.equal(maxAbsDiff(volumeValues(volume), ref.values), 0);
      assertAffine(volume.affine, ref.affine, name);
      assert.deepEqual([volume.slope, volume.intercept], [1, -1024], 'rescale from the shared functional group');
      assert.equal(maxAbsDiff(volumeValues(volume), expected.volumes.axial.values), 0, 'the same voxels as the classic series');
    });
  }

  it('names the frame of an enhanced file whose functional groups are short or put two frames at one position', () => {
    const scan = scanDicomFolder(path.join(DIR, 'enhanced'));
    const series = scan.series[0];
    const twin = { ...series, slices: series.slices.map((s, i) => (i === 3 ? { ...s, position: series.slices[1].position } : s)) };
    assert.throws(() => assembleSeries(twin), /two at [0-9.]+ mm along the normal: .*EN0001\.dcm frame 2 and .*EN0001\.dcm frame 4/);
  });

  const compressed = ['jpeg-sv1', 'jpeg-sv4-sagittal', 'jpeg-sv6-descending', 'jpeg-sv7-12bit', 'jpeg-sv5-pt2', 'rle', 'rle-12bit', 'jpeg-ls', 'jpeg-ls-head', 'jpeg-ls-near'];
  for (const name of ['axial', 'implicit-descending', 'oblique-12bit', 'sagittal', 'big-endian', 'deflated', ...compressed]) {
    it(`stacks ${name} as dcm2niix does: voxel order, HU values and RAS affine`, () => {
      const ref = expected.volumes[name];
      const { volume, warnings, tiltDegrees } = one(name);
      assert.deepEqual(volume.dims, ref.dims);
      assert.equal(maxAbsDiff(volumeValues(volume), ref.values), 0, 'values');
      assertAffine(volume.affine, ref.affine, name);
      assert.deepEqual(warnings, []);
      assert.ok(tiltDegrees < 0.01);
      assert.equal(volume.format, 'dicom');
      assert.match(volume.description!, /^GE MEDICAL SYSTEMS STANDARD$/);
    });
  }

  it('keeps the integer voxels and the rescale as the NIfTI scaling (int16, uint16 with slope 0.5)', () => {
    const axial = one('axial').volume;
    assert.equal(axial.voxelType, 'int16');
    assert.deepEqual([axial.slope, axial.intercept], [1, -1024]);
    const oblique = one('oblique-12bit').volume;
    assert.equal(oblique.voxelType, 'uint16');
    assert.deepEqual([oblique.slope, oblique.intercept], [0.5, -1000]);
    assert.deepEqual(oblique.voxelSize.map((v) => Number(v.toFixed(4))), [0.45, 0.5, 2.5]);
  });

  it('converts a series whose slices rescale differently to float32 values, with a warning', () => {
    const series = scanDicomFolder(path.join(DIR, 'axial')).series[0];
    const plain = assembleSeries(series).volume;
    // The slice 5 mm above the first gets slope 2: its values become (stored * 2 - 1024).
    const changed = { ...series, slices: series.slices.map((s) => (s.position[2] === 35 ? { ...s, slope: 2 } : s)) };
    const { volume, warnings } = assembleSeries(changed);
    assert.equal(volume.voxelType, 'float32');
    assert.deepEqual([volume.slope, volume.intercept], [1, 0]);
    assert.match(warnings.join(), /RescaleSlope\/Intercept differ between slices: values stored as float32/);
    const planes = 30;
    const a = volumeValues(plain);
    const b = volumeValues(volume);
    for (let i = 0; i < a.length; i++) {
      const want = Math.floor(i / planes) === 1 ? (a[i] + 1024) * 2 - 1024 : a[i];
      assert.equal(b[i], want, `voxel ${i}`);
    }
  });

  it('keeps a gantry-tilted stack as acquired (dcm2niix\'s uncorrected voxels), with a sheared affine and a warning', () => {
    const ref = expected.volumes['gantry-tilt'];
    const { volume, warnings, tiltDegrees } = one('gantry-tilt');
    assert.equal(maxAbsDiff(volumeValues(volume), ref.values), 0);
    assert.ok(Math.abs(tiltDegrees - ref.tiltDegrees) < 0.01, `tilt ${tiltDegrees}`);
    assert.match(warnings.join(), /gantry tilt of 12\.00 degrees/);
    // The third column is the true step between slices: 5 mm along z, whatever the planes' tilt.
    assert.deepEqual(volume.affine.map((row) => Number(row[2].toFixed(4))), [0, 0, 5, 0]);
  });

  it('groups a study by series, passes over files that are not DICOM, and chooses a series', () => {
    const scan = scanDicomFolder(path.join(DIR, 'study'));
    assert.deepEqual(scan.issues, []);
    assert.equal(scan.files, 10);
    assert.deepEqual(scan.series.map((s) => [s.number, s.description, s.slices.length, s.localizer]), [
      [1, 'Scout', 1, true],
      [3, 'HEAD 5mm', 3, false],
      [4, 'HEAD 2.5mm BONE', 6, false],
    ]);
    const where = 'study';
    assert.equal(chooseSeries(scan.series, 'auto', where).number, 3, 'auto: the bone reconstruction is passed over');
    const [scout, thick, thin] = scan.series;
    const edit = (s: DicomSeries, change: Partial<DicomSliceHeader>, description = s.description): DicomSeries => ({ ...s, description, slices: s.slices.map((x) => ({ ...x, ...change })) });
    const soft = edit(thin, { convolutionKernel: 'STANDARD' }, 'HEAD 2.5mm');
    assert.equal(chooseSeries([scout, thick, soft], 'auto', where).number, 4, 'auto: then the most slices');
    assert.equal(chooseSeries([scout, thick, edit(thin, { convolutionKernel: 'BONEPLUS' }, 'HEAD 2.5mm')], 'auto', where).number, 3, 'kernel named bone');
    const sagittal = edit(soft, { orientation: [0, 1, 0, 0, 0, -1] });
    assert.equal(chooseSeries([scout, thick, sagittal], 'auto', where).number, 3, 'a sagittal reformat is passed over');
    const derived = edit(soft, { imageType: 'DERIVED\\SECONDARY\\AXIAL' });
    assert.equal(chooseSeries([scout, thick, derived], 'auto', where).number, 3, 'derived images are passed over');
    assert.equal(chooseSeries([scout, sagittal], 'auto', where).number, 4, 'a preference no series meets is dropped');
    const tilted = edit(soft, { orientation: [1, 0, 0, 0, Math.cos(0.5), -Math.sin(0.5)] });
    assert.equal(chooseSeries([scout, thick, tilted], 'auto', where).number, 4, 'a 29 degree gantry tilt is still axial');
    assert.equal(chooseSeries(scan.series, '3', where).number, 3);
    assert.equal(chooseSeries(scan.series, 'head 5MM', where).number, 3, 'description, case-insensitive');
    assert.throws(() => chooseSeries(scan.series, 'HEAD', where), /"HEAD" expected to match one series, got 2 among 1 "Scout" \(CT, 1 slices, localizer\); 3 "HEAD 5mm".*\(study\)/);
    assert.throws(() => chooseSeries(scan.series, '9', where), /got 0/);
    assert.throws(() => chooseSeries([scan.series[0]], 'auto', where), /CT series of several slices expected, got 1 "Scout"/);
    assert.throws(() => chooseSeries([], 'auto', where), /at least one, got none \(study\)/);
    for (const [number, key] of [[3, 'study-thick'], [4, 'study-thin']] as const) {
      const { volume } = assembleSeries(chooseSeries(scan.series, String(number), where));
      assert.equal(maxAbsDiff(volumeValues(volume), expected.volumes[key].values), 0, key);
      assertAffine(volume.affine, expected.volumes[key].affine, key);
    }
  });

  it('warns about uneven slice spacing and refuses two slices at one position', () => {
    const { warnings, sliceSpacing } = one('missing-slice');
    assert.match(warnings.join(), /slice spacing varies from 5\.000 to 10\.000 mm \(mean 6\.667 mm/);
    assert.ok(Math.abs(sliceSpacing - 20 / 3) < 1e-9);
    const dup = scanDicomFolder(path.join(DIR, 'duplicate-position'));
    assert.throws(() => assembleSeries(dup.series[0]), /slices expected at distinct positions, got two at 5\.000 mm along the normal: .*IM0001\.dcm and .*IM0002\.dcm/);
  });

  it('reports an unreadable file and goes on with the rest; compressed pixels fail the series by name', () => {
    const scan = scanDicomFolder(path.join(DIR, 'truncated'));
    assert.equal(scan.issues.length, 1);
    assert.match(scan.issues[0].file, /IM0001\.dcm$/);
    assert.match(scan.issues[0].message, /truncated.*\(file skipped\)/);
    assert.equal(scan.series[0].slices.length, 1, 'the intact slice is kept');
    const jpeg = scanDicomFolder(path.join(DIR, 'jpeg2000'));
    assert.deepEqual(jpeg.issues, []);
    assert.throws(() => assembleSeries(jpeg.series[0]), /pixel data expected uncompressed, RLE, lossless JPEG or JPEG-LS, got JPEG 2000 Lossless/);
    // Pixels cut short are found when the series is stacked (the scan reads headers only): the file is named.
    const axial = scanDicomFolder(path.join(DIR, 'axial')).series[0];
    const cut = (file: string) => (file === axial.slices[1].file ? fs.readFileSync(file).subarray(0, fs.statSync(file).size - 20) : fs.readFileSync(file));
    assert.throws(() => assembleSeries(axial, cut), new RegExp(`\\(7FE0,0010\\) expected 60 bytes .*\\(${axial.slices[1].file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated\\)`));
  });

  it('refuses slices that disagree in size or orientation, naming both files', () => {
    const scan = scanDicomFolder(path.join(DIR, 'axial'));
    const series = scan.series[0];
    const bad = { ...series, slices: series.slices.map((s, i) => (i === 2 ? { ...s, rows: 7 } : s)) };
    assert.throws(() => assembleSeries(bad), /Rows x Columns expected \[5,6\] as in .*IM\d+\.dcm, got \[7,6\] \(.*IM\d+\.dcm; series 2 "HEAD 5mm"/);
    const turned = { ...series, slices: series.slices.map((s, i) => (i === 1 ? { ...s, orientation: [0, 1, 0, 1, 0, 0] as typeof s.orientation } : s)) };
    assert.throws(() => assembleSeries(turned), /ImageOrientationPatient expected \[1,0,0,0,1,0\]/);
    const skew = { ...series, slices: series.slices.map((s) => ({ ...s, orientation: [1, 0, 0, 0.5, 1, 0] as typeof s.orientation })) };
    assert.throws(() => assembleSeries(skew), /two orthogonal unit vectors/);
  });
});
