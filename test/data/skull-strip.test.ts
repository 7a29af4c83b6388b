import { strict as assert } from 'node:assert';
import { applyBrainMask, maskAgreement, resolveSkullStripOptions, skullStripMask } from '../../src/data/skull-strip';
import { hardHead } from '../support/hard-head';

function countIn(mask: Uint8Array, region: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] && region[i]) c++;
  return c;
}

describe('data/skull-strip', () => {
  it('finds the synthetic brain (Dice >= 0.995 below 200 HU) without eyes, optic nerves, a fluid-filled sinus, headrest or scalp through a burr hole', () => {
    for (const index of [0, 5]) {
      const h = hardHead(index, 160);
      const r = skullStripMask(h.volume);
      // Voxels of the brain that the blur pushed to 200 HU or more (partial volume with the inner table) are bone by
      // their value; against the rest of the brain the mask must agree almost exactly, and well against the whole.
      const softTruth = h.truth.map((t, i) => (t && h.volume.raw[i] - 1024 < 200 ? 1 : 0));
      const a = maskAgreement(r.mask, softTruth, h.volume.voxelSize);
      const whole = maskAgreement(r.mask, h.truth, h.volume.voxelSize);
      assert.ok(a.dice >= 0.995, `patient ${index}: Dice ${a.dice.toFixed(4)} (ours ${a.aMl.toFixed(0)} mL, truth below 200 HU ${a.bMl.toFixed(0)} mL)`);
      assert.ok(whole.dice >= 0.97, `patient ${index}: Dice ${whole.dice.toFixed(4)} against the whole brain (${whole.bMl.toFixed(0)} mL)`);
      assert.ok(Math.abs(r.brainMl - a.bMl) / a.bMl < 0.01, `volume ${r.brainMl.toFixed(0)} vs ${a.bMl.toFixed(0)} mL`);
      const eyeVoxels = h.eyes.reduce((s, v) => s + v, 0);
      assert.ok(countIn(r.mask, h.eyes) < 0.03 * eyeVoxels, `eye and nerve voxels in the mask: ${countIn(r.mask, h.eyes)} of ${eyeVoxels}`);
      assert.equal(countIn(r.mask, h.headrest), 0);
      assert.ok(h.sinus.reduce((s, v) => s + v, 0) > 0);
      assert.equal(countIn(r.mask, h.sinus), 0, 'soft tissue that bone encloses outside the skull is not brain');
      const calcified = h.calcification.reduce((s, v) => s + v, 0);
      assert.ok(calcified > 0);
      assert.equal(countIn(r.mask, h.calcification), calcified, 'a calcification inside the brain is brain');
      // Outside the truth, the mask may hold only a thin rim (partial volume), not a patch of scalp.
      let extra = 0;
      for (let i = 0; i < r.mask.length; i++) if (r.mask[i] && !h.truth[i]) extra++;
      const voxelMl = (h.volume.voxelSize[0] * h.volume.voxelSize[1] * h.volume.voxelSize[2]) / 1000;
      assert.ok(extra * voxelMl < 0.02 * a.bMl, `voxels outside the brain: ${(extra * voxelMl).toFixed(1)} mL`);
      assert.deepEqual(r.warnings, []);
      assert.ok(r.enclosedSlices > 0 && r.pieces >= 1);
    }
  });

  it('the stripped copy keeps HU inside the brain and 0 outside, as int16', () => {
    const h = hardHead(1, 96);
    const r = skullStripMask(h.volume);
    const stripped = applyBrainMask(h.volume, r.mask);
    assert.equal(stripped.voxelType, 'int16');
    assert.equal(stripped.intercept, 0);
    for (let i = 0; i < r.mask.length; i += 7) {
      assert.equal(stripped.raw[i], r.mask[i] ? h.volume.raw[i] - 1024 : 0);
    }
    const asFloat = applyBrainMask({ ...h.volume, slope: 0.5 }, r.mask);
    assert.equal(asFloat.voxelType, 'float32');
    assert.throws(() => applyBrainMask(h.volume, new Uint8Array(3)), /brain mask expected \d+ voxels, got 3 \(hard-head-\d+\)/);
  });

  it('warns, rather than failing, on values not in HU, a volume without bone and an empty result', () => {
    const h = hardHead(2, 64);
    const notHu = skullStripMask({ ...h.volume, intercept: 0 });
    assert.ok(notHu.warnings.some((w) => /expected about -1000 HU/.test(w)), notHu.warnings.join('; '));
    const soft = { ...h.volume, raw: new Int16Array(h.volume.raw.length).fill(1024 + 30) };
    const noBone = skullStripMask(soft);
    assert.ok(noBone.warnings.some((w) => /no voxel at or above 200 HU/.test(w)), noBone.warnings.join('; '));
    const air = skullStripMask({ ...h.volume, raw: new Int16Array(h.volume.raw.length) });
    assert.equal(air.brainMl, 0);
    assert.ok(air.warnings.some((w) => /mask is empty/.test(w)), air.warnings.join('; '));
  });

  it('rejects inconsistent options by name', () => {
    assert.throws(() => resolveSkullStripOptions({ brainHu: [50, 20] }), /low < high, got \[50, 20\]/);
    assert.throws(() => resolveSkullStripOptions({ boneHu: 100 }), /above the brain window's top \(120 HU\), got 100/);
    assert.throws(() => resolveSkullStripOptions({ openingMm: -1 }), /openingMm expected a number >= 0, got -1/);
    assert.deepEqual(maskAgreement(new Uint8Array(4), new Uint8Array(4), [1, 1, 1]), { dice: 1, aMl: 0, bMl: 0 });
    assert.throws(() => maskAgreement(new Uint8Array(4), new Uint8Array(5), [1, 1, 1]), /masks of one size, got 4 and 5/);
  });
});
