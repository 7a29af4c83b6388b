import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Profile, PROFILES } from '../../src/config/profiles';
import { VolumeCache } from '../../src/data/cache';
import { discoverCohort, Patient } from '../../src/data/cohort';
import { crossValidationFolds } from '../../src/data/splits';
import { loadModel } from '../../src/models/checkpoint';
import { MODEL_SPECS } from '../../src/models/tasks';
import { checkedFoldResult, runCrossValidation, threadsPerWorker } from '../../src/train/cv';
import { VolumeSource } from '../../src/train/data';
import { FoldResult, predictPatients, trainFold, TrainRecipe } from '../../src/train/loop';
import { damagedCopy, smallCohort } from '../support/cohort';
import { runTabularCrossValidation } from '../../src/train/tabular';
import { tempDir } from '../support/paths';
import { useNativeKernels } from '../../src/ops/native-dnnl';
import { countingBatchNorm } from '../support/native';
import { NATIVE_SKIP_REASON, onBackend, TEST_BACKENDS } from '../support/tf';

/** A profile small enough for unit tests: 16 x 24 x 24 inputs and a two-block DenseNet. */
const TINY: Profile = {
  ...PROFILES.quick,
  name: 'quick',
  inputSize: [16, 24, 24],
  folds: 3,
  epochs: 2,
  batchSize: 2,
  densenet: { blocks: [1, 1], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0.2 },
};

function recipe(overrides: Partial<TrainRecipe> = {}): TrainRecipe {
  return { spec: MODEL_SPECS['mt-ord-gcs-bin-age'], densenet: TINY.densenet, epochs: 2, patience: 20, batchSize: 2, accumulation: 3, seed: 5, ...overrides };
}

async function setup(): Promise<{ patients: Patient[]; source: VolumeSource }> {
  const root = await smallCohort();
  const patients = discoverCohort(root).patients;
  const source = new VolumeSource(new VolumeCache(tempDir(), { size: TINY.inputSize }), TINY.inputSize);
  return { patients, source };
}

function strip(r: FoldResult | null): unknown {
  assert.ok(r);
  return { history: r.history.map((h) => ({ ...h, seconds: 0 })), predictions: r.predictions, selectedEpoch: r.selectedEpoch };
}

describe('train/loop: one fold with the paper recipe', function () {
  this.timeout(300000);

  for (const backend of TEST_BACKENDS) {
    it(`is deterministic for a seed: two runs give identical losses and predictions (${backend})`, async () => {
      await onBackend(backend, async () => {
        const { patients, source } = await setup();
        const fold = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[0];
        const a = await trainFold({ recipe: recipe(), patients, fold, foldIndex: 0, source, dir: tempDir() });
        const b = await trainFold({ recipe: recipe(), patients, fold, foldIndex: 0, source, dir: tempDir() });
        assert.deepEqual(strip(a), strip(b));
        assert.ok(a!.history.every((h) => Number.isFinite(h.trainLoss) && h.trainLoss > 0));
      });
    });
  }

  it('recomputes batch-norm outputs where asked, with the same results to the bit (wasm+onednn)', async function () {
    if (NATIVE_SKIP_REASON) this.skip();
    const { lib: counting, passes } = countingBatchNorm();
    const train = (recomputeMinBytes: number) =>
      onBackend('wasm+onednn', async () => {
        useNativeKernels(counting);
        passes.count = 0;
        const { patients, source } = await setup();
        const fold = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[0];
        const result = await trainFold({ recipe: recipe({ epochs: 1 }), patients, fold, foldIndex: 0, source, dir: tempDir(), recomputeMinBytes });
        return { result: strip(result), passes: passes.count };
      });
    const kept = await train(Infinity);
    const recomputed = await train(0);
    assert.deepEqual(recomputed.result, kept.result);
    // One more batch-norm pass per BN-ReLU-conv in every training step's backward pass.
    assert.ok(recomputed.passes > kept.passes, `${recomputed.passes} vs ${kept.passes} batch-norm passes`);
  });

  it('resumes after an interruption with the same result as an uninterrupted run', async () => {
    await onBackend('wasm', async () => {
      const { patients, source } = await setup();
      const fold = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[1];
      const r = recipe({ epochs: 3, seed: 8 });
      const whole = await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: tempDir() });
      const dir = tempDir();
      const first = await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir, stopAfterEpochs: 1 });
      assert.equal(first, null, 'stopped after one epoch');
      assert.ok(fs.existsSync(path.join(dir, 'state.json')) && fs.existsSync(path.join(dir, 'last', 'model.json')));
      const resumed = await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir });
      assert.deepEqual(strip(resumed), strip(whole));

      // Killed after writing epoch 2's checkpoint but before state.json: the checkpoint's own state wins.
      const late = tempDir();
      await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: late, stopAfterEpochs: 1 });
      const epochOne = fs.readFileSync(path.join(late, 'state.json'));
      await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: late, stopAfterEpochs: 1 });
      fs.writeFileSync(path.join(late, 'state.json'), epochOne);
      assert.deepEqual(strip(await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: late })), strip(whole));

      // Killed between a save's two renames: last/ is missing and the previous checkpoint waits as last.old-<pid>.
      const between = tempDir();
      await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: between, stopAfterEpochs: 2 });
      fs.renameSync(path.join(between, 'last'), path.join(between, 'last.old-99999'));
      assert.deepEqual(strip(await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: between })), strip(whole));
      assert.deepEqual(fs.readdirSync(between).filter((n) => n.startsWith('last')), ['last'], 'the leftover is cleared by the next save');

      // A folder written before the state rode in the checkpoint resumes from state.json.
      const older = tempDir();
      await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: older, stopAfterEpochs: 1 });
      const meta = JSON.parse(fs.readFileSync(path.join(older, 'last', 'model.json'), 'utf8'));
      delete meta.info.resume;
      fs.writeFileSync(path.join(older, 'last', 'model.json'), JSON.stringify(meta));
      assert.deepEqual(strip(await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: older })), strip(whole));

      // A damaged resume point (truncated weights, a moment of the wrong shape, a state without counters) costs the
      // fold its progress, not the run: it starts over with the same seed, says why, and keeps the damaged folder.
      const damage: [string, (last: string) => void, RegExp][] = [
        ['truncated weights', (last) => fs.truncateSync(path.join(last, 'weights.bin'), 1000), /checkpoint weights expected \d+ bytes for the manifest's \d+ tensors, got 1000 \(.*weights\.bin\)/],
        [
          'a moment of the wrong shape',
          (last) => {
            const m = JSON.parse(fs.readFileSync(path.join(last, 'model.json'), 'utf8'));
            const [a, b] = m.weightsManifest[0].weights.filter((w: { name: string; shape: number[] }) => w.name.startsWith('extra/') && w.shape.length === 1 && w.shape[0] > 1);
            const [i, j] = [m.weightsManifest[0].weights.indexOf(a), m.weightsManifest[0].weights.indexOf(b)];
            // The byte count stays right: one 1-D moment grows by what another loses, so only the shapes are wrong.
            assert.ok(a && b, 'two 1-D moments');
            m.weightsManifest[0].weights[i] = { ...a, shape: [a.shape[0] + b.shape[0] - 1] };
            m.weightsManifest[0].weights[j] = { ...b, shape: [1] };
            fs.writeFileSync(path.join(last, 'model.json'), JSON.stringify(m));
          },
          /checkpoint moment ".*\/(m|v|vmax)" expected shape \[\d+\], got \[\d+\]/,
        ],
        [
          'a state without counters',
          (last) => {
            const m = JSON.parse(fs.readFileSync(path.join(last, 'model.json'), 'utf8'));
            delete m.info.resume.optimizerStep;
            fs.writeFileSync(path.join(last, 'model.json'), JSON.stringify(m));
          },
          /resume state optimizerStep expected a finite number, got undefined/,
        ],
      ];
      for (const [what, spoil, why] of damage) {
        const spoilt = tempDir();
        await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: spoilt, stopAfterEpochs: 2 });
        spoil(path.join(spoilt, 'last'));
        const notices: string[] = [];
        const before = tf.memory().numTensors;
        const again = await trainFold({ recipe: r, patients, fold, foldIndex: 1, source, dir: spoilt, onNotice: (m) => notices.push(m) });
        assert.equal(tf.memory().numTensors, before, `${what}: the unreadable checkpoint's tensors are freed`);
        assert.deepEqual(strip(again), strip(whole), `${what}: trained again from epoch 1 with the same result`);
        assert.equal(notices.length, 1, what);
        assert.match(notices[0], /^fold 1: cannot resume, training it again from epoch 1 \(the unreadable checkpoint moved to last\.unusable-\d+\): /);
        assert.match(notices[0], why);
        assert.equal(fs.readdirSync(spoilt).filter((n) => n.startsWith('last.unusable-')).length, 1, `${what}: kept for a look`);
      }
    });
  });

  // The TypeScript ops (wasm) and each set of the project's own kernels (oneDNN, WGSL), whose optimizer and batch-norm
  // state is held differently.
  for (const backend of TEST_BACKENDS.filter((b) => b === 'wasm' || b.includes('+'))) {
  it(`leaks no tensors: tf.memory().numTensors is the same after step 2 and step 50, and after one more fold (${backend})`, async () => {
    await onBackend(backend, async () => {
      const { patients, source } = await setup();
      const fold = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[0];
      const counts: number[] = [];
      await trainFold({
        recipe: recipe({ batchSize: 1, epochs: 3 }),
        patients,
        fold,
        foldIndex: 0,
        source,
        dir: tempDir(),
        onProgress: (p) => {
          if (p.valBalancedAccuracy === undefined) counts.push(tf.memory().numTensors);
        },
      });
      assert.ok(counts.length >= 50, `${counts.length} steps`);
      assert.equal(counts[49], counts[1], `tensors after step 2: ${counts[1]}, after step 50: ${counts[49]}`);
      // A whole fold frees what it made (a notebook trains many in one kernel): the optimizer's zero moments leaked
      // three tensors per parameter and fold once. The first fold's per-shape kernel constants stay, hence a second.
      const afterFirst = tf.memory().numTensors;
      await trainFold({ recipe: recipe({ batchSize: 1, epochs: 1 }), patients, fold, foldIndex: 0, source, dir: tempDir() });
      assert.equal(tf.memory().numTensors, afterFirst, 'tensors after one more fold');
    });
  });
  }

  it('writes a checkpoint that reloads and predicts the saved test probabilities', async () => {
    await onBackend('wasm', async () => {
      const { patients, source } = await setup();
      const fold = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[2];
      const dir = tempDir();
      const r = await trainFold({ recipe: recipe(), patients, fold, foldIndex: 2, source, dir });
      for (const f of ['best/model.json', 'best/weights.bin', 'history.json', 'predictions.csv', 'result.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
      const { model, meta } = loadModel(path.join(dir, 'best'));
      assert.equal(meta.spec.name, 'mt-ord-gcs-bin-age');
      const test = fold.test.map((i) => patients[i]);
      const again = await predictPatients(model, test, source, 2);
      test.forEach((_, i) => {
        for (const t of ['prognosis', 'gcs-ordinal', 'age-binary'] as const) {
          r!.predictions[i].probabilities[t]!.forEach((v, k) => assert.ok(Math.abs(v - again.probabilities[t]![i][k]) < 1e-6));
        }
      });
      model.dispose();
    });
  });

  for (const backend of TEST_BACKENDS.filter((b) => b.startsWith('wasm') || b === 'cpu+onednn')) {
  it(`trains folds in parallel worker threads with the same results as in sequence (${backend})`, async () => {
    // oneDNN's weight gradients may sum in another order with another thread count: the sequential run uses the
    // threads each of the two workers gets, as results are reproducible for a given number of threads per fold.
    await onBackend(backend, async () => {
      const { patients } = await setup();
      const profile = { ...TINY, epochs: 1 };
      // The workers recompute every batch-norm output they can (the plan's choice reaches them): same results.
      const run = (workers: number, recomputeMinBytes?: number) =>
        runCrossValidation({ spec: MODEL_SPECS['mt-bin-gcs'], profile, patients, out: tempDir(), folds: [0, 1], cacheDir: tempDir(), workers, backend: backend.split('+')[0], recomputeMinBytes });
      const [sequential, parallel] = [await run(1), await run(2, 0)];
      assert.deepEqual(parallel.map((r) => r.fold), [0, 1]);
      assert.deepEqual(parallel.map((r) => r.predictions), sequential.map((r) => r.predictions));
    }, threadsPerWorker(2));
  });
  }

  it('trains every model of the study end to end (one fold, tiny profile) and resumes a finished run from disk', async () => {
    await onBackend('wasm', async () => {
      const { patients } = await setup();
      for (const name of Object.keys(MODEL_SPECS)) {
        const out = tempDir();
        // The Perez del Barrio CNN's four valid convolutions and three poolings need about 38 voxels per axis.
        const profile = name === 'perez-cnn' ? { ...TINY, epochs: 1, inputSize: [40, 40, 40] as [number, number, number] } : { ...TINY, epochs: 1 };
        const results = await runCrossValidation({
          spec: MODEL_SPECS[name],
          profile,
          patients,
          out,
          folds: [0],
          cacheDir: tempDir(),
        });
        assert.equal(results.length, 1, name);
        assert.equal(results[0].predictions.length, crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[0].test.length);
        const header = fs.readFileSync(path.join(out, 'fold-0', 'predictions.csv'), 'utf8').split('\n')[0];
        for (const t of MODEL_SPECS[name].tasks) assert.match(header, new RegExp(`p_${t.task}`), `${name} writes ${t.task}`);
        if (name === 'densenet') {
          const again = await runCrossValidation({ spec: MODEL_SPECS[name], profile: { ...TINY, epochs: 1 }, patients, out, folds: [0], cacheDir: tempDir() });
          assert.deepEqual(again[0].predictions.map((p) => p.patientId), results[0].predictions.map((p) => p.patientId));
          assert.ok(Math.abs(again[0].predictions[0].probabilities.prognosis![0] - results[0].predictions[0].probabilities.prognosis![0]) < 1e-6);
        }
      }
      await assert.rejects(runCrossValidation({ spec: MODEL_SPECS.densenet, profile: TINY, patients, out: tempDir(), folds: [7], cacheDir: tempDir() }), /fold expected an integer in 0..2, got 7/);
      const used = tempDir();
      await runCrossValidation({ spec: MODEL_SPECS.densenet, profile: { ...TINY, epochs: 1 }, patients, out: used, folds: [0], cacheDir: tempDir() });
      await assert.rejects(
        runCrossValidation({ spec: MODEL_SPECS.densenet, profile: { ...TINY, epochs: 1 }, patients: patients.slice(1), out: used, folds: [0], cacheDir: tempDir() }),
        /run folder expected to hold this run .* got a different one/,
      );
    });
  });

  it('passes over a patient whose scan is truncated, says so, and draws the same folds for image and tabular models', async () => {
    await onBackend('wasm', async () => {
      const root = await damagedCopy();
      const patients = discoverCohort(root).patients;
      const broken = patients[4];
      const bytes = fs.readFileSync(broken.imagePath);
      fs.writeFileSync(broken.imagePath, bytes.subarray(0, 200));
      const cacheDir = tempDir();
      const out = tempDir();
      const notices: string[] = [];
      const image = await runCrossValidation({ spec: MODEL_SPECS.densenet, profile: { ...TINY, epochs: 1 }, patients, out, folds: [0, 1], cacheDir, onNotice: (m) => notices.push(m) });
      assert.deepEqual(notices, [`patient ${broken.id} skipped: gzip stream expected complete compressed data, got truncated file (${broken.imagePath})`]);
      const run = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
      assert.deepEqual(run.skippedScans.map((s: { patientId: string }) => s.patientId), [broken.id]);
      assert.ok(!run.patients.includes(broken.id));
      const rest = patients.filter((p) => p !== broken);
      const folds = crossValidationFolds(rest.map((p) => p.label), { folds: 3 });
      assert.deepEqual(image.map((r) => r.predictions.map((p) => p.patientId)), [0, 1].map((k) => folds[k].test.map((i) => rest[i].id)));
      const tabularNotices: string[] = [];
      const tabular = await runTabularCrossValidation({ model: 'clinical', patients, out: tempDir(), foldCount: 3, folds: [0, 1], cacheDir, onNotice: (m) => tabularNotices.push(m) });
      assert.deepEqual(tabularNotices, notices);
      assert.deepEqual(tabular.map((r) => r.predictions.map((p) => p.patientId)), image.map((r) => r.predictions.map((p) => p.patientId)));
    });
  });

  it('tests a finished fold again from its checkpoints when its files no longer answer the fold, and says why', async () => {
    await onBackend('wasm', async () => {
      const { patients } = await setup();
      const out = tempDir();
      let batchesTrained = 0;
      const run = (notices: string[]) =>
        runCrossValidation({
          spec: MODEL_SPECS['mt-ord-gcs-bin-age'],
          profile: { ...TINY, epochs: 1 },
          patients,
          out,
          folds: [0],
          cacheDir: tempDir(),
          onNotice: (m) => notices.push(m),
          onProgress: () => batchesTrained++,
        });
      await run([]);
      assert.ok(batchesTrained > 0);
      batchesTrained = 0;
      const dir = path.join(out, 'fold-0');
      const test = crossValidationFolds(patients.map((p) => p.label), { folds: 3 })[0].test.map((i) => patients[i]);
      const tasks = MODEL_SPECS['mt-ord-gcs-bin-age'].tasks.map((t) => t.task);
      const saved = checkedFoldResult(dir, 0, test, tasks);
      const csvFile = path.join(dir, 'predictions.csv');
      const csv = fs.readFileSync(csvFile, 'utf8');
      const lines = csv.trim().split('\n');
      const header = lines[0].split(',');
      const edit = (row: number, column: string, value: string) =>
        [...lines.slice(0, row), lines[row].split(',').map((c, i) => (header[i] === column ? value : c)).join(','), ...lines.slice(row + 1)].join('\n') + '\n';
      const damaged: [string, string, RegExp][] = [
        ['predictions.csv', lines.slice(0, -1).join('\n') + '\n', new RegExp(`predictions expected the fold's ${test.length} test patients, got ${test.length - 1}`)],
        ['predictions.csv', edit(2, 'p_gcs-ordinal_2', '1.7'), /p_gcs-ordinal expected a probability in \[0, 1\], got 1.7 \(.*predictions\.csv, row 3\)/],
        ['predictions.csv', edit(1, 'label', String(1 - test[0].label)), new RegExp(`label of patient ${test[0].id} expected ${test[0].label}, got ${1 - test[0].label} \\(.*row 2\\)`)],
        ['predictions.csv', edit(1, 'PatientID', 'nobody'), /patient expected one of the fold's test patients, once, got nobody/],
        ['result.json', '{"fold": 0, "sel', /fold result expected JSON/],
      ];
      for (const [file, text, why] of damaged) {
        fs.writeFileSync(path.join(dir, file), text);
        assert.throws(() => checkedFoldResult(dir, 0, test, tasks), why);
        const notices: string[] = [];
        const again = await run(notices);
        assert.equal(notices.length, 1, notices.join('; '));
        assert.match(notices[0], /^fold 0: finished files not usable, testing it again from its checkpoints: /);
        assert.match(notices[0], why);
        // The selected weights are the same, so the test predictions come back to the last written digit.
        assert.deepEqual(checkedFoldResult(dir, 0, test, tasks).predictions, saved.predictions);
        assert.deepEqual(again[0].predictions.map((p) => p.patientId), saved.predictions.map((p) => p.patientId));
        assert.equal(fs.readFileSync(csvFile, 'utf8'), csv);
        assert.equal(batchesTrained, 0, 'tested again, not trained again');
      }
      // Without its checkpoints the fold is trained again, to the same result (the run is deterministic for its seed).
      fs.rmSync(path.join(dir, 'state.json'));
      fs.rmSync(path.join(dir, 'last'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'result.json'), '');
      const notices: string[] = [];
      await run(notices);
      assert.match(notices.join('; '), /^fold 0: finished files not usable, training it again: fold result expected JSON/);
      assert.ok(batchesTrained > 0, 'trained again');
      assert.equal(fs.readFileSync(csvFile, 'utf8'), csv);
      const record = fs.readFileSync(path.join(dir, 'result.json'), 'utf8');
      fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify({ fold: 0, model: 'logistic' }));
      assert.throws(() => checkedFoldResult(dir, 0, test, tasks), /fold result expected an image model's selectedEpoch and history, got fold, model \(.*result\.json\)/);
      fs.writeFileSync(path.join(dir, 'result.json'), '[1]');
      assert.throws(() => checkedFoldResult(dir, 0, test, tasks), /fold result expected an object with an integer fold, got \[1\]/);
      fs.writeFileSync(path.join(dir, 'result.json'), record);
      assert.throws(() => checkedFoldResult(dir, 1, test, tasks), /fold result expected fold 1, got 0 \(.*result\.json\)/);
      assert.throws(() => checkedFoldResult(dir, 0, test, ['prognosis', 'gcs-binary']), /p_gcs-binary expected 1 column\(s\), got 0 \(.*row 2\)/);
      notices.length = 0;
      await run(notices);
      assert.deepEqual(notices, [], 'an intact fold is taken back without a word');
    });
  });
});
