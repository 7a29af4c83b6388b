import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { encodeNifti1, parseNifti, readNifti, readNiftiDescription, writeNifti } from '../../src/io/nifti';
import { volumeStatistics, volumeValues } from '../../src/io/volume';
import { FIXTURES, fixture, maxAbsDiff, tempDir } from '../support/paths';

// Files written by nibabel and what nibabel reads from them (test/fixtures/gen/make_fixtures.py).
const f = fixture('nifti.json');

describe('io/nifti', () => {
  for (const c of f.files) {
    it(`reads ${c.file} (${c.note}) as nibabel does`, async () => {
      const v = await readNifti(path.join(FIXTURES, c.file));
      assert.deepEqual(v.dims, c.dims);
      const values = volumeValues(v);
      assert.ok(maxAbsDiff(values, c.values) <= 1e-6 * Math.max(1, ...c.values.map(Math.abs)), "voxel values");
      for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(v.affine[r][k] - c.affine[r][k]) < 1e-5, `affine[${r}][${k}] ${v.affine[r][k]} vs ${c.affine[r][k]}`);
      v.voxelSize.forEach((z, i) => assert.ok(Math.abs(z - Math.abs(c.voxelSize[i])) < 1e-6));
      const s = volumeStatistics(v);
      assert.ok(Math.abs(s.min - c.min) < 1e-6 && Math.abs(s.max - c.max) < 1e-6);
      assert.ok(Math.abs(s.mean - c.mean) < 1e-6 * Math.max(1, Math.abs(c.mean)));
      assert.ok(Math.abs(s.std - c.std) < 1e-6 * Math.max(1, c.std));
    });
  }

  it('reads the header text alone as the full reader does (NIfTI-1 and -2, both byte orders, gz or not)', async () => {
    for (const c of f.files) assert.equal(readNiftiDescription(path.join(FIXTURES, c.file)), (await readNifti(path.join(FIXTURES, c.file))).description, c.file);
    // a scan far larger than the 64 KiB read: only the header is inflated
    const file = path.join(tempDir(), 'big.nii.gz');
    let state = 12345;
    const raw = Int16Array.from({ length: 128 * 128 * 16 }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state & 0x7fff; // noise does not compress, so the file is far past the 64 KiB read
    });
    writeNifti(file, { dims: [128, 128, 16], raw, description: 'ich-prognosis synthetic Philips' });
    assert.ok(fs.statSync(file).size > 65536);
    assert.equal(readNiftiDescription(file), 'ich-prognosis synthetic Philips');
    assert.throws(() => readNiftiDescription(path.join(tempDir(), 'missing.nii.gz')), /NIfTI file expected to be readable, got ENOENT \(.*missing\.nii\.gz\)/);
  });

  it('refuses a 4D volume, naming the file and the dims', async () => {
    await assert.rejects(readNifti(path.join(FIXTURES, 'nifti/bad_4d.nii.gz')), /expected 3 dimensions, got 4D with dims \[4, 3, 2, 2\] \(.*bad_4d\.nii\.gz/);
  });

  it('refuses an unsupported datatype by name', async () => {
    await assert.rejects(readNifti(path.join(FIXTURES, 'nifti/bad_complex64.nii')), /datatype expected one of .* got code 32 \(complex64\)/);
  });

  it('reads NaN voxels and counts them in the statistics', async () => {
    const v = await readNifti(path.join(FIXTURES, 'nifti/nan_voxels.nii.gz'));
    assert.equal(volumeStatistics(v).nonFinite, 2);
  });

  it('refuses a truncated .nii.gz, a truncated .nii, a wrong magic and a non-NIfTI file', async () => {
    const gz = fs.readFileSync(path.join(FIXTURES, 'nifti/int16.nii.gz'));
    await assert.rejects(parseNifti(gz.subarray(0, gz.length - 20), 'cut.nii.gz'), /gzip stream expected complete compressed data, got truncated file \(cut\.nii\.gz\)/);
    const raw = fs.readFileSync(path.join(FIXTURES, 'nifti/int16_big_endian.nii'));
    await assert.rejects(parseNifti(raw.subarray(0, raw.length - 10), 'cut.nii'), /voxel data expected .* bytes .*truncated file \(cut\.nii\)/);
    const magic = Buffer.from(zlib.gunzipSync(gz));
    magic.write('xyz', 344, 'latin1');
    await assert.rejects(parseNifti(magic, 'magic.nii'), /magic expected "n\+1", got "xyz" \(magic\.nii\)/);
    await assert.rejects(parseNifti(Buffer.from('hello world, this is not an image'), 'text.nii'), /header expected at least 348 bytes/);
    await assert.rejects(parseNifti(Buffer.alloc(400), 'zeros.nii'), /sizeof_hdr 348 or 540, got 0/);
    await assert.rejects(readNifti('/nonexistent/x.nii.gz'), /expected to be readable, got ENOENT/);
  });

  it('writes files it reads back identically, in both byte orders, gzip or not', async () => {
    const dir = tempDir();
    const dims: [number, number, number] = [6, 5, 4];
    const raw = Int16Array.from({ length: 120 }, (_, i) => (i * 37) % 500 - 250);
    const affine = [
      [-0.4, 0, 0, 50],
      [0, -0.4, 0, 60],
      [0, 0, 5, -20],
      [0, 0, 0, 1],
    ];
    for (const [name, littleEndian] of [['a.nii', true], ['b.nii.gz', false]] as const) {
      const file = path.join(dir, name);
      writeNifti(file, { dims, raw, voxelSize: [0.4, 0.4, 5], affine, slope: 1, intercept: 0, littleEndian });
      const back = await readNifti(file);
      assert.deepEqual(Array.from(back.raw), Array.from(raw));
      assert.deepEqual(back.dims, dims);
      for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(back.affine[r][k] - affine[r][k]) < 1e-6);
    }
    assert.throws(() => encodeNifti1({ dims, raw: new Int16Array(3) }), /expected 120 voxels/);
  });

  it('writes exactly the committed file nibabel was checked against', () => {
    // test/fixtures/nifti/written_by_ich.nii: nibabel's reading of it is in nifti.json (writerCheck).
    const w = f.writerCheck;
    const bytes = encodeNifti1({ dims: w.dims, raw: Float32Array.from(w.raw), voxelSize: w.voxelSize, affine: w.affine, description: w.description });
    assert.deepEqual(Buffer.from(bytes), fs.readFileSync(path.join(FIXTURES, 'nifti/written_by_ich.nii')));
    assert.ok(maxAbsDiff(w.nibabelValues, w.raw) === 0, 'nibabel reads the voxels back identically');
    for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(w.nibabelAffine[r][k] - w.affine[r][k]) < 1e-5, 'nibabel reads the affine back');
    assert.ok(Math.abs(w.nibabelQformAffine[0][0] - w.affine[0][0]) < 1e-5, 'the qform agrees with the sform');
  });
});
