import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { padDepthSymmetric, preprocessVolume, resizeArea, windowHounsfield, VolumeShape, areaBins } from '../../src/data/preprocess';
import { readNifti } from '../../src/io/nifti';
import { Volume } from '../../src/io/volume';
import { FIXTURES, fixture, maxAbsDiff } from '../support/paths';

// Reference: nibabel read, numpy transpose/window/pad, torch.nn.functional.interpolate(mode='area') (PyTorch 1.13,
// test/fixtures/gen/make_fixtures.py).
const f = fixture('preprocess.json');

describe('data/preprocess', () => {
  for (const c of f.cases) {
    it(`equals the numpy + PyTorch reference to 1e-6 (${c.file}, size ${c.size}, quirks ${c.quirks})`, async () => {
      const v = await readNifti(path.join(FIXTURES, c.file));
      const out = preprocessVolume(v, { size: c.size, padDepth: c.padDepth, quirks: c.quirks, intensity: 'hu' });
      assert.deepEqual(out.shape, c.size);
      assert.ok(maxAbsDiff(out.data, c.expected) < 1e-6, `max diff ${maxAbsDiff(out.data, c.expected)}`);
    });
  }

  for (const c of f.area) {
    it(`area resize [${c.shape}] -> [${c.size}] equals PyTorch adaptive average pooling`, () => {
      const out = resizeArea(Float32Array.from(c.input), c.shape, c.size);
      assert.ok(maxAbsDiff(out, c.expected) < 1e-6);
    });
  }

  it('windows with the paper quirk (>= 100 HU and <= 15 HU become 0) or clips when fixed', () => {
    const hu = Float32Array.from([-1000, 15, 15.85, 57.5, 99.9, 100, 1200]);
    assert.deepEqual(Array.from(windowHounsfield(hu, 'paper')).map((v) => +v.toFixed(4)), [0, 0, 0.01, 0.5, 0.9988, 0, 0]);
    assert.deepEqual(Array.from(windowHounsfield(hu, 'fixed')).map((v) => +v.toFixed(4)), [0, 0, 0.01, 0.5, 0.9988, 1, 1]);
  });

  it('pads depth symmetrically with floor(missing / 2) before, and never cuts longer scans', () => {
    const data = Float32Array.from([1, 2, 3]); // depth 3, 1 x 1
    const p = padDepthSymmetric(data, [3, 1, 1], 8);
    assert.deepEqual(Array.from(p.data), [0, 0, 1, 2, 3, 0, 0, 0]);
    const long = padDepthSymmetric(new Float32Array(50), [50, 1, 1], 40);
    assert.deepEqual(long.shape, [50, 1, 1]);
  });

  it('bins of area interpolation follow floor/ceil', () => {
    const { start, end } = areaBins(512, 301);
    assert.equal(start[0], 0);
    assert.equal(end[300], 512);
    assert.equal(end[0], 2);
  });

  it('orients the NIfTI voxel order as [depth=z][height=y][width=x]', () => {
    const raw = new Int16Array(2 * 3 * 4);
    raw[1 + 2 * (2 + 3 * 3)] = 60; // x=1, y=2, z=3
    const vol: Volume = { source: 't', format: 'nifti1', dims: [2, 3, 4], voxelType: 'int16', voxelSize: [1, 1, 1], affine: [], raw, slope: 1, intercept: 0 };
    const out = preprocessVolume(vol, { size: [4, 3, 2], padDepth: 4 });
    const shape: VolumeShape = [4, 3, 2];
    assert.ok(Math.abs(out.data[(3 * shape[1] + 2) * shape[2] + 1] - 45 / 85) < 1e-6);
  });

  it('gives the same result on the 16-bit lookup-table path and the float path', async () => {
    const v = await readNifti(path.join(FIXTURES, f.cases[0].file));
    const asFloat: Volume = { ...v, voxelType: 'float32', raw: Float32Array.from(v.raw) };
    for (const quirks of ['paper', 'fixed'] as const) {
      const a = preprocessVolume(v, { size: [9, 20, 11], quirks });
      const b = preprocessVolume(asFloat, { size: [9, 20, 11], quirks });
      assert.ok(maxAbsDiff(a.data, b.data) < 1e-6);
    }
    const scaled: Volume = { ...v, slope: 0.5, intercept: 20 };
    const scaledFloat: Volume = { ...asFloat, slope: 0.5, intercept: 20 };
    assert.ok(maxAbsDiff(preprocessVolume(scaled, { size: [4, 7, 9] }).data, preprocessVolume(scaledFloat, { size: [4, 7, 9] }).data) < 1e-6);
  });

  it('takes values already in [0, 1] as they are (preprocessed .npy), and refuses NaN voxels naming the file', () => {
    const raw = Float32Array.from({ length: 8 }, (_, i) => i / 10);
    const unit: Volume = { source: 'u.npy', format: 'npy', dims: [2, 2, 2], voxelType: 'float32', voxelSize: [1, 1, 1], affine: [], raw, slope: 1, intercept: 0 };
    const out = preprocessVolume(unit, { size: [2, 2, 2], padDepth: 2 });
    assert.equal(out.intensity, 'unit');
    assert.deepEqual(Array.from(out.data), Array.from(raw));
    const nan = { ...unit, source: 'bad.nii', raw: Float32Array.from([NaN, 0, 0, 0, 0, 0, 0, 1]) };
    assert.throws(() => preprocessVolume(nan, { size: [2, 2, 2] }), /got 1 NaN or infinite voxels \(bad\.nii\)/);
    assert.throws(() => preprocessVolume(unit, { size: [2, 0, 2] }), /three positive integers/);
  });
});
