import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { discoverCohort } from '../../src/data/cohort';
import { preprocessedAffine, preprocessLesionMask } from '../../src/data/lesion';
import { scannerOf, scannerMix } from '../../src/data/scanners';
import { paperDisplayMap } from '../../src/explain/display';
import { lesionLocalisation, mapSimilarity, summariseLocalisation } from '../../src/explain/evaluate';
import { evaluateLocalisation, explainPatient, loadExplainableModel, writeSaliencyNifti } from '../../src/explain/run';
import { readNifti } from '../../src/io/nifti';
import { Volume } from '../../src/io/volume';
import { saveCheckpoint } from '../../src/models/checkpoint';
import { buildImageModel } from '../../src/models/multitask';
import { MODEL_SPECS } from '../../src/models/tasks';
import { localisationTableHtml, saliencyGridHtml, sliceViewerHtml, inferno } from '../../src/report/saliency';
import { smallCohort } from '../support/cohort';
import { ROOT, tempDir } from '../support/paths';
import { onBackend } from '../support/tf';

function volume(dims: [number, number, number], raw: Uint8Array, affine: number[][]): Volume {
  return { source: 'test-mask.nii.gz', format: 'nifti1', dims, voxelType: 'uint8', voxelSize: [1, 1, 1], affine, raw, slope: 1, intercept: 0 };
}

describe('explain: display, lesion geometry and localisation scores', () => {
  it('displays maps as the paper: min-max over the volume, below 0.5 set to 0', () => {
    assert.deepEqual(Array.from(paperDisplayMap(new Float32Array([0, 1, 2, 3, 4]))), [0, 0, 0.5, 0.75, 1]);
    assert.deepEqual(Array.from(paperDisplayMap(new Float32Array([-2, 0, 2]), 0)), [0, 0.5, 1]);
    assert.deepEqual(Array.from(paperDisplayMap(new Float32Array([3, 3]))), [0, 0], 'a constant map shows nothing');
    assert.throws(() => paperDisplayMap(new Float32Array(2), 1.5), /threshold expected a number in \[0, 1\], got 1.5/);
  });

  it('scores lesion mass, chance and the pointing game, and refuses signed or mismatched maps', () => {
    const lesion = new Float32Array([0, 0, 1, 0.5]);
    const r = lesionLocalisation(new Float32Array([1, 0, 2, 1]), lesion);
    assert.ok(Math.abs(r.massFraction - 2.5 / 4) < 1e-12);
    assert.equal(r.lesionFraction, 1.5 / 4);
    assert.equal(r.hit, true);
    assert.equal(lesionLocalisation(new Float32Array([3, 0, 2, 1]), lesion).hit, false);
    const empty = lesionLocalisation(new Float32Array(4), lesion);
    assert.ok(Number.isNaN(empty.massFraction));
    assert.equal(empty.hit, false);
    assert.throws(() => lesionLocalisation(new Float32Array([-1, 0, 0, 0]), lesion), /non-negative map, got -1 at voxel 0/);
    assert.throws(() => lesionLocalisation(new Float32Array(3), lesion), /one size, got 3 and 4/);
    const s = summariseLocalisation([r, empty]);
    assert.deepEqual({ ...s, massFraction: +s.massFraction.toFixed(6) }, { patients: 2, emptyMaps: 1, massFraction: 0.625, lesionFraction: 0.375, hitRate: 0.5 });
    // scipy.stats.spearmanr([1, 2, 3], [1, 3, 2]).correlation = 0.5 (absolute values are ranked)
    assert.ok(Math.abs(mapSimilarity(new Float32Array([1, -2, 3]), new Float32Array([1, 3, -2])) - 0.5) < 1e-12);
  });

  it('brings a lesion mask into the network geometry as covered fractions, counting only the chosen labels', () => {
    const dims: [number, number, number] = [8, 8, 4];
    const raw = new Uint8Array(8 * 8 * 4);
    for (let z = 0; z < 2; z++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) raw[x + 8 * (y + 8 * z)] = 1;
    raw[7 + 8 * (7 + 8 * 3)] = 2; // IVH: not hematoma
    const m = preprocessLesionMask(volume(dims, raw, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), [1], { size: [4, 4, 4], padDepth: 4 });
    assert.equal(m.voxels, 32);
    // area resize keeps the mean: 32 of 256 voxels -> mean fraction 0.125 over 64 outputs
    assert.ok(Math.abs(m.data.reduce((a, b) => a + b, 0) / 64 - 0.125) < 1e-6);
    assert.equal(m.data[0], 1, 'the lesion corner is fully covered');
    assert.equal(m.data[63], 0, 'the IVH voxel is not counted');
    assert.throws(() => preprocessLesionMask(volume(dims, new Uint8Array(256), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])), /voxels labelled 1, got none \(test-mask.nii.gz\)/);
  });

  it('places the preprocessed grid in the scan\'s world: each output voxel at the centre of its resize box', () => {
    const affine = [[-0.5, 0, 0, 100], [0, 0.5, 0, -50], [0, 0, 2, 10], [0, 0, 0, 1]];
    // scan 8 x 6 x 3 slices, padded to depth 5 (one slice before, one after), resized in-plane to 3 x 4
    const a = preprocessedAffine({ dims: [8, 6, 3], affine }, { size: [5, 3, 4], padDepth: 5 });
    const world = (i: number, j: number, k: number) => [0, 1, 2].map((r) => affine[r][0] * i + affine[r][1] * j + affine[r][2] * k + affine[r][3]);
    const out = (x: number, y: number, z: number) => [0, 1, 2].map((r) => a[r][0] * x + a[r][1] * y + a[r][2] * z + a[r][3]);
    // output (0, 0, 0) covers scan x 0-1, y 0-1 and the padding slice before the scan: centre (0.5, 0.5, -1)
    assert.deepEqual(out(0, 0, 0), world(0.5, 0.5, -1));
    assert.deepEqual(out(3, 2, 4), world(6.5, 4.5, 3));
  });

  it('reads the scanner from the scan header and tallies it by outcome', async () => {
    assert.equal(scannerOf('ich-prognosis synthetic Philips'), 'Philips');
    assert.equal(scannerOf('GE MEDICAL SYSTEMS'), 'GE');
    assert.equal(scannerOf(''), 'unknown');
    const cohort = discoverCohort(await smallCohort());
    const mix = await scannerMix([...cohort.patients, { ...cohort.patients[0], imagePath: '/nonexistent.nii.gz' }]);
    const total = Object.values(mix).reduce((s, m) => s + m.good + m.poor, 0);
    assert.equal(total, cohort.patients.length + 1);
    assert.equal(mix.unreadable.good + mix.unreadable.poor, 1);
    assert.ok(Object.keys(mix).every((k) => ['GE', 'Philips', 'unreadable'].includes(k)), Object.keys(mix).join());
  });

  it('renders the inferno overlay grid, the viewer and the tables as self-contained HTML', () => {
    assert.deepEqual(inferno(0), [0, 0, 4]);
    assert.deepEqual(inferno(1), [252, 255, 164]);
    const shape: [number, number, number] = [3, 4, 4];
    const v = new Float32Array(48).fill(0.5);
    const map = new Float32Array(48);
    map[20] = 1;
    const grid = saliencyGridHtml([{ title: 'patient 1', shape, volume: v, maps: { GBP: map } }], 'grid');
    assert.equal((grid.match(/data:image\/png;base64,/g) ?? []).length, 6, 'three slices x (CT + one map)');
    const viewer = sliceViewerHtml(v, shape, { GBP: map }, 'viewer');
    assert.match(viewer, /type="range" min="0" max="2"/);
    assert.equal((viewer.match(/data:image\/png;base64,/g) ?? []).length, 6, 'every slice of CT and overlay pre-rendered');
    const table = localisationTableHtml({ summary: [{ model: 'M', weights: 'trained', method: 'gbp', patients: 2, emptyMaps: 0, massFraction: 0.5, lesionFraction: 0.1, hitRate: 1 }], similarity: [], skipped: [{ patientId: '7', reason: 'no lesion mask' }] });
    assert.match(table, />0\.500<\/td>/);
    assert.match(table, /1 patients skipped/);
  });
});

describe('explain: patients, checkpoints, NIfTI and the command line', function () {
  this.timeout(300000);
  let checkpoint = '';
  before(async () => {
    await onBackend('wasm+onednn', async () => {
      const model = buildImageModel(MODEL_SPECS['mt-ord-gcs-bin-age'], 3, { blocks: [1, 1, 1, 1], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 });
      checkpoint = path.join(tempDir(), 'best');
      await saveCheckpoint(checkpoint, model, { densenet: { blocks: [1, 1, 1, 1], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 }, inputSize: [40, 32, 32], info: {} });
      model.dispose();
    });
  });

  it('explains cohort patients, skips the broken ones with the reason, and leaks no tensor', async () => {
    const root = await smallCohort();
    const patients = discoverCohort(root).patients.slice(0, 3);
    await onBackend('wasm+onednn', async () => {
      const cacheDir = tempDir();
      const m = loadExplainableModel(checkpoint);
      const s = await explainPatient(m, patients[0], { cacheDir });
      assert.deepEqual(s.shape, [40, 32, 32]);
      assert.equal(s.maps.gbp.length, 40 * 32 * 32);
      assert.ok(s.lesion && s.lesion.some((v) => v > 0), 'the synthetic mask reaches the network geometry');
      m.model.dispose();
      const before = tf.memory().numTensors;
      const broken = [{ ...patients[1], maskPath: undefined }, { ...patients[2], imagePath: path.join(root, 'missing.nii.gz') }];
      const report = await evaluateLocalisation([{ name: 'M', checkpoint, patients: [patients[0], ...broken] }], { cacheDir });
      assert.equal(tf.memory().numTensors, before);
      assert.equal(report.rows.length, 3 * 2, 'one patient x three methods x trained/randomised');
      assert.deepEqual(report.skipped.map((x) => x.patientId), [patients[1].id, patients[2].id]);
      assert.equal(report.skipped[0].reason, 'no lesion mask');
      assert.match(report.skipped[1].reason, /missing\.nii\.gz/);
      assert.equal(report.summary.length, 6);
      assert.equal(report.similarity.length, 3);
    });
  });

  it('writes maps as NIfTI in the preprocessed geometry, and ich explain does it from the command line', async () => {
    const root = await smallCohort();
    const patient = discoverCohort(root).patients[0];
    const file = path.join(tempDir(), 'map.nii.gz');
    const map = Float32Array.from({ length: 40 * 32 * 32 }, (_, i) => i / 1000);
    await writeSaliencyNifti(file, map, [40, 32, 32], patient.imagePath, { size: [40, 32, 32] }, 'test map');
    const back = await readNifti(file);
    assert.deepEqual(back.dims, [32, 32, 40]);
    assert.deepEqual(Array.from(back.raw.slice(0, 5)), Array.from(map.slice(0, 5)));
    const scan = await readNifti(patient.imagePath);
    assert.deepEqual(back.affine.map((r) => r.map((v) => +v.toFixed(3))), preprocessedAffine(scan, { size: [40, 32, 32] }).map((r) => r.map((v) => +v.toFixed(3))));

    const out = path.join(tempDir(), 'cli.nii.gz');
    const env = { ...process.env, ICH_DATA_DIR: root, ICH_CACHE_DIR: tempDir(), ICH_DEBUG: '' };
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'explain', ...args], { encoding: 'utf8', env });
    const ok = run('--model', checkpoint, '--patient', patient.id, '--method', 'ggcam', '--out', out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /probability 0\.\d{3}/);
    assert.match(ok.stdout, /hematoma: /);
    assert.ok(fs.existsSync(out));
    const bad = run('--model', checkpoint, '--patient', patient.id, '--method', 'lime', '--out', out);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--method expected one of gbp, gradcam, ggcam, got "lime"/);
    const nobody = run('--model', checkpoint, '--patient', 'nobody', '--method', 'gbp', '--out', out);
    assert.match(nobody.stderr, /--patient expected a usable patient of .*, got "nobody"/);
  });
});
