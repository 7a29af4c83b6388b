import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors } from '../../src/io/safetensors';
import { findStateDict, readTorchFile } from '../../src/io/torch-file';
import { encodeTorchFile } from '../../src/io/torch-save';
import { saveCheckpoint } from '../../src/models/checkpoint';
import { exportCheckpointToTorch, exportTorchWeights, TorchLayout } from '../../src/models/export-torch';
import { importTorchWeights, interpretTorchWeights } from '../../src/models/import-torch';
import { buildImageModel } from '../../src/models/multitask';
import { toTorchLayout } from '../../src/models/params';
import { MODEL_SPECS } from '../../src/models/tasks';
import { withLossWeights } from '../../src/train/run';
import { FIXTURES, fixture, tempDir } from '../support/paths';
import { onBackend } from '../support/tf';

const TORCH = path.join(FIXTURES, 'torch');
const SMALL = { blocks: [1, 2], growth: 4, initFeatures: 8, bnSize: 2, dropout: 0 };
type Logits = Record<string, number[] | number[][]>;

/** The fixture models' weights as the exporter writes them, in a layout. */
function exported(name: string, layout: TorchLayout) {
  const { model, weights } = importTorchWeights(path.join(TORCH, `${name}.pt`));
  try {
    return exportTorchWeights(model, weights.densenet, layout);
  } finally {
    model.dispose();
  }
}

describe('models: weights exported as PyTorch state dicts', () => {
  // Golden: test/fixtures/gen/make_torch_file_fixtures.py --writer-check loaded written_by_ich-*.pt (written by
  // test/fixtures/gen/torch_writer_check.js) with torch.load(weights_only=True) and load_state_dict(strict=True) into
  // the authors' classes, and ran them beside the weights torch.save wrote itself: Debian bookworm's python3-torch 1.13
  // (torch/written_by_ich.json) and trixie's 2.6 (torch/torch2/written_by_ich.json).
  type Verdict = { torch: string; files: Record<string, { keys: string[]; dtypes: string[]; logits: Logits; savedByTorchLogits: Logits }> };
  const verdicts = [fixture<Verdict>('torch/written_by_ich.json'), fixture<Verdict>('torch/torch2/written_by_ich.json')];
  const models = fixture<{ models: Record<string, { logits: Logits }> }>('torch/models.json').models;
  const cases: [string, TorchLayout][] = [['authors-3head', 'authors'], ['authors-3head', 'ich'], ['monai-baseline', 'authors'], ['perez-baseline', 'authors']];

  for (const [name, layout] of cases) {
    it(`${name}, ${layout} layout: the bytes PyTorch ${verdicts.map((v) => v.torch).join(' and ')} loaded strictly, with their own logits to the last bit`, () =>
    onBackend('cpu', () => {
      const ex = exported(name, layout);
      const file = `written_by_ich-${name}-${layout}`;
      // Same bytes as the file PyTorch judged, so its verdict holds for this exporter.
      assert.deepEqual(Buffer.from(encodeTorchFile(ex.state, file)), fs.readFileSync(path.join(TORCH, `${file}.pt`)));
      for (const verdict of verdicts) {
        const v = verdict.files[`${name}-${layout}`];
        assert.deepEqual(v.keys, [...ex.state.keys()], verdict.torch);
        assert.deepEqual(v.dtypes, [...ex.state.values()].map((t) => t.dtype), verdict.torch);
        // Each PyTorch's outputs with our exported weights equal its outputs with the weights it saved itself.
        assert.deepEqual(v.logits, v.savedByTorchLogits, verdict.torch);
      }
      assert.deepEqual(verdicts[0].files[`${name}-${layout}`].logits, models[name].logits);
    }));
  }

  it('authors-3head as safetensors: the bytes PyTorch 2.6 loaded through safetensors.torch.load_file strictly, with its own logits to the last bit', () =>
    onBackend('cpu', () => {
      const ex = exported('authors-3head', 'authors');
      assert.deepEqual(Buffer.from(encodeSafetensors(ex.state)), fs.readFileSync(path.join(TORCH, 'written_by_ich-authors-3head-authors.safetensors')));
      // Bookworm has no python3-safetensors: only trixie's verdict.
      const v = verdicts[1].files['authors-3head-authors.safetensors'];
      assert.deepEqual(v.keys, [...ex.state.keys()].sort());
      assert.deepEqual(v.dtypes, v.keys.map((k) => ex.state.get(k)!.dtype));
      assert.deepEqual(v.logits, v.savedByTorchLogits);
    }));

  it('gives back the state dict PyTorch saved: every key (DataParallel\'s module. aside), shape and value', () =>
    onBackend('cpu', () => {
    for (const name of ['authors-3head', 'monai-baseline', 'perez-baseline']) {
      const original = findStateDict(readTorchFile(path.join(TORCH, `${name}.pt`)), name);
      const ex = exported(name, 'authors');
      assert.deepEqual([...ex.state.keys()].sort(), [...original.keys()].map((k) => k.replace(/^module\./, '')).sort(), name);
      for (const [k, t] of original) {
        const e = ex.state.get(k.replace(/^module\./, ''))!;
        assert.equal(e.dtype, t.dtype, k);
        assert.deepEqual([...e.shape], t.shape, k);
        assert.deepEqual(Array.from(e.values), Array.from(t.values), k);
      }
    }
  }));

  it('names every model of the study as the authors\' class does, and imports back to the same model and values', () =>
    onBackend('cpu', () => {
    const expectedHeads: Record<string, Record<string, string>> = {
      'mt-bin-gcs': { prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' },
      'mt-ord-gcs': { prognosis: 'binary_head.3', 'gcs-ordinal': 'ordinal_head.3' },
      'mt-bin-gcs-bin-age': { prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_headGCS.3', 'age-binary': 'ordinal_headAge.3' },
      'st-bin-gcs': { 'gcs-binary': 'ordinal_headGCS.3' },
      'st-ord-gcs': { 'gcs-ordinal': 'ordinal_headGCS.3' },
      densenet: { prognosis: 'class_layers.out' },
      'perez-cnn': { prognosis: 'classifier.1' },
    };
    for (const spec of Object.values(MODEL_SPECS)) {
      for (const layout of ['authors', 'ich'] as const) {
        const model = buildImageModel(spec, 3, SMALL);
        try {
          const ex = exportTorchWeights(model, SMALL, layout);
          if (layout === 'authors' && expectedHeads[spec.name]) assert.deepEqual(ex.heads, expectedHeads[spec.name], spec.name);
          if (layout === 'authors') assert.doesNotMatch(ex.module, /the authors' class with these heads/, spec.name);
          const weights = interpretTorchWeights(new Map([...ex.state].map(([k, t]) => [k, { shape: [...t.shape], values: Float32Array.from(t.values) }])), `${spec.name} ${layout}`);
          assert.equal(weights.spec.name, spec.name, `${spec.name} ${layout}`);
          for (const p of model.store.params.values()) {
            assert.ok(weights.state.has(p.name), `${spec.name} ${layout}: ${p.name}`);
          }
          assert.equal(weights.ignored.length, [...model.store.params.values()].filter((p) => p.kind === 'bn-var').length);
        } finally {
          model.dispose();
        }
      }
    }
  }));

  it('says which Python module loads it: MONAI\'s DenseNet121 at the paper\'s sizes, DenseNet(...) with the sizes otherwise', () =>
    onBackend('cpu', () => {
    const full = buildImageModel(MODEL_SPECS.densenet, 1);
    try {
      assert.equal(exportTorchWeights(full, {}).module, 'monai.networks.nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=1)');
      assert.equal(exportTorchWeights(full, {}, 'monai').state.get('features.conv0.weight')!.shape.join(), '64,1,7,7,7');
    } finally {
      full.dispose();
    }
    const small = buildImageModel(MODEL_SPECS['mt-bin-gcs-bin-age'], 1, SMALL);
    try {
      const ex = exportTorchWeights(small, SMALL);
      assert.match(ex.module, /^PrognosisICH_BinaryGCSBinaryAge_Model\(image_shape, depth\) .*DenseNet\(spatial_dims=3, in_channels=1, out_channels=1, init_features=8, growth_rate=4, block_config=\(1, 2\), bn_size=2\) with class_layers = nn\.Identity\(\)/);
      assert.throws(() => exportTorchWeights(small, SMALL, 'monai'), /layout monai expected a DenseNet with the prognosis head alone .*got mt-bin-gcs-bin-age with heads prognosis, gcs-binary, age-binary: use layout authors/);
    } finally {
      small.dispose();
    }
  }));
  it('exports a checkpoint folder in one call, naming the authors\' class for a model renamed for other loss weights', () =>
    onBackend('cpu', async () => {
      const spec = withLossWeights(MODEL_SPECS['mt-bin-gcs'], { prognosis: 0.6, 'gcs-binary': 0.4 });
      assert.equal(spec.name, 'mt-bin-gcs-0.6-0.4');
      const model = buildImageModel(spec, 2, SMALL);
      const dir = path.join(tempDir(), 'best');
      try {
        await saveCheckpoint(dir, model, { densenet: SMALL, inputSize: [16, 24, 24], info: {} });
        const file = path.join(tempDir(), 'fold0.pt');
        const e = exportCheckpointToTorch(dir, file);
        assert.equal(e.model, 'mt-bin-gcs-0.6-0.4');
        assert.deepEqual(e.heads, { prognosis: 'binary_head.3', 'gcs-binary': 'ordinal_head.3' });
        assert.equal(e.parameters, model.store.countTrainable());
        assert.deepEqual(e.inputSize, [16, 24, 24]);
        assert.match(e.python, /^model = PrognosisICH_BinaryGCS_Model\(image_shape, depth\) .*\nmodel\.load_state_dict\(torch\.load\(".*fold0\.pt", weights_only=True\), strict=True\)$/);
        const back = findStateDict(readTorchFile(file), file);
        assert.equal(back.size, e.tensors);
        const p = model.store.params.get('heads.gcs-binary.weight')!;
        assert.deepEqual(Array.from(back.get('ordinal_head.3.weight')!.values), Array.from(toTorchLayout(p.kind, p.torchShape, p.variable.dataSync() as Float32Array)));
        assert.throws(() => exportCheckpointToTorch(path.join(tempDir(), 'none'), file), /checkpoint expected a readable model\.json/);
      } finally {
        model.dispose();
      }
    }));
});
