import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readNpy } from '../../src/io/npy';
import { importTorchWeights, interpretTorchWeights, modelFromWeights } from '../../src/models/import-torch';
import { buildImageModel } from '../../src/models/multitask';
import { toTorchLayout } from '../../src/models/params';
import { MODEL_SPECS } from '../../src/models/tasks';
import { FIXTURES, fixture } from '../support/paths';
import { onBackend, relError, TEST_BACKENDS } from '../support/tf';

const TORCH = path.join(FIXTURES, 'torch');
const SMALL = { blocks: [1, 2], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 };

/** A model's parameters as a PyTorch state dict would hold them, under other names where `rename` says so. */
function stateOf(spec: keyof typeof MODEL_SPECS, rename: (name: string) => string | null = (n) => n, densenet: object = SMALL): Map<string, { shape: number[]; values: Float32Array }> {
  const model = buildImageModel(MODEL_SPECS[spec], 1, densenet);
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const p of model.store.params.values()) {
    const name = rename(p.name);
    if (name) out.set(name, { shape: p.torchShape, values: toTorchLayout(p.kind, p.torchShape, p.variable.dataSync() as Float32Array) });
  }
  model.dispose();
  return out;
}

/** Our head names as the authors' classes name them. */
const authorsHeads = (names: Record<string, string>) => (n: string) => {
  for (const [task, key] of Object.entries(names)) if (n.startsWith(`heads.${task}.`)) return n.replace(`heads.${task}`, key);
  return n;
};

describe('models: PyTorch state dicts of the study imported (the authors\' released weights)', function () {
  this.timeout(120000);
  // Golden logits: test/fixtures/gen/make_torch_file_fixtures.py, eval mode: Debian bookworm's python3-torch 1.13
  // (torch/models.json) and trixie's 2.6 (torch/torch2/models.json; authors-3head-gpu-checkpoint.pt holds the same
  // weights in a training checkpoint with every storage located on 'cuda:0', beside an optimizer state and a 0-d tensor).
  type Golden = { torch: string; densenet: object; models: Record<string, { input: number[]; logits: Record<string, number[]> }> };
  const CASES = [
    { file: 'authors-3head', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age' },
    { file: 'monai-baseline', layout: 'monai-densenet', model: 'densenet' },
    { file: 'perez-baseline', layout: 'authors-perez', model: 'perez-cnn' },
    { file: 'authors-3head-legacy', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', golden: 'authors-3head' },
    // torch.save(model): the whole module pickled, read without its classes.
    { file: 'authors-3head-whole', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', golden: 'authors-3head' },
    { file: 'authors-3head-gpu-checkpoint', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', golden: 'authors-3head', torch2Only: true },
    // The same weights through safetensors.torch.save_file (python3-safetensors, trixie only).
    { file: 'authors-3head', ext: 'safetensors', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', torch2Only: true },
    // The same weights under torch.compile's and DataParallel's prefixes, and in a PyTorch Lightning checkpoint ('model.').
    { file: 'authors-3head-compiled', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', golden: 'authors-3head', torch2Only: true },
    { file: 'authors-3head-lightning', ext: 'ckpt', layout: 'authors-multitask', model: 'mt-ord-gcs-bin-age', golden: 'authors-3head', torch2Only: true },
  ];
  const VERSIONS = [
    { dir: TORCH, backends: TEST_BACKENDS },
    // The 2.x files differ in their records, not in what the tensors hold: one backend reads them.
    { dir: path.join(TORCH, 'torch2'), backends: ['cpu'] },
  ];
  for (const v of VERSIONS) {
    const golden = fixture<Golden>(path.relative(FIXTURES, path.join(v.dir, 'models.json')));
    for (const c of CASES.filter((c) => !c.torch2Only || v.dir !== TORCH)) {
      for (const backend of v.backends) {
        it(`${c.file}.${c.ext ?? 'pt'} saved by PyTorch ${golden.torch}: read as ${c.model}, logits of every head equal PyTorch's to 1e-4 (${backend})`, async () => {
          await onBackend(backend, async () => {
            const after: number[] = [];
            // Twice: the first forward pass caches a few constants of the ops (kept on purpose); the second must add none.
            for (let round = 0; round < 2; round++) {
              const { model, weights } = importTorchWeights(path.join(v.dir, `${c.file}.${c.ext ?? 'pt'}`));
              assert.equal(weights.layout, c.layout);
              assert.equal(weights.spec.name, c.model);
              if (c.model !== 'perez-cnn') assert.deepEqual(weights.densenet, golden.densenet);
              const x = readNpy(path.join(v.dir, `${c.golden ?? c.file}-input.npy`));
              const [b, , d, h, w] = x.shape;
              const out = tf.tidy(() => model.predict(Float32Array.from(x.data), [b, d, h, w], { training: false }));
              for (const [task, expected] of Object.entries(golden.models[c.golden ?? c.file].logits)) {
                const got = await out[task as keyof typeof out].data();
                assert.ok(relError(got, expected) <= 1e-4, `${task}: ${relError(got, expected)}`);
              }
              tf.dispose(Object.values(out));
              model.dispose();
              after.push(tf.memory().numTensors);
            }
            assert.equal(after[1], after[0], 'import and prediction leave no tensor behind');
          });
        });
      }
    }
  }

  it('names each of the authors\' head layouts for its model of the study', async () => {
    await onBackend('cpu', () => {
      const two = interpretTorchWeights(stateOf('mt-bin-gcs', (n) => authorsHeads({ prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' })(n)), 'f');
      assert.equal(two.spec.name, 'mt-bin-gcs');
      assert.deepEqual(two.heads, { prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' });
      const ord = interpretTorchWeights(stateOf('mt-ord-gcs', authorsHeads({ prognosis: 'binary_head.3', 'gcs-ordinal': 'ordinal_head.3' })), 'f');
      assert.equal(ord.spec.name, 'mt-ord-gcs');
      assert.equal(interpretTorchWeights(stateOf('st-bin-gcs', authorsHeads({ 'gcs-binary': 'ordinal_headGCS.3' })), 'f').spec.name, 'st-bin-gcs');
      assert.equal(interpretTorchWeights(stateOf('st-bin-age', authorsHeads({ 'age-binary': 'ordinal_headAge.3' })), 'f').spec.name, 'st-bin-age');
      const own = interpretTorchWeights(stateOf('mt-bin-gcs-bin-age'), 'f');
      assert.equal(own.layout, 'ich-prognosis');
      assert.equal(own.spec.name, 'mt-bin-gcs-bin-age');
      // nn.DataParallel's module. prefix and BN counters
      const wrapped = new Map([...stateOf('densenet', authorsHeads({ prognosis: 'binary_head.3' }))].map(([k, v]) => [`module.${k}`, v]));
      wrapped.set('module.feature_extractor.features.norm0.num_batches_tracked', { shape: [], values: new Float32Array([4]) });
      const w = interpretTorchWeights(wrapped, 'f');
      assert.equal(w.spec.name, 'densenet');
      assert.deepEqual(w.ignored, ['module.feature_extractor.features.norm0.num_batches_tracked']);
      // torch.compile inside DistributedDataParallel, and a wrapper module's attribute (Lightning's model., or any
      // other) around them; a prefix that not every key shares is not a wrapper's.
      for (const prefix of ['_orig_mod.module.', 'net.', 'model._orig_mod.', 'lit.model.']) {
        const renamed = new Map([...stateOf('mt-bin-gcs', authorsHeads({ prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' }))].map(([k, v]) => [prefix + k, v]));
        const got = interpretTorchWeights(renamed, prefix);
        assert.equal(got.spec.name, 'mt-bin-gcs', prefix);
        assert.deepEqual(got.heads, { prognosis: `${prefix}binary_head.3`, 'gcs-binary': `${prefix}ordinal_head.3` }, prefix);
      }
      const partly = new Map([...stateOf('mt-bin-gcs', authorsHeads({ prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' }))].map(([k, v]) => [k.startsWith('binary_head') ? k : `net.${k}`, v]));
      assert.throws(() => interpretTorchWeights(partly, 'partly'), /a state dict of the study's models expected .*got keys net\.feature_extractor/);
      assert.deepEqual(w.densenet, { blocks: [1, 2], growth: 4, initFeatures: 8, bnSize: 2 });
      // --model picks the loss weights of a named model with the same heads, and refuses one with other heads
      assert.equal(interpretTorchWeights(stateOf('densenet'), 'f', 'densenet').spec.name, 'densenet');
      assert.throws(() => interpretTorchWeights(stateOf('densenet'), 'f', 'mt-bin-age'), /model mt-bin-age expected a densenet with heads prognosis, age-binary, got a densenet with heads prognosis \(f\)/);
    });
  });

  it('refuses state dicts that do not fit, naming the key', async () => {
    await onBackend('cpu', () => {
      const heads = authorsHeads({ prognosis: 'binary_head.3', 'gcs-ordinal': 'ordinal_headGCS.3' });
      const thirteen = stateOf('mt-ord-gcs', heads);
      const bias = thirteen.get('ordinal_headGCS.3.bias')!;
      thirteen.set('ordinal_headGCS.3.weight', { shape: [13, 56], values: new Float32Array(13 * 56) });
      thirteen.set('ordinal_headGCS.3.bias', { shape: [13], values: new Float32Array(13).fill(bias.values[0]) });
      assert.throws(() => interpretTorchWeights(thirteen, 'gcs13.pt'), /head ordinal_headGCS.3 expected 1 or 2 outputs for GCS .*got 13 \(gcs13\.pt\)/);
      const extra = stateOf('densenet');
      extra.set('feature_extractor.class_layers.out.weight', { shape: [1, 56], values: new Float32Array(56) });
      assert.throws(() => interpretTorchWeights(extra, 'x.pt'), /every key of the state dict expected to be a weight of the model, got 1 others: feature_extractor.class_layers.out.weight \(x\.pt\)/);
      const rgb = stateOf('densenet');
      rgb.set('feature_extractor.features.conv0.weight', { shape: [8, 3, 7, 7, 7], values: new Float32Array(8 * 3 * 343) });
      assert.throws(() => interpretTorchWeights(rgb, 'rgb.pt'), /conv0.weight expected \[channels, 1, 7, 7, 7\] \(a 3D DenseNet on one CT channel\), got \[8,3,7,7,7\] \(rgb\.pt\)/);
      assert.throws(() => interpretTorchWeights(new Map([['fc.weight', { shape: [1, 2], values: new Float32Array(2) }]]), 'other.pt'), /a state dict of the study's models expected .* got keys fc\.weight \(other\.pt\)/);
      const noHead = stateOf('densenet', (n) => (n.startsWith('heads.') ? null : n));
      assert.throws(() => interpretTorchWeights(noHead, 'bare.pt'), /at least one prediction head expected/);
    });
  });

  it('a mis-sized or extra weight is named with the file, and nothing is left allocated', async () => {
    await onBackend('cpu', () => {
      const k = 'feature_extractor.features.denseblock1.denselayer1.layers.conv1.weight';
      const broken = stateOf('densenet');
      broken.set(k, { shape: [8, 8, 1, 1, 1], values: new Float32Array(5) });
      const weights = interpretTorchWeights(broken, 'broken.pt'); // names and head shapes fit; this value does not
      const before = tf.memory().numTensors;
      assert.throws(() => modelFromWeights(weights, 'broken.pt'), /state dict "feature_extractor.features.denseblock1.denselayer1.layers.conv1.weight" expected 64 values \(8x8x1x1x1\), got 5 \(broken\.pt\)/);
      // A fourth dense layer in block 2 is counted into the configuration, so only a gap in the numbering is extra.
      const gap = stateOf('densenet');
      gap.set('feature_extractor.features.denseblock2.denselayer9.layers.norm1.weight', { shape: [16], values: new Float32Array(16) });
      const w = interpretTorchWeights(gap, 'gap.pt');
      assert.throws(() => modelFromWeights(w, 'gap.pt'), /every weight expected to belong to a densenet model, got feature_extractor.features.denseblock2.denselayer9.layers.norm1.weight beside it \(gap\.pt\)/);
      assert.equal(tf.memory().numTensors, before);
    });
  });
});
