import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { maskAgreement, skullStripMask } from '../../src/data/skull-strip';
import { discoverCohort } from '../../src/data/cohort';
import { generateSyntheticCohort } from '../../src/data/synth/cohort';
import { writeNifti } from '../../src/io/nifti';
import { brainMaskSlicePng, patientSkullStripHtml, skullStripHtml } from '../../src/report/skull-strip';
import { tempDir } from '../support/paths';
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

  it('draws outlines two voxels wide on a 512 x 512 slice, so they show at 512 px', () => {
    const n = 512;
    const scan = { ...h.volume, dims: [n, n, 1] as [number, number, number], raw: new Int16Array(n * n).fill(40), slope: 1, intercept: 0, voxelType: 'int16' as const };
    const disc = new Uint8Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) disc[y * n + x] = (x - 256) ** 2 + (y - 256) ** 2 <= 100 ** 2 ? 1 : 0;
    const row = decodePng(brainMaskSlicePng(scan, disc, null, 0)).rows[256];
    const isGreen = (x: number) => [row[3 * x], row[3 * x + 1], row[3 * x + 2]].join() === GREEN.join();
    assert.deepEqual([353, 354, 355, 356, 357].map(isGreen), [false, false, true, true, false]);
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

  it('shows a patient\'s stripping beside the dataset\'s copy, alone without one, and says why when it cannot', async function () {
    this.timeout(120000);
    const root = path.join(tempDir('ich-strip-report-'), 'cohort');
    await generateSyntheticCohort({ out: root, inPlane: 64, patients: 20, seed: 5, workers: 0 });
    const [first, second, third] = discoverCohort(root).patients;
    const both = await patientSkullStripHtml(first);
    assert.match(both, new RegExp(`\\d+ mL of brain in \\d+ of \\d+ slices; Dice 0\\.9[89]\\d+ with the reference`));
    assert.equal((both.match(/<img /g) ?? []).length, 3);
    // Only the raw scan: what ich skull-strip would write, without a reference.
    const alone = await patientSkullStripHtml({ ...second, imagePath: second.rawImagePath!, rawImagePath: undefined });
    assert.match(alone, /mL of brain/);
    assert.doesNotMatch(alone, /Dice/);
    const none = await patientSkullStripHtml({ ...second, rawImagePath: undefined });
    assert.match(none, /no raw NIfTI scan with skull \(ICH_nii\/(GOOD|POOR)_PROGNOSIS\/\d+\.nii\.gz\) to strip/);
    // A copy on another grid is named, not thrown.
    const wrong = path.join(path.dirname(third.imagePath), `${third.id}_brain.nii.gz`);
    writeNifti(wrong, { dims: [4, 4, 4], raw: new Int16Array(64), voxelSize: [1, 1, 1] });
    const broken = await patientSkullStripHtml(third);
    assert.match(broken, /skull stripping not shown: _brain copy expected the raw scan&#39;s 64 x 64 x \d+ voxels, got 4 x 4 x 4/);
    assert.ok(fs.existsSync(wrong));
  });
});
