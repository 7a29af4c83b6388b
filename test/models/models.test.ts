import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext } from '../../src/models/densenet3d';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel, readCheckpoint, saveCheckpoint } from '../../src/models/checkpoint';
import { buildImageModel } from '../../src/models/multitask';
import { loadTorchStateDict, toTorchLayout } from '../../src/models/params';
import { MODEL_SPECS, ModelSpec } from '../../src/models/tasks';
import { tempDir } from '../support/paths';
import { onBackend, relError, TEST_BACKENDS } from '../support/tf';
import { loadTensorFixture } from '../support/tensor-fixture';

const CASES: { fixture: string; spec: ModelSpec; densenet?: object; input: [number, number, number, number] }[] = [
  {
    fixture: 'densenet-small',
    spec: { name: 'small', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-ordinal', weight: 0.3 }, { task: 'age-binary', weight: 0.3 }] },
    densenet: { blocks: [2, 3], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 },
    input: [2, 12, 14, 16],
  },
  { fixture: 'perez-cnn', spec: MODEL_SPECS['perez-cnn'], input: [2, 38, 40, 39] },
];

describe('models: outputs and gradients equal a PyTorch reference with the same weights', function () {
  this.timeout(120000);

  it('building and disposing a model leaves no tensor behind (each fold builds one)', async () => {
    await onBackend('cpu', () => {
      const before = tf.memory().numTensors;
      buildImageModel(MODEL_SPECS['mt-ord-gcs-bin-age'], 1, { blocks: [1, 1], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 }).dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  });
  for (const c of CASES) {
    for (const backend of TEST_BACKENDS) {
      it(`${c.fixture}: eval and train logits, running statistics and gradients to 1e-4 (${backend})`, async () => {
        const f = loadTensorFixture(c.fixture);
        await onBackend(backend, async () => {
          const model = buildImageModel(c.spec, 1, c.densenet);
          const state = new Map(f.keys.filter((k) => k.startsWith('state/')).map((k) => [k.slice(6), f.get(k)]));
          loadTorchStateDict(model.store, state);
          const x = f.get('input');
          const evalOut = tf.tidy(() => model.predict(x, c.input, { training: false }));
          for (const t of c.spec.tasks) {
            const err = relError(await evalOut[t.task].data(), f.get(`eval/${t.task}`));
            assert.ok(err <= 1e-4, `eval ${t.task}: ${err}`);
          }
          tf.dispose(Object.values(evalOut));
          const ctx: ForwardContext = { training: true, stats: new Map() };
          const targets = f.meta.targets as Record<string, number[][]>;
          const trainLogits: Record<string, Float32Array> = {};
          const keptLogits: Record<string, tf.Tensor> = {};
          const { value, grads } = tf.variableGrads(() => {
            const out = model.predict(x, c.input, ctx);
            let loss: tf.Scalar = tf.scalar(0);
            for (const t of c.spec.tasks) {
              keptLogits[t.task] = tf.keep(out[t.task]); // read after the pass: webgpu cannot read synchronously
              const y = tf.tensor(targets[t.task]);
              const l = tf.mean(tf.add(tf.sub(tf.relu(out[t.task]), tf.mul(out[t.task], y)), tf.log1p(tf.exp(tf.neg(tf.abs(out[t.task]))))));
              loss = tf.add(loss, l) as tf.Scalar;
            }
            return loss;
          }, model.store.trainable());
          for (const [task, t] of Object.entries(keptLogits)) trainLogits[task] = (await t.data()) as Float32Array;
          tf.dispose(Object.values(keptLogits));
          assert.ok(Math.abs((await value.data())[0] - f.meta.loss) < 1e-4 * Math.max(1, Math.abs(f.meta.loss)));
          for (const t of c.spec.tasks) assert.ok(relError(trainLogits[t.task], f.get(`train/${t.task}`)) <= 1e-4, `train ${t.task}`);
          for (const p of model.store.params.values()) {
            if (!p.trainable) continue;
            const g = grads[p.variable.name];
            const ours = toTorchLayout(p.kind, p.torchShape, (await g.data()) as Float32Array);
            const err = relError(ours, f.get(`grad/${p.name}`));
            assert.ok(err <= 1e-4, `grad ${p.name}: ${err}`);
          }
          model.commitBatchStats(ctx);
          for (const p of model.store.params.values()) {
            if (p.kind !== 'bn-mean' && p.kind !== 'bn-var') continue;
            const err = relError((await p.variable.data()) as Float32Array, f.get(`after/${p.name}`));
            assert.ok(err <= 1e-4, `running ${p.name}: ${err}`);
          }
          tf.dispose([value, ...Object.values(grads)]);
          model.dispose();
        });
      });
    }
  }

  it('has PyTorch parameter counts: DenseNet-121 backbone 11,242,624; Perez del Barrio CNN 291,217', async () => {
    await onBackend('cpu', () => {
      const m = buildImageModel(MODEL_SPECS['mt-ord-gcs-bin-age'], 1);
      assert.equal(m.store.countTrainable('feature_extractor.'), 11242624);
      assert.equal(m.store.countTrainable('heads.'), 1024 * 1 + 1 + 1024 * 2 + 2 + 1024 + 1);
      m.dispose();
      const p = buildImageModel(MODEL_SPECS['perez-cnn'], 1);
      assert.equal(p.store.countTrainable(), 291217);
      p.dispose();
    });
  });

  it('starts from identical weights for one seed and different ones for another', async () => {
    await onBackend('cpu', async () => {
      const small = { blocks: [1, 1], growth: 2, initFeatures: 4, bnSize: 2 };
      const a = buildImageModel(MODEL_SPECS.densenet, 7, small);
      const b = buildImageModel(MODEL_SPECS.densenet, 7, small);
      const c = buildImageModel(MODEL_SPECS.densenet, 8, small);
      const first = (m: typeof a) => m.store.params.get('feature_extractor.features.conv0.weight')!.variable.dataSync();
      assert.deepEqual(Array.from(first(a)), Array.from(first(b)));
      assert.notDeepEqual(Array.from(first(a)), Array.from(first(c)));
      [a, b, c].forEach((m) => m.dispose());
    });
  });

  it('builds zeros without a seed (for weights loaded next), and a seed after it still draws the same weights', async () => {
    await onBackend('cpu', async () => {
      const small = { blocks: [1, 1], growth: 2, initFeatures: 4, bnSize: 2 };
      const empty = buildImageModel(MODEL_SPECS['mt-bin-gcs'], null, small);
      const seeded = buildImageModel(MODEL_SPECS['mt-bin-gcs'], 7, small);
      const again = buildImageModel(MODEL_SPECS['mt-bin-gcs'], 7, small);
      for (const p of empty.store.params.values()) {
        const values = Array.from(p.variable.dataSync());
        // Batch norm keeps PyTorch's gamma 1 and running variance 1; everything drawn at random is 0.
        const one = p.kind === 'bn-gamma' || p.kind === 'bn-var';
        assert.ok(values.every((v) => v === (one ? 1 : 0)), p.name);
        assert.deepEqual(p.variable.shape, seeded.store.params.get(p.name)!.variable.shape, p.name);
      }
      for (const p of seeded.store.params.values()) assert.deepEqual(Array.from(p.variable.dataSync()), Array.from(again.store.params.get(p.name)!.variable.dataSync()), p.name);
      [empty, seeded, again].forEach((m) => m.dispose());
    });
  });

  it('a checkpoint whose weights do not fit its spec is named, and loading it leaves nothing allocated', async () => {
    await onBackend('cpu', async () => {
      const small = { blocks: [1, 1], growth: 2, initFeatures: 4, bnSize: 2 };
      const model = buildImageModel(MODEL_SPECS['mt-bin-gcs'], 3, small);
      const dir = path.join(tempDir(), 'best');
      await saveCheckpoint(dir, model, { densenet: small, inputSize: [8, 16, 16], info: {} });
      model.dispose();
      const loaded = loadModel(dir);
      loaded.model.dispose();
      // The spec edited to a model with an age head, which the saved weights lack.
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      json.spec = MODEL_SPECS['mt-bin-gcs-bin-age'];
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      const before = tf.memory().numTensors;
      assert.throws(() => loadModel(dir), /checkpoint expected parameter "heads\.age-binary\.weight", got none \(.*best\)/);
      assert.equal(tf.memory().numTensors, before);
    });
  });

  it('a checkpoint reads back exactly what was saved: float32 weights, and int32 and bool extras at any alignment', async () => {
    await onBackend('cpu', async () => {
      const small = { blocks: [1, 1], growth: 2, initFeatures: 4, bnSize: 2 };
      const model = buildImageModel(MODEL_SPECS['mt-bin-gcs'], 5, small);
      // Extras follow the weights; three bools put the tensors after them at an odd byte offset, which a Float32Array view cannot take.
      const extra = new Map<string, tf.Tensor>([['a-flags', tf.tensor([true, false, true], [3], 'bool')], ['b-steps', tf.tensor([7, -2], [2], 'int32')], ['c-moment', tf.tensor([[0.25, -1.5]], [1, 2])]]);
      const dir = path.join(tempDir(), 'aligned');
      await saveCheckpoint(dir, model, { densenet: small, inputSize: [8, 16, 16], info: {} }, extra);
      const { tensors } = readCheckpoint(dir);
      for (const p of model.store.params.values()) assert.deepEqual(Array.from(tensors[p.name].dataSync()), Array.from(p.variable.dataSync()), p.name);
      for (const [k, t] of extra) {
        assert.equal(tensors[`extra/${k}`].dtype, t.dtype, k);
        assert.deepEqual(tensors[`extra/${k}`].shape, t.shape, k);
        assert.deepEqual(Array.from(tensors[`extra/${k}`].dataSync()), Array.from(t.dataSync()), k);
      }
      tf.dispose([...Object.values(tensors), ...extra.values()]);
      model.dispose();
      // A manifest naming a dtype the writer never writes is refused by name, not decoded as garbage.
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      json.weightsManifest[0].weights[0].dtype = 'complex64';
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      assert.throws(() => readCheckpoint(dir), /checkpoint weight "feature_extractor\.features\.conv0\.weight" expected dtype float32, int32 or bool, unquantised, got complex64 \(.*weights\.bin\)/);
    });
  });

  it('names a missing or mis-sized state-dict entry', async () => {
    await onBackend('cpu', () => {
      const m = buildImageModel(MODEL_SPECS['perez-cnn'], 1);
      assert.throws(() => loadTorchStateDict(m.store, new Map()), /expected "model.conv1.weight", got no such key/);
      assert.throws(() => loadTorchStateDict(m.store, new Map([['model.conv1.weight', new Float32Array(3)]])), /expected 432 values \(16x1x3x3x3\), got 3/);
      m.dispose();
    });
  });
});
