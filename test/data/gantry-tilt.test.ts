import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { assembleSeries, scanDicomFolder } from '../../src/data/dicom-series';
import { correctGantryTilt, resolveGantryTilt } from '../../src/data/gantry-tilt';
import { Volume, volumeValues } from '../../src/io/volume';
import { cross3, dot3 } from '../../src/math/vec3';
import { FIXTURES, fixture, maxAbsDiff } from '../support/paths';

// Expected volumes: dcm2niix 1.0.20220720's tilt-corrected file (out_Tilt_1.nii) of each series, read by nibabel 5.0;
// test/fixtures/gen/make_tilt_fixtures.py. `gantry-tilt` tilts +12 degrees (rows added above), `tilt-minus-16` -16
// degrees (rows added below, the origin moved).
const expected = fixture('dicom-tilt/expected.json').volumes;
const FOLDERS: Record<string, string> = { 'gantry-tilt': path.join(FIXTURES, 'dicom', 'gantry-tilt'), 'tilt-minus-16': path.join(FIXTURES, 'dicom-tilt', 'tilt-minus-16') };

function assembled(name: string) {
  const scan = scanDicomFolder(FOLDERS[name]);
  assert.deepEqual(scan.issues, []);
  return assembleSeries(scan.series[0]);
}

/** A float volume whose value at each voxel is a linear function of its world position, on a sheared affine. */
function linearVolume(dims: [number, number, number], affine: number[][]): { volume: Volume; f: (p: number[]) => number } {
  const f = (p: number[]) => 3 + 0.5 * p[0] - 1.25 * p[1] + 0.75 * p[2];
  const raw = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) raw[i + dims[0] * (j + dims[1] * k)] = f(world(affine, i, j, k));
  return { volume: { source: 'linear', format: 'nifti1', dims, voxelType: 'float32', voxelSize: [1, 1, 1], affine, raw, slope: 1, intercept: 0 }, f };
}

const world = (affine: number[][], i: number, j: number, k: number) => [0, 1, 2].map((r) => affine[r][0] * i + affine[r][1] * j + affine[r][2] * k + affine[r][3]);

/**
 * Every voxel of the corrected volume lies on its slice's acquired plane and holds that slice's pixels interpolated
 * at its own place, found from the DICOM headers (ImagePositionPatient, ImageOrientationPatient, PixelSpacing) alone.
 */
function assertOnAcquiredPlanes(name: string, acquired: Volume, corrected: Volume) {
  const slices = scanDicomFolder(FOLDERS[name]).series[0].slices;
  const rowDir = slices[0].orientation.slice(0, 3);
  const colDir = slices[0].orientation.slice(3, 6);
  const normal = cross3(rowDir, colDir);
  const ordered = [...slices].sort((p, q) => dot3(p.position, normal) - dot3(q.position, normal));
  const [rowSpacing, colSpacing] = slices[0].pixelSpacing;
  const [nx, ny] = acquired.dims;
  const [mx, my, nz] = corrected.dims;
  const stored = volumeValues(acquired);
  const values = volumeValues(corrected);
  let checked = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < my; j++) {
      for (let i = 0; i < mx; i++) {
        const ras = world(corrected.affine, i, j, k);
        const d = [-ras[0] - ordered[k].position[0], -ras[1] - ordered[k].position[1], ras[2] - ordered[k].position[2]];
        assert.ok(Math.abs(dot3(d, normal)) < 1e-3, `voxel ${i},${j},${k} ${dot3(d, normal)} mm off slice ${k}'s plane`);
        const column = dot3(d, rowDir) / colSpacing;
        const row = dot3(d, colDir) / rowSpacing;
        if (column < -1e-6 || column > nx - 1 + 1e-6 || row < -1e-6 || row > ny - 1 + 1e-6) continue;
        // Acquired voxel j counts DICOM rows from the last one up.
        const y = ny - 1 - row;
        const y0 = Math.max(0, Math.floor(y + 1e-9));
        const y1 = Math.min(ny - 1, y0 + 1);
        const x = Math.round(column);
        const at = (yy: number) => stored[x + nx * (yy + ny * k)];
        const want = at(y0) + (y - y0) * (at(y1) - at(y0));
        assert.ok(Math.abs(values[i + mx * (j + my * k)] - want) <= 0.5 + 1e-6, `voxel ${i},${j},${k}: ${values[i + mx * (j + my * k)]} vs ${want}`);
        checked++;
      }
    }
  }
  // Shifted slices fall between rows: at least one fewer row of each is inside the acquired plane.
  assert.ok(checked >= nx * (ny - 1) * nz, `${checked} voxels checked`);
}

describe('data/gantry-tilt', () => {
  for (const name of ['gantry-tilt', 'tilt-minus-16']) {
    it(`resamples a tilted series (${name}) voxel for voxel as dcm2niix's Tilt_1 file, with its affine`, () => {
      const ref = expected[name];
      const before = assembled(name);
      assert.ok(Math.abs(before.tiltDegrees - ref.tiltDegrees) < 0.01, `tilt ${before.tiltDegrees}`);
      const { volume, added } = correctGantryTilt(before.volume);
      assert.deepEqual(volume.dims, ref.dims);
      assert.equal(added[0], 0, 'a gantry tilt shifts slices along the columns only');
      assert.equal(volume.voxelType, before.volume.voxelType, 'stored type and scaling kept');
      assert.equal(maxAbsDiff(volumeValues(volume), ref.values), 0);
      // dcm2niix's axes, not its origin: its origin is 3.1 mm (gantry-tilt) and 17.8 mm (tilt-minus-16) away from the
      // voxel it labels, which the check against the slices' own ImagePositionPatient below rules out here.
      for (let r = 0; r < 4; r++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(volume.affine[r][c] - ref.affine[r][c]) < 1e-3, `affine[${r}][${c}] ${volume.affine[r][c]} vs ${ref.affine[r][c]}`);
      assertOnAcquiredPlanes(name, before.volume, volume);
      // The third column is now perpendicular to the planes, and its length the spacing along the normal.
      const col = (c: number) => [0, 1, 2].map((r) => volume.affine[r][c]);
      assert.ok(Math.abs(dot3(col(2), col(0))) < 1e-9 && Math.abs(dot3(col(2), col(1))) < 1e-9);
      assert.ok(Math.abs(volume.voxelSize[2] - before.sliceSpacing) < 1e-4, `${volume.voxelSize[2]} vs ${before.sliceSpacing}`);
    });
  }

  it('says in the warning what it did, or keeps the stack as acquired when asked', () => {
    const before = assembled('gantry-tilt');
    const fixed = resolveGantryTilt(before);
    assert.deepEqual(fixed.volume.dims, [6, 10, 4]);
    assert.deepEqual(fixed.warnings, ['gantry tilt of 12.00 degrees: resampled onto planes perpendicular to the stack (slices shifted by 1.485 rows each, 5 -> 10 rows)']);
    const kept = resolveGantryTilt(before, true);
    assert.equal(kept.volume, before.volume);
    assert.deepEqual(kept.warnings, ['gantry tilt of 12.00 degrees: voxels kept as acquired (--keep-tilt), the affine is sheared']);
    const straight = { ...before, tiltDegrees: 0 };
    assert.equal(resolveGantryTilt(straight), straight);
  });

  it('keeps every voxel at its place in the world: a linear field is reproduced wherever the slice was acquired', () => {
    // Shifts of +0.6 columns and -1.3 rows per slice (bilinear), 0.8 x 0.7 mm pixels, 5 mm along the normal.
    const affine = [
      [-0.8, 0, -0.48, 10],
      [0, 0.7, -0.91, -20],
      [0, 0, 5, 30],
      [0, 0, 0, 1],
    ];
    const { volume, f } = linearVolume([7, 6, 5], affine);
    const { volume: out, shiftPerSlice, added } = correctGantryTilt(volume);
    assert.ok(Math.abs(shiftPerSlice[0] - 0.6) < 1e-12 && Math.abs(shiftPerSlice[1] + 1.3) < 1e-12, `${shiftPerSlice}`);
    assert.deepEqual(added, [3, 6]);
    assert.deepEqual(out.dims, [10, 12, 5]);
    assert.deepEqual(out.affine.map((row) => Number(row[2].toFixed(9)) || 0), [0, 0, 5, 0]);
    const min = Math.min(...volume.raw);
    const [mx, my] = out.dims;
    let inside = 0;
    for (let k = 0; k < 5; k++) {
      for (let j = 0; j < my; j++) {
        for (let i = 0; i < mx; i++) {
          // Where this voxel lies in slice k's own grid.
          const si = i + Math.min(0, 0.6 * 4) - 0.6 * k;
          const sj = j + Math.min(0, -1.3 * 4) + 1.3 * k;
          const v = out.raw[i + mx * (j + my * k)];
          if (si >= 0 && si <= 6 && sj >= 0 && sj <= 5) {
            inside++;
            assert.ok(Math.abs(v - f(world(out.affine, i, j, k))) < 1e-3, `voxel ${i},${j},${k}: ${v} vs ${f(world(out.affine, i, j, k))}`);
          } else if (si < 0 || si >= 7 || sj < 0 || sj >= 6) {
            assert.equal(v, min, `voxel ${i},${j},${k} outside the acquired plane`);
          }
        }
      }
    }
    assert.ok(inside >= 5 * 6 * 5, `${inside} voxels inside`);
  });

  it('returns a straight stack unchanged and refuses an oblique pixel grid', () => {
    const straight = linearVolume([3, 3, 4], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]).volume;
    const same = correctGantryTilt(straight);
    assert.equal(same.volume, straight);
    assert.deepEqual(same.added, [0, 0]);
    const single = linearVolume([3, 3, 1], [[1, 0, 0.5, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]).volume;
    assert.equal(correctGantryTilt(single).volume, single, 'one slice has no tilt to correct');
    const skew = linearVolume([3, 3, 2], [[1, 0.2, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]).volume;
    assert.throws(() => correctGantryTilt(skew), /affine expected perpendicular in-plane axes for a gantry-tilt correction, got i 1\.0000,0\.0000,0\.0000 and j 0\.2000,1\.0000,0\.0000 \(linear\)/);
  });
});
