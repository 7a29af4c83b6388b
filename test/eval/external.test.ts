import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { discoverCohort } from '../../src/data/cohort';
import { preprocessVolume } from '../../src/data/preprocess';
import { evaluateCohort } from '../../src/eval/external';
import { binaryMetrics, ordinalMetrics } from '../../src/eval/metrics';
import { decodeOrdinalGcs, gcsClass } from '../../src/data/labels';
import { readVolume } from '../../src/io/read-volume';
import { saveCheckpoint } from '../../src/models/checkpoint';
import { importTorchWeights } from '../../src/models/import-torch';
import { damagedCopy } from '../support/cohort';
import { FIXTURES, tempDir } from '../support/paths';
import { onBackend } from '../support/tf';

describe('eval: a trained or imported model applied to a whole cohort (external validation)', function () {
  this.timeout(300000);

  it('predicts every readable patient, scores each head, and lists the scan it passed over', async () => {
    const root = await damagedCopy();
    const cohort = discoverCohort(root);
    const broken = cohort.patients[3];
    fs.writeFileSync(broken.imagePath, fs.readFileSync(broken.imagePath).subarray(0, 200));
    await onBackend('cpu', async () => {
      const { model } = importTorchWeights(path.join(FIXTURES, 'torch', 'authors-3head.pt'));
      const checkpoint = path.join(tempDir(), 'imported');
      await saveCheckpoint(checkpoint, model, { densenet: { blocks: [2, 3], growth: 4, initFeatures: 8, bnSize: 2 }, inputSize: [16, 32, 32], info: {} });
      const notices: string[] = [];
      const progress: number[] = [];
      const cacheDir = tempDir();
      const r = await evaluateCohort(checkpoint, cohort.patients, { cacheDir, batchSize: 4, notice: (m) => notices.push(m), onProgress: (done) => progress.push(done) });
      // Again: the first pass caches a few constants of the ops per input shape (on purpose); the second adds none.
      const before = tf.memory().numTensors;
      const again = await evaluateCohort(checkpoint, cohort.patients, { cacheDir, batchSize: 4 });
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      assert.deepEqual(again.predictions, r.predictions, 'deterministic, and the same from the volume cache');
      assert.equal(r.spec.name, 'mt-ord-gcs-bin-age');
      assert.deepEqual(r.skipped.map((s) => s.patientId), [broken.id]);
      assert.match(notices[0], new RegExp(`patient ${broken.id} skipped: .*truncated`));
      const usable = cohort.patients.filter((p) => p !== broken);
      assert.deepEqual(r.predictions.map((p) => p.patientId), usable.map((p) => p.id));
      assert.equal(progress[progress.length - 1], usable.length);
      // The metrics are those of the predictions against each head's own labels.
      const prognosis = binaryMetrics(usable.map((p) => p.label), r.predictions.map((p) => p.probabilities.prognosis![0]));
      assert.deepEqual(r.binary.prognosis, prognosis);
      assert.deepEqual(r.binary['age-binary'], binaryMetrics(usable.map((p) => (p.age >= 80 ? 1 : 0)), r.predictions.map((p) => p.probabilities['age-binary']![0])));
      assert.deepEqual(r.ordinal, ordinalMetrics(usable.map((p) => gcsClass(p.gcs)), r.predictions.map((p) => decodeOrdinalGcs(p.probabilities['gcs-ordinal'] as [number, number]))));
      // One patient by hand: read, preprocess at the checkpoint's input size, forward pass, sigmoid.
      const p = usable[5];
      const v = preprocessVolume(await readVolume(p.imagePath), { size: [16, 32, 32] });
      const logits = tf.tidy(() => model.predict(v.data, [1, 16, 32, 32], { training: false }));
      const byHand = 1 / (1 + Math.exp(-(await logits.prognosis.data())[0]));
      tf.dispose(Object.values(logits));
      assert.ok(Math.abs(byHand - r.predictions[5].probabilities.prognosis![0]) < 1e-6, `${byHand} vs ${r.predictions[5].probabilities.prognosis![0]}`);
      model.dispose();
    });
  });
});
