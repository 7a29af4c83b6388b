import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../../src/data/cohort';
import { generateSyntheticCohort, isSyntheticCohortCurrent } from '../../../src/data/synth/cohort';
import { readNifti } from '../../../src/io/nifti';
import { volumeValues } from '../../../src/io/volume';
import { parseCsv } from '../../../src/io/csv';
import { smallCohort } from '../../support/cohort';
import { tempDir } from '../../support/paths';

/** Mann-Whitney AUC of a score for label 1 (ties count one half). */
function auc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((s, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((t, j) => {
      if (labels[j] !== 0) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('data/synth/cohort', () => {
  it('writes the authors layout with raw and stripped scans, masks, the 43-column table and the truth table', async () => {
    const root = await smallCohort();
    for (const d of ['ICH_nii', 'ICH_nii_StrippedSkull', 'ICH_lesion_masks', 'ICH_tabular_data']) assert.ok(fs.existsSync(path.join(root, d)), d);
    const csv = parseCsv(fs.readFileSync(path.join(root, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv'), 'utf8'));
    assert.equal(csv.header.length, 43);
    assert.equal(csv.rows.length, 30);
    assert.ok(isSyntheticCohortCurrent(root, { seed: 3, inPlane: 32, patients: 30 }));
    assert.ok(!isSyntheticCohortCurrent(root, { seed: 4, inPlane: 32, patients: 30 }));
    const [p] = discoverCohort(root).patients;
    const raw = await readNifti(p.rawImagePath!);
    const brain = await readNifti(p.imagePath);
    const mask = await readNifti(p.maskPath!);
    assert.equal(raw.voxelType, 'int16');
    assert.equal(mask.voxelType, 'uint8');
    assert.deepEqual(raw.dims, brain.dims);
    assert.ok(raw.voxelSize[2] >= 2.5 && raw.voxelSize[2] <= 6.5, 'slice thickness in mm');
    const rv = volumeValues(raw);
    const bv = volumeValues(brain);
    let bone = 0;
    let air = 0;
    let strippedOutside = 0;
    for (let i = 0; i < rv.length; i++) {
      if (rv[i] > 500) bone++;
      if (rv[i] < -900) air++;
      if (bv[i] === 0 && rv[i] > 500) strippedOutside++;
    }
    assert.ok(bone > 0 && air > 0, 'skull and air in the raw scan');
    assert.equal(strippedOutside, bone, 'no bone in the stripped scan');
  });

  it('is deterministic for a seed whatever the number of workers', async () => {
    const a = path.join(tempDir(), 'a');
    const b = path.join(tempDir(), 'b');
    await generateSyntheticCohort({ out: a, inPlane: 32, patients: 20, seed: 9, workers: 0 });
    await generateSyntheticCohort({ out: b, inPlane: 32, patients: 20, seed: 9, workers: 2 });
    for (const rel of ['ICH_tabular_data/CLINICAL_DATA_ICH.csv', 'ICH_synthetic_truth.csv', 'ICH_nii/POOR_PROGNOSIS', 'ICH_nii_StrippedSkull/GOOD_PROGNOSIS']) {
      const pa = path.join(a, rel);
      const files = fs.statSync(pa).isDirectory() ? fs.readdirSync(pa).map((f) => path.join(rel, f)) : [rel];
      for (const f of files) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), f);
    }
  });

  it('refuses to write over a folder that is not a synthetic cohort', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'precious.txt'), 'x');
    await assert.rejects(generateSyntheticCohort({ out: dir, inPlane: 32, patients: 20 }), /expected an empty folder or an earlier synthetic cohort/);
    assert.ok(fs.existsSync(path.join(dir, 'precious.txt')));
  });

  it('ties the image to the outcome realistically: blood-density voxel count gives a prognosis AUC in (0.6, 0.85)', async function () {
    this.timeout(300000);
    const root = path.join(tempDir(), 'full');
    await generateSyntheticCohort({ out: root, inPlane: 64, seed: 1 });
    const cohort = discoverCohort(root);
    assert.equal(cohort.patients.length, 261);
    const scores: number[] = [];
    const atrophy: number[] = [];
    for (const p of cohort.patients) {
      const v = volumeValues(await readNifti(p.imagePath));
      let blood = 0;
      let csf = 0;
      let brain = 0;
      for (let i = 0; i < v.length; i++) {
        if (v[i] === 0) continue;
        brain++;
        if (v[i] >= 50 && v[i] <= 90) blood++;
        else if (v[i] < 16) csf++;
      }
      scores.push(blood);
      atrophy.push(csf / brain);
    }
    const labels = cohort.patients.map((p) => p.label);
    const a = auc(scores, labels);
    assert.ok(a > 0.6 && a < 0.85, `hematoma voxel AUC ${a.toFixed(3)}`);
    const ages = cohort.patients.map((p) => p.age);
    const older = auc(atrophy, ages.map((x) => (x >= 75 ? 1 : 0)));
    console.log(`      hematoma AUC ${a.toFixed(3)}, CSF-fraction AUC for age >= 75 ${older.toFixed(3)}`);
    assert.ok(older > 0.65, `CSF fraction separates older patients (atrophy): AUC ${older.toFixed(3)}`);
  });
});
