import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { SKULL_STRIP_REPORT, skullStripCohort } from '../../src/data/skull-strip-cohort';
import { generateSyntheticCohort } from '../../src/data/synth/cohort';
import { readNifti } from '../../src/io/nifti';
import { tempDir } from '../support/paths';

let cohort: Promise<string> | undefined;

/** 20 synthetic patients at 64 x 64 in-plane (3.4 mm voxels), with the generator's own `_brain` copies. */
function cohort64(): Promise<string> {
  cohort ??= (async () => {
    const dir = path.join(tempDir('ich-strip-'), 'cohort');
    await generateSyntheticCohort({ out: dir, inPlane: 64, patients: 20, seed: 3, workers: 0 });
    return dir;
  })();
  return cohort;
}

async function rawOnlyCopy(): Promise<string> {
  const dir = path.join(tempDir('ich-strip-raw-'), 'cohort');
  fs.cpSync(await cohort64(), dir, { recursive: true });
  fs.rmSync(path.join(dir, 'ICH_nii_StrippedSkull'), { recursive: true });
  return dir;
}

describe('data/skull-strip-cohort', () => {
  it('compares with the generator\'s skull-stripped copies (Dice >= 0.99) and writes nothing', async () => {
    const root = await cohort64();
    const before = fs.readdirSync(path.join(root, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS')).sort();
    const report = await skullStripCohort({ root, compare: true });
    assert.equal(report.mode, 'compare');
    assert.equal(report.compared, 20);
    assert.equal(report.skipped, 0);
    assert.ok(report.meanDice >= 0.995 && report.minDice >= 0.99, `Dice mean ${report.meanDice}, lowest ${report.minDice}`);
    for (const p of report.patients) assert.ok(Math.abs(p.brainMl! - p.referenceMl!) / p.referenceMl! < 0.03, `patient ${p.patientId}: ${p.brainMl} vs ${p.referenceMl} mL`);
    assert.deepEqual(fs.readdirSync(path.join(root, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS')).sort(), before);
    assert.ok(!fs.existsSync(path.join(root, 'ICH_nii_StrippedSkull', SKULL_STRIP_REPORT)));
  });

  it('reports the same whatever the number of worker threads, in folder and file-name order', async () => {
    const root = await cohort64();
    const drop = (r: Awaited<ReturnType<typeof skullStripCohort>>) => r.patients.map(({ seconds, ...rest }) => rest);
    const finished: string[] = [];
    const inThread = await skullStripCohort({ root, compare: true, workers: 0 });
    const threaded = await skullStripCohort({ root, compare: true, workers: 3, onPatient: (e) => finished.push(e.patientId) });
    assert.deepEqual(drop(threaded), drop(inThread));
    assert.equal(threaded.meanDice, inThread.meanDice);
    assert.deepEqual([...finished].sort(), inThread.patients.map((p) => p.patientId).sort(), 'every patient reported once');
    const sources = threaded.patients.map((p) => p.source);
    assert.deepEqual(sources, [...sources].sort(), 'GOOD_PROGNOSIS then POOR_PROGNOSIS, each in file-name order');
  });

  it('writes the _brain copies the cohort reader uses, keeps them on a second run, replaces them with force', async () => {
    const root = await rawOnlyCopy();
    const seen: string[] = [];
    const report = await skullStripCohort({ root, onPatient: (e) => seen.push(e.patientId) });
    assert.equal(report.stripped, 20);
    assert.equal(seen.length, 20);
    const first = report.patients[0];
    const copy = await readNifti(path.join(root, first.file!));
    const raw = await readNifti(path.join(root, first.source));
    assert.equal(copy.voxelType, 'int16');
    assert.deepEqual(copy.dims, raw.dims);
    assert.deepEqual(copy.affine, raw.affine);
    let inside = 0;
    for (let i = 0; i < copy.raw.length; i++) {
      if (copy.raw[i] !== 0) {
        inside++;
        assert.equal(copy.raw[i], raw.raw[i] * raw.slope + raw.intercept);
      }
    }
    assert.ok(inside > 0);
    const written = JSON.parse(fs.readFileSync(path.join(root, 'ICH_nii_StrippedSkull', SKULL_STRIP_REPORT), 'utf8'));
    assert.equal(written.stripped, 20);
    assert.equal(written.options.openingMm, 5);
    const found = discoverCohort(root);
    assert.equal(found.patients.length, 20);
    assert.ok(found.patients.every((p) => /_brain\.nii\.gz$/.test(p.imagePath)));
    assert.ok(!found.issues.some((i) => /skull-stripped scans expected/.test(i.message)));

    const again = await skullStripCohort({ root });
    assert.equal(again.kept, 20);
    assert.equal(again.stripped, 0);
    const forced = await skullStripCohort({ root, force: true, ids: [first.patientId] });
    assert.equal(forced.stripped, 1);
    assert.equal(forced.patients.length, 1);
  });

  it('skips a broken scan with its reason, strips the rest, and moves a copy whose label changed', async () => {
    const root = await rawOnlyCopy();
    const good = path.join(root, 'ICH_nii', 'GOOD_PROGNOSIS');
    const [broken, moved] = fs.readdirSync(good).sort();
    fs.writeFileSync(path.join(good, broken), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]));
    const movedId = moved.replace(/\.nii\.gz$/, '');
    fs.mkdirSync(path.join(root, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS'), { recursive: true });
    const stale = path.join(root, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS', `${movedId}_brain.nii.gz`);
    fs.writeFileSync(stale, 'stale copy from before the label changed');
    const report = await skullStripCohort({ root });
    assert.equal(report.skipped, 1);
    assert.equal(report.stripped, 19);
    const skipped = report.patients.find((p) => p.status === 'skipped')!;
    assert.equal(skipped.source, path.join('ICH_nii', 'GOOD_PROGNOSIS', broken));
    assert.ok(report.issues.some((i) => i.severity === 'error' && i.file.endsWith(broken) && /patient skipped/.test(i.message)));
    assert.ok(!fs.existsSync(stale), 'the copy in the other folder is removed');
    assert.ok(fs.existsSync(path.join(root, 'ICH_nii_StrippedSkull', 'GOOD_PROGNOSIS', `${movedId}_brain.nii.gz`)));
  });

  it('reports a missing reference in compare mode, and rejects a dataset without raw scans or unknown IDs by name', async () => {
    const root = await rawOnlyCopy();
    const report = await skullStripCohort({ root, compare: true, ids: ['1', '2'] });
    assert.equal(report.skipped, 2);
    assert.ok(Number.isNaN(report.meanDice));
    assert.match(report.patients[0].reason!, /_brain copy to compare with expected, got none/);
    await assert.rejects(skullStripCohort({ root, ids: ['9999'] }), /patients expected among the raw scans, got none of 9999/);
    const empty = tempDir('ich-strip-empty-');
    await assert.rejects(skullStripCohort({ root: empty }), /got no ICH_nii folder/);
    fs.mkdirSync(path.join(empty, 'ICH_nii', 'GOOD_PROGNOSIS'), { recursive: true });
    await assert.rejects(skullStripCohort({ root: empty }), /raw scans expected .*got none/);
  });
});
