import { strict as assert } from 'node:assert';
import { maskAgreement, skullStripMask } from '../../src/data/skull-strip';
import { brainMaskSlicePng, skullStripHtml } from '../../src/report/skull-strip';
import { hardHead } from '../support/hard-head';
import { decodePng } from '../support/png';

const GREEN = [46, 204, 64];
const MAGENTA = [240, 18, 190];

function countColour(rows: Uint8Array[], rgb: number[]): number {
  let c = 0;
  for (const row of rows) for (let i = 0; i < row.length; i += 3) if (row[i] === rgb[0] && row[i + 1] === rgb[1] && row[i + 2] === rgb[2]) c++;
  return c;
}

describe('report/skull-strip', () => {
  const h = hardHead(3, 64);
  const result = skullStripMask(h.volume);

  it('outlines the mask in green and the reference in magenta on the brain-window slice', () => {
    const z = Math.floor(h.volume.dims[2] / 2);
    const plain = decodePng(brainMaskSlicePng(h.volume, result.mask, null, z, 2));
    assert.equal(plain.width, 128);
    assert.equal(plain.colorType, 2);
    assert.ok(countColour(plain.rows, GREEN) > 100);
    assert.equal(countColour(plain.rows, MAGENTA), 0);
    // A reference shifted by one column differs along the whole outline.
    const shifted = new Uint8Array(result.mask.length);
    for (let i = 1; i < shifted.length; i++) shifted[i] = result.mask[i - 1];
    const both = decodePng(brainMaskSlicePng(h.volume, result.mask, shifted, z, 1));
    assert.ok(countColour(both.rows, MAGENTA) > 10);
    assert.throws(() => brainMaskSlicePng(h.volume, result.mask, null, 999), /slice index expected 0\.\.\d+, got 999 \(hard-head-\d+\)/);
  });

  it('shows three slices through the brain with its volume and the Dice', () => {
    const dice = maskAgreement(result.mask, h.truth, h.volume.voxelSize).dice;
    const html = skullStripHtml(h.volume, result, h.truth, dice);
    assert.equal((html.match(/<img /g) ?? []).length, 3);
    assert.match(html, new RegExp(`${result.brainMl.toFixed(0)} mL of brain in ${result.brainSlices} of ${h.volume.dims[2]} slices; Dice 0\\.9\\d{3} with the reference`));
    const empty = skullStripHtml(h.volume, { ...result, mask: new Uint8Array(result.mask.length), brainMl: 0, brainSlices: 0, warnings: ['no brain found: the mask is empty'] });
    assert.equal((empty.match(/<img /g) ?? []).length, 1);
    assert.match(empty, /warnings: no brain found/);
  });
});
