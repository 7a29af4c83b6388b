import { strict as assert } from 'node:assert';
import { augmentVolume, rotateVolume, zoomCrop } from '../../src/data/augment';
import { VolumeShape } from '../../src/data/preprocess';
import { SeededRandom } from '../../src/math/random';
import { fixture, maxAbsDiff } from '../support/paths';

// Zoom reference: torch interpolate(mode='area') to floor(1.1 n) then centre crop, as MONAI Zoom(keep_size=True).
const z = fixture('preprocess.json').zoom;

function ramp(shape: VolumeShape): Float32Array {
  return Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
}

describe('data/augment', () => {
  it('zoom 1.1 + centre crop equals the PyTorch/MONAI reference', () => {
    const out = zoomCrop(Float32Array.from(z.input), z.shape, z.factor);
    assert.ok(maxAbsDiff(out, z.expected) < 1e-6);
  });

  it('rotation by zero is the identity and a 90 degree turn about depth moves voxels as expected', () => {
    const shape: VolumeShape = [3, 5, 5];
    const v = ramp(shape);
    assert.ok(maxAbsDiff(rotateVolume(v, shape, [0, 0, 0]), v) < 1e-6);
    // 90 degrees about the depth axis: out[d][h][w] = in[d][w][4 - h] (inverse mapping about the centre 2, 2).
    const w = rotateVolume(v, shape, [90, 0, 0]);
    const at = (a: Float32Array, d: number, h: number, x: number) => a[(d * 5 + h) * 5 + x];
    let diff = 0;
    for (let d = 0; d < 3; d++) for (let h = 0; h < 5; h++) for (let x = 0; x < 5; x++) diff = Math.max(diff, Math.abs(at(w, d, h, x) - at(v, d, x, 4 - h)));
    assert.ok(diff < 1e-5, `rotation mismatch ${diff}`);
    // Rotation preserves a constant volume under border padding.
    const c = new Float32Array(75).fill(0.3);
    assert.ok(maxAbsDiff(rotateVolume(c, shape, [4, -3, 5]), c) < 1e-6);
  });

  it('is deterministic for a seed, leaves the input untouched, and varies across seeds', () => {
    const shape: VolumeShape = [8, 12, 12];
    const v = ramp(shape);
    const copy = v.slice();
    const a = augmentVolume(v, shape, new SeededRandom(5));
    const b = augmentVolume(v, shape, new SeededRandom(5));
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    assert.deepEqual(a.record, b.record);
    assert.deepEqual(Array.from(v), Array.from(copy));
    const records = Array.from({ length: 40 }, (_, s) => augmentVolume(v, shape, new SeededRandom(s)).record);
    const rotated = records.filter((r) => r.rotationDegrees).length;
    const noisy = records.filter((r) => r.noiseStd !== null).length;
    assert.ok(rotated > 8 && rotated < 32, `rotation probability ~0.5, got ${rotated}/40`);
    assert.ok(noisy > 8 && noisy < 32, `noise probability ~0.5, got ${noisy}/40`);
    assert.ok(records.every((r) => r.zoomed), 'paper quirk: the zoom is applied to every volume');
    records.forEach((r) => r.rotationDegrees?.forEach((d) => assert.ok(Math.abs(d) <= 5)));
    records.forEach((r) => assert.ok(r.noiseStd === null || (r.noiseStd >= 0 && r.noiseStd < 0.01)));
    const fixed = Array.from({ length: 40 }, (_, s) => augmentVolume(v, shape, new SeededRandom(s), { quirks: 'fixed' }).record);
    const zoomed = fixed.filter((r) => r.zoomed).length;
    assert.ok(zoomed > 8 && zoomed < 32, `fixed quirks: zoom with probability 0.5, got ${zoomed}/40`);
  });
});
