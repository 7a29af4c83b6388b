import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { explainVolume } from '../../src/explain/saliency';
import { upsampleTrilinear } from '../../src/explain/upsample';
import { buildImageModel } from '../../src/models/multitask';
import { loadTorchStateDict } from '../../src/models/params';
import { ModelSpec, TaskName } from '../../src/models/tasks';
import { onBackend, relError, TEST_BACKENDS } from '../support/tf';
import { loadTensorFixture } from '../support/tensor-fixture';

const SPEC: ModelSpec = { name: 'small', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-ordinal', weight: 0.3 }, { task: 'age-binary', weight: 0.3 }] };

/** Largest |a - b| relative to the largest |b| (saliency values span orders of magnitude). */
function scaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / Math.max(s, 1e-30);
}

describe('explain: guided backpropagation, Grad-CAM and guided Grad-CAM equal a PyTorch reference', function () {
  this.timeout(120000);

  it('upsamples like F.interpolate(mode="trilinear", align_corners=False)', () => {
    // torch: F.interpolate(torch.tensor([0., 1., 3.]).reshape(1, 1, 1, 1, 3), size=(1, 1, 5), mode='trilinear',
    // align_corners=False).flatten() = [0.0, 0.4, 1.0, 2.2, 3.0]
    const up = upsampleTrilinear(new Float32Array([0, 1, 3]), [1, 1, 3], [1, 1, 5]);
    assert.ok(relError(up, [0, 0.4, 1, 2.2, 3]) < 1e-6, Array.from(up).join());
    assert.throws(() => upsampleTrilinear(new Float32Array(2), [1, 1, 3], [1, 1, 5]), /expected 3 values for \[1, 1, 3\], got 2/);
  });

  for (const backend of TEST_BACKENDS) {
    it(`every method and head matches torch to 1e-4 of the map's range (${backend})`, async () => {
      const f = loadTensorFixture('saliency-small');
      await onBackend(backend, async () => {
        const model = buildImageModel(SPEC, 1, f.meta.densenet);
        loadTorchStateDict(model.store, new Map(f.keys.filter((k) => k.startsWith('state/')).map((k) => [k.slice(6), f.get(k)])));
        await explainVolume(model, f.get('input'), [32, 36, 40]); // first call: the engine caches a few constants once
        const before = tf.memory().numTensors;
        for (const [head, output] of [['prognosis', 0], ['gcs-ordinal', 1], ['age-binary', 0]] as [TaskName, number][]) {
          const maps = await explainVolume(model, f.get('input'), [32, 36, 40], { head });
          const key = `${head}:${output}`;
          assert.equal(maps.output, output);
          assert.ok(Math.abs(maps.logit - f.get(`logit/${key}`)[0]) < 1e-4, `logit ${key}`);
          assert.deepEqual(maps.camShape, [2, 2, 2]);
          assert.equal(maps.layer, 'transition3.conv');
          for (const [name, ours] of [['gbp', maps.gbp], ['camraw', maps.camRaw], ['cam', maps.cam], ['camup', maps.gradcam], ['ggcam', maps.ggcam]] as const) {
            const ref = f.get(`${name}/${key}`);
            // Random weights may zero a whole map (guided ReLUs on the age head, Grad-CAM's ReLU on the GCS head of this
            // fixture); the prognosis maps and every raw Grad-CAM sum are non-trivial.
            if (name === 'camraw' || head === 'prognosis') assert.ok(ref.some((v) => v !== 0), `${name}/${key} reference is not all zero`);
            const err = ref.every((v) => v === 0) ? Math.max(...Array.from(ours, Math.abs)) : scaledError(ours, ref);
            assert.ok(err <= 1e-4, `${name}/${key}: ${err}`);
          }
        }
        assert.equal(tf.memory().numTensors, before, 'no tensor outlives explainVolume');
        model.dispose();
      });
    });
  }
});
