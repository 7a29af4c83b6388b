import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { writeSafetensorsFile } from '../io/safetensors';
import { TorchTensorToSave, writeTorchFile } from '../io/torch-save';
import { loadModel } from './checkpoint';
import { DENSENET121, DenseNetConfig } from './densenet-config';
import { ImageModel } from './multitask';
import { toTorchLayout } from './params';
import { TaskName } from './tasks';
import { authorsClass, authorsHeadKey, PEREZ_KEYS } from './torch-names';

/**
 * Key names of an exported state dict: `authors` (default) the authors' PyTorch classes (`feature_extractor.features.*`
 * with `binary_head.3`, `ordinal_head.3` / `ordinal_headGCS.3`, `ordinal_headAge.3`; the single-task prognosis
 * DenseNet as MONAI's DenseNet121, the Perez CNN as AmaiaModel); `monai` a bare MONAI DenseNet121 (`features.*`,
 * `class_layers.out`; prognosis-only models); `ich` this project's parameter names (`heads.<task>`).
 */
export type TorchLayout = 'authors' | 'monai' | 'ich';

/** A model's weights as a PyTorch state dict, and how to load them in Python. */
export interface ExportedWeights {
  layout: TorchLayout;
  /** PyTorch-layout tensors by state-dict key, in the order PyTorch's `state_dict()` lists a module's entries. */
  state: Map<string, TorchTensorToSave>;
  /** Key of each head's Linear layer, e.g. prognosis -> binary_head.3. */
  heads: Partial<Record<TaskName, string>>;
  /** Python that builds a module this state dict loads into with `load_state_dict(..., strict=True)`. */
  module: string;
}

/** True when the sizes are DenseNet-121's (MONAI's DenseNet121 and the authors' feature extractor). */
function isDenseNet121(d: Partial<DenseNetConfig>): boolean {
  const c = { ...DENSENET121, ...d };
  return c.blocks.join() === DENSENET121.blocks.join() && c.growth === DENSENET121.growth && c.initFeatures === DENSENET121.initFeatures && c.bnSize === DENSENET121.bnSize;
}

/** MONAI's DenseNet constructor with one output for a configuration (DenseNet121 when the sizes are DenseNet-121's). */
function monaiConstructor(d: Partial<DenseNetConfig>): string {
  const c = { ...DENSENET121, ...d };
  const common = 'spatial_dims=3, in_channels=1, out_channels=1';
  return isDenseNet121(c) ? `DenseNet121(${common})` : `DenseNet(${common}, init_features=${c.initFeatures}, growth_rate=${c.growth}, block_config=(${c.blocks.join(', ')}), bn_size=${c.bnSize})`;
}

/**
 * A model's parameters and batch-norm statistics as a PyTorch state dict (the inverse of
 * interpretTorchWeights (import-torch.ts)): conv weights back to [out, in, kD, kH, kW], linear weights
 * to [out, in], and a `num_batches_tracked` counter (int64 0: this project's batch norm uses a fixed momentum, so
 * PyTorch, which reads the counter only when momentum is None, ignores it too) after each batch norm's running
 * variance, so the key set is exactly what `state_dict()` of the PyTorch module gives.
 * @param densenet the model's DenseNet sizes (a checkpoint's `densenet`), for the Python constructor line.
 * @param layout default `authors`.
 * @throws when the layout cannot name this model (monai for a model with other heads than prognosis).
 */
export function exportTorchWeights(model: ImageModel, densenet: Partial<DenseNetConfig>, layout: TorchLayout = 'authors'): ExportedWeights {
  const spec = model.spec;
  const tasks = spec.tasks.map((t) => t.task);
  const prognosisOnly = tasks.length === 1 && tasks[0] === 'prognosis';
  const rename = new Map<string, string>();
  const heads: Partial<Record<TaskName, string>> = {};
  let module: string;
  if (layout === 'monai' && !(spec.backbone === 'densenet' && prognosisOnly)) {
    throw new Error(`layout monai expected a DenseNet with the prognosis head alone (MONAI's DenseNet121 has one output layer), got ${spec.name} with heads ${tasks.join(', ')}: use layout authors`);
  }
  const asMonai = spec.backbone === 'densenet' && (layout === 'monai' || (layout === 'authors' && prognosisOnly));
  if (layout === 'ich') {
    for (const p of model.store.params.values()) rename.set(p.name, p.name);
    for (const t of tasks) heads[t] = `heads.${t}`;
    module = spec.backbone === 'densenet'
      ? `a module with feature_extractor.features = ${monaiConstructor(densenet)}.features and a Linear per head under heads (test/fixtures/gen/make_model_fixtures.py, MultiTask)`
      : 'the Perez CNN with this project\'s names (test/fixtures/gen/make_model_fixtures.py)';
  } else if (spec.backbone === 'perez-cnn') {
    for (const [torch, ours] of Object.entries(PEREZ_KEYS)) rename.set(ours, torch);
    heads.prognosis = 'classifier.1';
    module = `${authorsClass(spec)}() (the authors' BaselineAmaiaPytorch.py)`;
  } else if (asMonai) {
    for (const p of model.store.params.values()) {
      if (p.name.startsWith('feature_extractor.features.')) rename.set(p.name, p.name.slice('feature_extractor.'.length));
    }
    rename.set('heads.prognosis.weight', 'class_layers.out.weight');
    rename.set('heads.prognosis.bias', 'class_layers.out.bias');
    heads.prognosis = 'class_layers.out';
    module = `monai.networks.nets.${monaiConstructor(densenet)}`;
  } else {
    for (const p of model.store.params.values()) if (p.name.startsWith('feature_extractor.')) rename.set(p.name, p.name);
    for (const t of tasks) {
      const key = authorsHeadKey(spec, t);
      heads[t] = key;
      rename.set(`heads.${t}.weight`, `${key}.weight`);
      rename.set(`heads.${t}.bias`, `${key}.bias`);
    }
    module = `${authorsClass(spec) ?? 'the authors\' class with these heads'}(image_shape, depth) (the authors' TrainImageModels classes${isDenseNet121(densenet) ? '' : `; their DenseNet121 has other sizes than this model's, so build feature_extractor as ${monaiConstructor(densenet)} with class_layers = nn.Identity()`})`;
  }
  const state = new Map<string, TorchTensorToSave>();
  for (const p of model.store.params.values()) {
    const key = rename.get(p.name);
    if (key === undefined) throw new Error(`parameter ${p.name} expected a name in layout ${layout}, got none (${spec.name})`);
    const values = toTorchLayout(p.kind, p.torchShape, p.variable.dataSync() as Float32Array);
    state.set(key, { dtype: 'float32', shape: p.torchShape, values });
    if (p.kind === 'bn-var') state.set(key.replace(/running_var$/, 'num_batches_tracked'), { dtype: 'int64', shape: [], values: [0] });
  }
  return { layout, state, heads, module };
}

/** What {@link exportCheckpointToTorch} wrote. */
export interface ExportedCheckpoint {
  /** The model's name (as trained: a spec renamed for other loss weights keeps its name). */
  model: string;
  layout: TorchLayout;
  heads: Partial<Record<TaskName, string>>;
  /** Tensors in the state dict, batch-norm counters included. */
  tensors: number;
  /** Trainable values (PyTorch's sum of numel over parameters()). */
  parameters: number;
  /** Preprocessed input [depth, height, width] the model expects. */
  inputSize: [number, number, number];
  /** The file written (absolute) and its SHA-256. */
  file: string;
  sha256: string;
  /** Two lines of Python that build the module and load the file into it with strict=True. */
  python: string;
}

/**
 * Writes a checkpoint folder (from training or `ich import-weights`) as a torch.save state dict in a layout
 * ({@link exportTorchWeights}), or as a safetensors file when `file` ends in `.safetensors`, atomically: what
 * `ich export-weights` and the training notebook call.
 * @throws naming the folder when it is not a readable checkpoint, or the layout when it cannot name the model.
 */
export function exportCheckpointToTorch(dir: string, file: string, layout: TorchLayout = 'authors'): ExportedCheckpoint {
  const { model, meta } = loadModel(dir);
  try {
    const exported = exportTorchWeights(model, meta.densenet, layout);
    // The file's extension picks the format: safetensors (Hugging Face's) or torch.save's.
    const safetensors = /\.safetensors$/i.test(file);
    const bytes = safetensors ? writeSafetensorsFile(file, exported.state) : writeTorchFile(file, exported.state);
    const absolute = path.resolve(file);
    return {
      model: model.spec.name,
      layout,
      heads: exported.heads,
      tensors: exported.state.size,
      parameters: model.store.countTrainable(),
      inputSize: meta.inputSize,
      file: absolute,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      python: `model = ${exported.module}\nmodel.load_state_dict(${safetensors ? `safetensors.torch.load_file(${JSON.stringify(file)})` : `torch.load(${JSON.stringify(file)}, weights_only=True)`}, strict=True)`,
    };
  } finally {
    model.dispose();
  }
}
