import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '../../src/io/npy';
import { damagedCopy, smallCohort } from '../support/cohort';
import { FIXTURES, fixture, maxAbsDiff, ROOT, tempDir } from '../support/paths';
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
});
