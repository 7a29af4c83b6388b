import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { rocAuc } from '../../src/eval/metrics';
import { readNpy } from '../../src/io/npy';
import { damagedCopy, smallCohort } from '../support/cohort';
import { FIXTURES, fixture, maxAbsDiff, ROOT, tempDir } from '../support/paths';
import { readSafetensors } from '../../src/io/safetensors';
import { findStateDict, readTorchFile } from '../../src/io/torch-file';
import { TEST_BACKENDS } from '../support/tf';

function ich(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), ...args], { encoding: 'utf8', env: { ...process.env, ICH_DEBUG: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit 1, one line on stderr, no stack trace. */
function assertCleanError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(!/\n\s+at /.test(r.stderr));
}

/** Whether Debian's python3 (the interpreter `ich bench` calls) imports torch (python3-torch). */
function debianTorchAvailable(): boolean {
  const python = process.env.ICH_TORCH_PYTHON || '/usr/bin/python3';
  return spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

describe('cli: ich', () => {
  it('prints usage and rejects unknown commands and options cleanly', () => {
    const help = ich('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /ich data synth --out DIR/);
    assertCleanError(ich('frobnicate'), /command expected one of/);
    assertCleanError(ich('volume', 'info', 'x.nii', '--jsn'), /option expected one of --json/);
    assertCleanError(ich('bench', 'train', '--torch-device', 'tpu'), /--torch-device expected cpu or cuda\[:N\], got "tpu"/);
    assertCleanError(ich('bench', 'train', '--torch-precisions', 'fp16'), /--torch-precisions expected fp32 and\/or tf32, got "fp16"/);
    assertCleanError(ich('export', '--cell-timeout', '5'), /--cell-timeout expected 0 \(no limit\) or at least 10 seconds, got 5/);
    assertCleanError(ich('export', '--cell-timeout', '-1'), /--cell-timeout expected an integer >= 0, got "-1"/);
    assertCleanError(ich('bench', 'sprint'), /ich bench: expected "train", "profile", "conv" or "tune", got "sprint"/);
    assertCleanError(ich('bench', 'profile', '--shape', '8,8'), /--shape expected depth,height,width \(each >= 8\), got "8,8"/);
    assertCleanError(ich('bench', 'conv', '--layers', 'stem,block9.3x3'), /--layers expected names among stem, block1\.1x1\.first, .*, got "block9\.3x3"/);
  });

  it('bench conv times the named convolutions here and in PyTorch, one JSON line each and a total', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'bench', 'conv', '--shape', '16,16,16', '--batch', '1', '--repeats', '1', '--layers', 'stem,block1.3x3', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ICH_BACKEND: 'cpu' },
    });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((x) => x.layer), ['stem', 'block1.3x3', 'total (x count)']);
    assert.deepEqual(rows[1].input, [1, 4, 4, 4, 128]);
    // The PyTorch side needs Debian's python3-torch, which the test setup does not install (the suite runs without
    // Python): without it every row keeps our times, the reference's columns are null, and the total says why.
    if (debianTorchAvailable()) {
      for (const row of rows) assert.ok(row.tsTrainMs > 0 && row.torchTrainMs > 0 && row.ratio > 0, JSON.stringify(row));
    } else {
      for (const row of rows) assert.ok(row.tsTrainMs > 0 && row.torchTrainMs === null && row.ratio === null, JSON.stringify(row));
      assert.match(rows[2].torchError, /torch/, JSON.stringify(rows[2]));
    }
    assert.ok(Math.abs(rows[2].tsTrainMs - (rows[0].tsTrainMs + 6 * rows[1].tsTrainMs)) < 1e-6, 'the total weighs each shape by its count');
  });

  it('bench tune records one training step, times each pass and writes its choices (webgpu only)', function () {
    const env = { ...process.env, ICH_BACKEND: 'cpu' };
    const refused = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'bench', 'tune'], { encoding: 'utf8', env });
    assertCleanError({ code: refused.status ?? -1, stderr: refused.stderr }, /ich bench tune expected ICH_BACKEND=webgpu with the WGSL kernels \(not ICH_NATIVE=0\), got cpu/);
    if (!TEST_BACKENDS.includes('webgpu+wgsl')) this.skip();
    const out = path.join(tempDir(), 'tuning.json');
    // The smallest input the network takes (five halvings), one quick trial each, the 12 largest passes: every pass
    // compiles up to 32 programs, which takes 90 s for all of them on software Vulkan on 2 cores.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'bench', 'tune', '--shape', '32,32,32', '--batch', '1', '--trials', '1', '--trial-ms', '1', '--passes', '12', '--out', out, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ICH_BACKEND: 'webgpu' },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines.pop();
    // DenseNet-121: 120 convolutions, each a forward, an input gradient (but the stem's, direct) and a weight
    // gradient; equal shapes merge (a block's 3x3 convolutions), and the stem's input gradient has no choice.
    assert.equal(summary.passes, lines.length);
    assert.equal(lines.length, 12);
    assert.ok(Number.isInteger(summary.notTuned) && summary.notTuned + lines.length > 150, String(summary.notTuned));
    assert.equal(lines.filter((l) => l.pass.startsWith('backwardData b1 32x32x32x1')).length, 0);
    assert.equal(lines.find((l) => l.pass === 'forward b1 8x8x8x128 -> 32 k3 s1 p1').count, 6, "block 1's six 3x3 convolutions");
    const table = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(Object.keys(table.entries).length, lines.length);
    assert.deepEqual(table.input, { shape: [32, 32, 32], batch: 1 });
    assert.ok(Math.abs(summary.defaultMs - lines.reduce((a, l) => a + l.defaultMs * l.count, 0)) < 1e-6);
    assert.ok(summary.tunedMs <= summary.defaultMs);
  });

  it('data synth writes a cohort and data check accepts it (exit 0, JSON summary)', () => {
    const out = path.join(tempDir(), 'c');
    const s = ich('data', 'synth', '--out', out, '--seed', '5', '--in-plane', '32', '--patients', '24');
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /24 clinical rows, 24 scans/);
    const c = ich('data', 'check', out, '--json');
    assert.equal(c.code, 0, c.stdout);
    const report = JSON.parse(c.stdout);
    assert.equal(report.usable, true);
    assert.equal(report.summary.usablePatients, 24);
    assert.equal(Object.values(report.summary.sliceHistogram as Record<string, number>).reduce((a, b) => a + b, 0), 24);
    assertCleanError(ich('data', 'synth', '--out', out, '--in-plane', 'big'), /--in-plane expected an integer/);
    assertCleanError(ich('data', 'synth'), /--out expected a directory/);
  });

  it('data check reports broken patients and goes on (exit 0), and exits 1 on an unusable dataset', async () => {
    const root = await damagedCopy();
    const img = path.join(root, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS');
    const victim = path.join(img, fs.readdirSync(img)[0]);
    fs.writeFileSync(victim, fs.readFileSync(victim).subarray(0, 100));
    const r = ich('data', 'check', root);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /error: .*_brain\.nii\.gz .*truncated file \(patient skipped\)/);
    assert.match(r.stdout, /usable: yes/);
    const bad = ich('data', 'check', tempDir());
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /usable: NO/);
  });

  it('volume info gives the nibabel statistics after scl_slope/scl_inter', () => {
    const f = fixture('nifti.json').files.find((x: { file: string }) => x.file === 'nifti/int16_scaled.nii.gz');
    const r = ich('volume', 'info', path.join(FIXTURES, f.file), '--json');
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(info.dims, f.dims);
    assert.equal(info.datatype, 'int16');
    for (const k of ['min', 'max', 'mean', 'std']) assert.ok(Math.abs(info[k] - f[k]) < 1e-6, k);
    assert.equal(info.sclSlope, 0.5);
    const npy = ich('volume', 'info', path.join(FIXTURES, 'npy/f8.npy'));
    assert.equal(npy.code, 0);
    assert.match(npy.stdout, /datatype: float64/);
    assertCleanError(ich('volume', 'info', path.join(FIXTURES, 'nifti/bad_4d.nii.gz')), /expected 3 dimensions, got 4D/);
    assertCleanError(ich('volume', 'info', '/no/such/file.nii.gz'), /ENOENT/);
  });

  it('import-dicom converts DICOM studies into a dataset that data check reads; volume info reads a DICOM folder', () => {
    // Expected voxels: dcm2niix + nibabel on the same series (test/fixtures/gen/make_dicom_fixtures.py).
    const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'dicom', 'expected.json'), 'utf8'));
    const root = tempDir('ich-cli-dicom-');
    fs.cpSync(path.join(FIXTURES, 'dicom', 'study'), path.join(root, 'dicom', '1'), { recursive: true });
    fs.cpSync(path.join(FIXTURES, 'dicom', 'jpeg2000'), path.join(root, 'dicom', '2'), { recursive: true });
    const out = path.join(root, 'data');
    const clinical = path.join(FIXTURES, 'clinical_synth.csv');
    const r = ich('import-dicom', '--from', path.join(root, 'dicom'), '--clinical', clinical, '--out', out, '--series', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1: series 3 "HEAD 5mm", 6 x 5 x 3 voxels of 0\.800 x 0\.700 x 5\.000 mm -> ICH_nii[/\\]POOR_PROGNOSIS[/\\]1\.nii\.gz$/m);
    assert.match(r.stdout, /^2: skipped: DICOM series "3" expected to match one series, got 0 among 2 "HEAD 5mm" \(CT, 2 slices\)/m, 'the series found are listed');
    assert.match(r.stdout, /converted 1 of 2 patient folders, skipped 1; 259 clinical rows have no folder/);
    // The scan is found and read where the cohort reader looks; 6 x 5 pixels are then too small to train on.
    const check = JSON.parse(ich('data', 'check', out, '--json').stdout);
    assert.equal(check.summary.layout, 'authors');
    assert.equal(check.summary.withImage, 1);
    assert.deepEqual(check.summary.skipped.find((x: { patientId: string }) => x.patientId === '1'), { patientId: '1', reason: 'in-plane size expected at least 16 x 16 voxels, got 6 x 5' });
    const info = ich('volume', 'info', path.join(root, 'dicom', '1'), '--json', '--series', 'head 5mm');
    assert.equal(info.code, 0, info.stderr);
    const v = JSON.parse(info.stdout);
    assert.deepEqual(v.dims, expected.volumes['study-thick'].dims);
    assert.equal(v.format, 'dicom');
    assert.equal(v.min, Math.min(...expected.volumes['study-thick'].values));
    // A gantry-tilted series: resampled onto perpendicular planes (5 -> 10 rows), or as acquired with --keep-tilt.
    const tilt = path.join(FIXTURES, 'dicom', 'gantry-tilt');
    const resampled = ich('volume', 'info', tilt, '--json');
    assert.equal(resampled.code, 0, resampled.stderr);
    assert.deepEqual(JSON.parse(resampled.stdout).dims, [6, 10, 4]);
    assert.match(resampled.stderr, /gantry tilt of 12\.00 degrees: resampled onto planes perpendicular to the stack/);
    const kept = ich('volume', 'info', tilt, '--json', '--keep-tilt');
    assert.deepEqual(JSON.parse(kept.stdout).dims, [6, 5, 4]);
    assert.match(kept.stderr, /voxels kept as acquired \(--keep-tilt\)/);
    assertCleanError(ich('import-dicom', '--from', path.join(root, 'dicom'), '--out', out), /--clinical expected the clinical table/);
    assertCleanError(ich('volume', 'info', path.join(root, 'dicom'), '--series', '7'), /DICOM series "7" expected to match one series, got 0/);
    const none = ich('import-dicom', '--from', path.join(root, 'dicom'), '--clinical', clinical, '--out', out, '--series', '99');
    assert.equal(none.code, 1, 'nothing converted');
  });

  it('skull-strip writes brain-only copies or compares with existing ones; import-dicom --skull-strip strips what it converts', async () => {
    const root = await damagedCopy();
    const compare = ich('skull-strip', root, '--compare');
    assert.equal(compare.code, 0, compare.stderr);
    assert.match(compare.stdout, /^1: \d+ mL of brain in \d+ slices, Dice 0\.9\d+ with ICH_nii_StrippedSkull[/\\](GOOD|POOR)_PROGNOSIS[/\\]1_brain\.nii\.gz \(\d+ mL\)/m);
    assert.match(compare.stdout, /compared 30 of 30 scans, skipped 0; Dice mean 0\.9\d+, lowest 0\.9\d+/);
    const out = path.join(tempDir('ich-cli-strip-'), 'stripped');
    const r = ich('skull-strip', root, '--out', out, '--ids', '1,2', '--opening-mm', '4', '--workers', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stripped 2 of 2 scans, kept 0, skipped 0/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'skull-strip.json'), 'utf8')).options.openingMm, 4);
    const kept = ich('skull-strip', root, '--out', out, '--ids', '1', '--json');
    assert.equal(JSON.parse(kept.stdout).kept, 1);
    assertCleanError(ich('skull-strip', root, '--compare', '--force'), /^ich skull-strip: --compare writes nothing, so --force expected without it, got both$/);
    assertCleanError(ich('skull-strip', root, '--brain-hu', '5'), /--brain-hu expected LOW,HIGH in HU with LOW < HIGH, got "5"/);
    assertCleanError(ich('skull-strip', root, '--bone-hu', '50'), /--bone-hu expected HU above the brain window's top \(120\), got "50"/);
    assertCleanError(ich('skull-strip', path.join(root, 'nowhere')), /got no ICH_nii folder/);
    assertCleanError(ich('skull-strip', root, '--workers', '0'), /--workers expected/);

    const dicom = tempDir('ich-cli-dicom-strip-');
    fs.cpSync(path.join(FIXTURES, 'dicom', 'study'), path.join(dicom, 'dicom', '1'), { recursive: true });
    const data = path.join(dicom, 'data');
    const imported = ich('import-dicom', '--from', path.join(dicom, 'dicom'), '--clinical', path.join(FIXTURES, 'clinical_synth.csv'), '--out', data, '--series', '3', '--skull-strip');
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /skull-stripped 1 of 1 scans, skipped 0/);
    assert.ok(fs.existsSync(path.join(data, 'ICH_nii_StrippedSkull', 'POOR_PROGNOSIS', '1_brain.nii.gz')));
  });

  it('summary prints the fold-mean table and the pooled comparison of run folders, passing over unfinished and broken folds', () => {
    // Test predictions of two models on the same 17 patients in 3 folds.
    const folds: [number[], number[], number[]][] = [
      [[1, 1, 0, 0, 1, 0], [0.9, 0.4, 0.35, 0.8, 0.7, 0.1], [0.6, 0.7, 0.2, 0.3, 0.8, 0.4]],
      [[0, 1, 1, 0, 1], [0.2, 0.65, 0.3, 0.55, 0.95], [0.5, 0.5, 0.9, 0.1, 0.6]],
      [[1, 0, 0, 1, 1, 0], [0.6, 0.5, 0.45, 0.52, 0.3, 0.05], [0.7, 0.2, 0.6, 0.9, 0.4, 0.3]],
    ];
    const root = tempDir();
    const write = (model: string, column: 1 | 2) => {
      const dir = path.join(root, model);
      let id = 0;
      folds.forEach(([labels, ...scores], k) => {
        const fold = path.join(dir, `fold-${k}`);
        fs.mkdirSync(fold, { recursive: true });
        fs.writeFileSync(path.join(fold, 'result.json'), JSON.stringify({ fold: k, selectedEpoch: 1, bestValBalancedAccuracy: 0.5, history: [], stoppedEarly: false }));
        const rows = labels.map((y, i) => `${++id},${y},${k},${scores[column - 1][i]}`);
        fs.writeFileSync(path.join(fold, 'predictions.csv'), ['PatientID,label,fold,p_prognosis', ...rows].join('\n') + '\n');
      });
      fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ model }));
      return dir;
    };
    const a = write('model-a', 1);
    const b = write('model-b', 2);
    fs.mkdirSync(path.join(a, 'fold-3'));
    fs.writeFileSync(path.join(a, 'fold-3', 'state.json'), '{}');
    fs.mkdirSync(path.join(a, 'fold-10'));
    fs.writeFileSync(path.join(a, 'fold-10', 'result.json'), '{"fold": 10,');
    fs.writeFileSync(path.join(a, 'fold-10', 'predictions.csv'), 'PatientID,label,fold,p_prognosis\n');
    fs.mkdirSync(path.join(b, 'fold-3'));
    fs.writeFileSync(path.join(b, 'fold-3', 'result.json'), '{"fold": 3}');
    fs.writeFileSync(path.join(b, 'fold-3', 'predictions.csv'), 'PatientID,label,fold,p_prognosis\n99,1,3,1.7\n');

    const r = ich('summary', a, `B=${b}`, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.reference, 'model-a');
    const [ma, mb] = out.models;
    assert.deepEqual([ma.model, mb.model], ['model-a', 'B']);
    // scikit-learn 1.2.1 roc_auc_score per fold, numpy mean and std(ddof=1); balanced_accuracy_score at p >= 0.5.
    assert.deepEqual(ma.folds.map((f: { auc: number }) => +f.auc.toFixed(4)), [0.7778, 0.8333, 0.7778]);
    assert.ok(Math.abs(ma.summary.auc.mean - 0.7963) < 1e-4 && Math.abs(ma.summary.auc.std - 0.032) < 1e-3);
    assert.ok(Math.abs(ma.summary.balancedAccuracy.mean - 0.6389) < 1e-4 && Math.abs(ma.summary.balancedAccuracy.std - 0.048) < 1e-3);
    assert.ok(Math.abs(mb.summary.auc.mean - 0.9352) < 1e-4 && Math.abs(mb.summary.auc.std - 0.058) < 1e-3);
    assert.deepEqual(ma.skipped.map((f: { fold: string }) => f.fold), ['fold-3', 'fold-10']);
    assert.equal(ma.skipped[0].reason, 'unfinished (no result.json or predictions.csv)');
    assert.match(ma.skipped[1].reason, /fold result expected JSON, got .* \(.*fold-10.result\.json\)/);
    assert.equal(mb.skipped.length, 1);
    assert.match(mb.skipped[0].reason, /p_prognosis expected a probability in \[0, 1\], got 1.7 \(.*fold-3.predictions\.csv, row 2\)/);
    // Pooled out-of-fold AUC: scikit-learn roc_auc_score over the 17 patients (0.7361 and 0.9306).
    const [pa, pb] = out.comparison;
    assert.ok(Math.abs(pa.auc.estimate - 0.7361) < 1e-4 && Math.abs(pb.auc.estimate - 0.9306) < 1e-4);
    assert.ok(pa.auc.lower <= pa.auc.estimate && pa.auc.estimate <= pa.auc.upper);
    assert.equal(pa.delong, null);
    assert.ok(Math.abs(pb.delong.difference - (0.9306 - 0.7361)) < 1e-3 && pb.delong.pValue > 0 && pb.delong.pValue < 1);

    const text = ich('summary', a, `B=${b}`, '--reference', 'B', '--resamples', '200');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /model-a .*: 3 folds, 17 test patients\n  skipped fold-3: unfinished/);
    assert.match(text.stdout, /\nB\s+\.9352 \+-\.058/);
    assert.match(text.stdout, /DeLong against B\)/);
    assertCleanError(ich('summary'), /ich summary: expected one or more run folders/);
    assertCleanError(ich('summary', path.join(root, 'none')), /run folder expected a readable directory, got ENOENT \(.*none\)/);
    assertCleanError(ich('summary', root), /run folder expected fold-K folders .* got none/);
    assertCleanError(ich('summary', a, `model-a=${b}`), /model names expected to differ, got "model-a" twice/);
    assertCleanError(ich('summary', a, '--reference', 'C'), /--reference expected one of model-a, got "C"/);
  });

  it('splits prints the scikit-learn folds for a label file', () => {
    const c = fixture('splits.json').cases[3];
    const file = path.join(tempDir(), 'labels.json');
    fs.writeFileSync(file, JSON.stringify(c.labels));
    const r = ich('splits', '--labels', file, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).folds, c.folds);
    fs.writeFileSync(file, '[0, 1, 2]');
    assertCleanError(ich('splits', '--labels', file, '--json'), /expected 0 or 1 at index 2, got 2/);
    fs.writeFileSync(file, '{oops');
    assertCleanError(ich('splits', '--labels', file), /JSON array of 0\/1/);
    assertCleanError(ich('splits', '--labels', file, '--val-fraction', '2'), /--val-fraction expected a fraction/);
  });

  it('preprocess writes the float32 [depth, height, width] volume of the PyTorch reference', () => {
    const c = fixture('preprocess.json').cases[0];
    const out = path.join(tempDir(), 'p.npy');
    const r = ich('preprocess', path.join(FIXTURES, c.file), '--out', out, '--size', c.size.join(','), '--pad-depth', String(c.padDepth), '--quirks', c.quirks);
    assert.equal(r.code, 0, r.stderr);
    const arr = readNpy(out);
    assert.equal(arr.dtype, 'float32');
    assert.deepEqual(arr.shape, c.size);
    assert.ok(maxAbsDiff(arr.data, c.expected) < 1e-6);
    assertCleanError(ich('preprocess', path.join(FIXTURES, c.file), '--out', 'x.nii'), /--out expected a path ending in \.npy/);
    assertCleanError(ich('preprocess', path.join(FIXTURES, c.file), '--out', out, '--size', '1,2'), /--size expected depth,height,width/);
    assertCleanError(ich('preprocess', path.join(FIXTURES, c.file), '--out', out, '--quirks', 'odd'), /--quirks expected paper or fixed/);
    assertCleanError(ich('preprocess', path.join(FIXTURES, 'nifti/nan_voxels.nii.gz'), '--out', out), /NaN or infinite voxels/);
  });

  it('data check defaults to ICH_DATA_DIR', async () => {
    const root = await smallCohort();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), 'data', 'check', '--json'], { encoding: 'utf8', env: { ...process.env, ICH_DATA_DIR: root } });
    assert.equal(r.status, 0);
    assert.equal(JSON.parse(r.stdout).root, root);
  });
  it('import-weights turns a PyTorch state dict into a checkpoint that predict and explain run on a cohort, and export-weights gives back to PyTorch', async () => {
    const root = await smallCohort();
    const env = { ICH_DATA_DIR: root, ICH_CACHE_DIR: tempDir() };
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ich.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env, ICH_DEBUG: '' } });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const checkpoint = path.join(tempDir(), 'authors-fold0');
    const imported = run('import-weights', '--from', path.join(FIXTURES, 'torch', 'authors-3head.pt'), '--out', checkpoint, '--input-size', '16,32,32');
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /imported mt-ord-gcs-bin-age \(authors-multitask layout; DenseNet blocks 2,3, growth 4, stem 8, bottleneck 2x/);
    assert.match(imported.stdout, /heads: prognosis <- binary_head\.3, gcs-ordinal <- ordinal_headGCS\.3, age-binary <- ordinal_headAge\.3; 13 num_batches_tracked counters left out/);
    const meta = JSON.parse(fs.readFileSync(path.join(checkpoint, 'model.json'), 'utf8'));
    assert.deepEqual(meta.inputSize, [16, 32, 32]);
    assert.match(meta.info.sha256, /^[0-9a-f]{64}$/);

    const csv = path.join(tempDir(), 'external.csv');
    const predicted = run('predict', '--model', checkpoint, '--out', csv, '--json');
    assert.equal(predicted.code, 0, predicted.stderr);
    const summary = JSON.parse(predicted.stdout.trim().split('\n').pop()!);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(rows[0], 'PatientID,label,p_prognosis,p_gcs-ordinal_1,p_gcs-ordinal_2,p_age-binary');
    assert.equal(rows.length - 1, summary.patients);
    assert.equal(summary.patients, discoverCohort(root).patients.length);
    // The reported AUC is the CSV's: recomputed here from the written columns.
    const cells = rows.slice(1).map((r) => r.split(','));
    assert.ok(Math.abs(rocAuc(cells.map((c) => Number(c[1])), cells.map((c) => Number(c[2]))) - summary.binary.prognosis.auc) < 1e-6);
    const text = run('predict', '--model', checkpoint);
    assert.match(text.stdout, /mt-ord-gcs-bin-age on \d+ patients of .*input 16x32x32\nprognosis: AUC 0\.\d{3}, balanced accuracy .*\nage-binary: AUC .*\ngcs-ordinal: accuracy /);

    // Back to PyTorch: the authors' key names, and the very state dict PyTorch saved, value for value.
    const pt = path.join(tempDir(), 'fold0-from-ich.pt');
    const back = run('export-weights', '--model', checkpoint, '--out', pt);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /^exported mt-ord-gcs-bin-age \(authors layout; 83 tensors, 0\.\d\d M parameters; input 16x32x32\) to .*fold0-from-ich\.pt \(sha256 [0-9a-f]{12}\)\nheads: prognosis -> binary_head\.3, gcs-ordinal -> ordinal_headGCS\.3, age-binary -> ordinal_headAge\.3\nin Python: model = PrognosisICH_ThreeClassGCSBinaryAge_Model\(image_shape, depth\)/);
    assert.match(back.stdout, /model\.load_state_dict\(torch\.load\(".*fold0-from-ich\.pt", weights_only=True\), strict=True\)\n$/);
    const saved = findStateDict(readTorchFile(path.join(FIXTURES, 'torch', 'authors-3head.pt')), 'authors-3head.pt');
    const exported = findStateDict(readTorchFile(pt), pt);
    assert.deepEqual([...exported.keys()].sort(), [...saved.keys()].sort());
    for (const [k, t] of saved) assert.deepEqual(Array.from(exported.get(k)!.values), Array.from(t.values), k);
    // The same as safetensors, and back in from it.
    const st = path.join(tempDir(), 'fold0-from-ich.safetensors');
    const backSt = run('export-weights', '--model', checkpoint, '--out', st);
    assert.equal(backSt.code, 0, backSt.stderr);
    assert.match(backSt.stdout, /model\.load_state_dict\(safetensors\.torch\.load_file\(".*fold0-from-ich\.safetensors"\), strict=True\)\n$/);
    const fromSt = readSafetensors(st).tensors;
    for (const [k, t] of saved) assert.deepEqual(Array.from(fromSt.get(k)!.values), Array.from(t.values), k);
    const reimported = run('import-weights', '--from', st, '--out', path.join(tempDir(), 'from-safetensors'));
    assert.equal(reimported.code, 0, reimported.stderr);
    assert.match(reimported.stdout, /^imported mt-ord-gcs-bin-age \(authors-multitask layout;/);
    assertCleanError(run('export-weights', '--model', checkpoint, '--out', pt, '--layout', 'monai'), /ich export-weights: layout monai expected a DenseNet with the prognosis head alone .*use layout authors$/);
    assertCleanError(run('export-weights', '--model', checkpoint, '--out', 'x.txt'), /--out expected a \.pt or \.pth file \(torch\.save\) or a \.safetensors file, got "x\.txt"/);
    assertCleanError(run('export-weights', '--model', checkpoint, '--out', pt, '--layout', 'keras'), /--layout expected authors, monai, ich, got "keras"/);
    assertCleanError(run('export-weights', '--model', tempDir(), '--out', pt), /--model expected a checkpoint folder with model\.json/);

    const map = path.join(tempDir(), 'map.nii.gz');
    const explained = run('explain', '--model', checkpoint, '--patient', discoverCohort(root).patients[0].id, '--method', 'gbp', '--layer', 'transition1.conv', '--out', map);
    assert.equal(explained.code, 0, explained.stderr);
    assert.ok(fs.existsSync(map));

    assertCleanError(run('import-weights', '--from', path.join(FIXTURES, 'torch', 'whole-module.pt'), '--out', checkpoint), /ich import-weights: a state dict of the study's models expected .*got keys weight, bias \(.*whole-module\.pt\)$/);
    assertCleanError(run('import-weights', '--from', path.join(FIXTURES, 'torch', 'monai-baseline.pt'), '--out', checkpoint, '--model', 'mt-bin-age'), /model mt-bin-age expected a densenet with heads prognosis, age-binary, got a densenet with heads prognosis/);
    assertCleanError(run('import-weights', '--from', 'nowhere.pt', '--out', checkpoint), /--from expected a weights file or a folder holding one, got "nowhere\.pt" \(no such file\)/);
    // A folder as Hugging Face downloads it: its model.safetensors; a folder of several fold files asks for one.
    const hub = tempDir();
    fs.copyFileSync(path.join(FIXTURES, 'torch', 'torch2', 'authors-3head.safetensors'), path.join(hub, 'model.safetensors'));
    fs.writeFileSync(path.join(hub, 'config.json'), '{}');
    const fromHub = run('import-weights', '--from', hub, '--out', path.join(tempDir(), 'from-hub'));
    assert.equal(fromHub.code, 0, fromHub.stderr);
    assert.match(fromHub.stdout, /^imported mt-ord-gcs-bin-age \(authors-multitask layout;.* from .*model\.safetensors\n/);
    fs.copyFileSync(path.join(FIXTURES, 'torch', 'authors-3head.pt'), path.join(hub, 'fold0.pt'));
    fs.copyFileSync(path.join(FIXTURES, 'torch', 'authors-3head.pt'), path.join(hub, 'fold1.pt'));
    fs.rmSync(path.join(hub, 'model.safetensors'));
    assertCleanError(run('import-weights', '--from', hub, '--out', checkpoint), /ich import-weights: weights folder expected .* got 2: fold0\.pt, fold1\.pt; name one as --from .*fold0\.pt/);
    assertCleanError(run('predict', '--model', tempDir()), /--model expected a checkpoint folder with model\.json/);
  });
});
