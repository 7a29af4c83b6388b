import { strict as assert } from 'node:assert';
import {
  connectedComponents,
  dilateBall,
  distanceTransform,
  erodeBall,
  fillHoles,
  fillHolesPerSlice,
  MaskDims,
  MaskSpacing,
  reachFrom,
  slicesWithVoxels,
  squaredDistanceToMask,
} from '../../src/math/morphology';
import { fixture, maxAbsDiff } from '../support/paths';

// scipy.ndimage distance_transform_edt (sampling dz, dy, dx = 2.5, 0.6, 0.45 mm), binary_erosion (border_value=1)
// and binary_dilation by the discrete ball of each radius, label and binary_propagation with the in-slice cross and
// generate_binary_structure(3, 1 | 3), binary_fill_holes in 3D and per slice
// (test/fixtures/gen/make_morphology_fixtures.py).
const f = fixture('morphology.json');
const dims = f.dims as MaskDims;
const spacing = f.spacing as MaskSpacing;

describe('math/morphology', () => {
  it('the distance transform equals scipy.ndimage.distance_transform_edt with anisotropic voxels to 1e-5 mm', () => {
    assert.ok(maxAbsDiff(distanceTransform(f.mask, dims, spacing), f.edt) < 1e-5);
    const d2 = squaredDistanceToMask(f.sources, dims, spacing);
    assert.ok(maxAbsDiff(d2, f.squaredDistanceToSources) < 1e-4, `max diff ${maxAbsDiff(d2, f.squaredDistanceToSources)}`);
  });

  it('erosion and dilation by a ball in mm equal SciPy with the discrete ball of the same radius', () => {
    for (const r of Object.keys(f.erode)) {
      assert.deepEqual(Array.from(erodeBall(f.mask, dims, spacing, Number(r))), f.erode[r], `erode ${r} mm`);
      assert.deepEqual(Array.from(dilateBall(f.sources, dims, spacing, Number(r))), f.dilate[r], `dilate ${r} mm`);
    }
  });

  it('connected components are numbered as scipy.ndimage.label for 4 (in-slice), 6 and 26 neighbours', () => {
    const six = connectedComponents(f.mask, dims, 6);
    const all = connectedComponents(f.mask, dims, 26);
    assert.deepEqual(Array.from(six.labels), f.label6);
    assert.deepEqual(Array.from(all.labels), f.label26);
    assert.deepEqual(Array.from(connectedComponents(f.mask, dims, 4).labels), f.label4, 'each slice on its own');
    assert.notEqual(six.sizes.length, all.sizes.length, 'the fixture has corner-only contacts');
    const counted = new Array(six.sizes.length).fill(0);
    for (const l of six.labels) counted[l]++;
    assert.deepEqual(six.sizes.slice(1), counted.slice(1));
  });

  it('fills 3D holes and per-slice holes as binary_fill_holes', () => {
    assert.deepEqual(Array.from(fillHoles(f.shell, dims)), f.fillHoles);
    assert.deepEqual(Array.from(fillHolesPerSlice(f.shell, dims)), f.fillHolesPerSlice);
    assert.deepEqual(Array.from(fillHoles(f.mask, dims)), f.fillHolesMask);
    // The ring open above and below is a hole in each slice but not in 3D.
    assert.notDeepEqual(f.fillHoles, f.fillHolesPerSlice);
  });

  it('reconstruction from seeds keeps the seeded components whole, as binary_propagation', () => {
    assert.deepEqual(Array.from(reachFrom(f.reachSeed, f.mask, dims, 6)), f.reachFrom6);
    assert.deepEqual(Array.from(reachFrom(f.reachSeed, f.mask, dims, 26)), f.reachFrom26);
    assert.deepEqual(Array.from(reachFrom(f.reachSeed, f.mask, dims, 4)), f.reachFrom4);
    const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
    assert.ok(sum(f.reachFrom4) < sum(f.reachFrom6) && sum(f.reachFrom6) < sum(f.reachFrom26) && sum(f.reachFrom26) < sum(f.mask), 'some components are unseeded; slices, faces and corners join ever more');
    // A seed outside the region reaches nothing.
    assert.deepEqual(Array.from(reachFrom([1, 0, 0], [0, 1, 1], [3, 1, 1])), [0, 0, 0]);
  });

  it('lists the slices that hold any voxel', () => {
    const m = new Uint8Array(2 * 2 * 4);
    m[4 + 3] = 1; // slice 1, last voxel
    m[12] = 1; // slice 3, first voxel
    assert.deepEqual(slicesWithVoxels(m, [2, 2, 4]), [1, 3]);
    assert.deepEqual(slicesWithVoxels(new Uint8Array(16), [2, 2, 4]), []);
    assert.throws(() => slicesWithVoxels(new Uint8Array(3), [2, 2, 4]), /slicesWithVoxels expected 2 x 2 x 4 = 16 voxels, got 3/);
  });

  it('handles empty and full masks and one-voxel grids', () => {
    const empty = new Uint8Array(24);
    const full = new Uint8Array(24).fill(1);
    const d = [2, 3, 4] as const;
    assert.ok(squaredDistanceToMask(empty, d, [1, 1, 1]).every((v) => v === Infinity));
    assert.ok(distanceTransform(full, d, [1, 1, 1]).every((v) => v === Infinity), 'the faces are not boundaries');
    assert.deepEqual(Array.from(erodeBall(full, d, [1, 1, 1], 10)), Array.from(full));
    assert.deepEqual(Array.from(dilateBall(empty, d, [1, 1, 1], 10)), Array.from(empty));
    assert.equal(connectedComponents(empty, d).sizes.length, 1);
    assert.deepEqual(Array.from(fillHoles(empty, d)), Array.from(empty));
    assert.deepEqual(Array.from(erodeBall([1], [1, 1, 1], [1, 1, 1], 0)), [1]);
    assert.deepEqual(Array.from(fillHolesPerSlice([0], [1, 1, 1])), [0]);
  });

  it('rejects a mask of the wrong size, bad voxel sizes and negative radii by name', () => {
    assert.throws(() => distanceTransform(new Uint8Array(5), [2, 3, 4], [1, 1, 1]), /expected 2 x 3 x 4 = 24 voxels, got 5/);
    assert.throws(() => squaredDistanceToMask(new Uint8Array(24), [2, 3, 4], [1, 0, 1]), /positive voxel sizes in mm, got \[1, 0, 1\]/);
    assert.throws(() => erodeBall(new Uint8Array(24), [2, 3, 4], [1, 1, 1], -1), /radius expected >= 0 mm, got -1/);
    assert.throws(() => dilateBall(new Uint8Array(24), [2, 3, 4], [1, 1, 1], NaN), /radius expected >= 0 mm, got NaN/);
    assert.throws(() => connectedComponents(new Uint8Array(24), [2, 3, 4], 18 as 6), /connectivity expected 4, 6 or 26, got 18/);
    assert.throws(() => fillHoles(new Uint8Array(0), [0, 3, 4]), /positive integer dims, got \[0, 3, 4\]/);
  });
});
