import { readWeightsSource, WeightsSource } from '../io/weights-source';
import { DenseNetConfig } from './densenet-config';
import { buildImageModel, ImageModel } from './multitask';
import { loadTorchStateDict } from './params';
import { MODEL_SPECS, modelSpec, ModelSpec, TASK_OUTPUTS, TaskName } from './tasks';
import { PEREZ_KEYS } from './torch-names';

/** A state dict's tensors as import needs them: PyTorch layout values and shape, by PyTorch name. */
export type TorchWeights = ReadonlyMap<string, { shape: number[]; values: Float32Array | Float64Array }>;

/** What {@link interpretTorchWeights} made of a state dict: the model it holds and its weights under our names. */
export interface InterpretedWeights {
  /** Which layout the keys follow: the authors' multi-task classes, a bare MONAI DenseNet121, the authors' Perez CNN
   * (AmaiaModel), or this project's own naming. */
  layout: 'authors-multitask' | 'monai-densenet' | 'authors-perez' | 'ich-prognosis';
  spec: ModelSpec;
  /** DenseNet sizes read off the shapes (empty for the Perez CNN); dropout is not stored in weights: the default. */
  densenet: Partial<DenseNetConfig>;
  /** PyTorch-layout values under this project's parameter names (for loadTorchStateDict). */
  state: Map<string, Float32Array>;
  /** Source key of each head, e.g. prognosis <- binary_head.3. */
  heads: Partial<Record<TaskName, string>>;
  /** Keys not imported because they hold no weights (num_batches_tracked). */
  ignored: string[];
}

/** The authors' head modules (TrainImageModels/IM_outputPrognosisGCS_Pytorch.py): Sequential(ReLU, pool, Flatten, Linear). */
const AUTHORS_HEADS: { key: string; task: (outputs: number, key: string) => TaskName }[] = [
  { key: 'binary_head.3', task: (k, key) => (k === 1 ? 'prognosis' : headError(key, 'prognosis', [1], k)) },
  { key: 'ordinal_headGCS.3', task: gcsTask },
  { key: 'ordinal_head.3', task: gcsTask },
  { key: 'ordinal_headAge.3', task: (k, key) => (k === 1 ? 'age-binary' : headError(key, 'binary age', [1], k)) },
];

function gcsTask(outputs: number, key: string): TaskName {
  if (outputs === 1) return 'gcs-binary';
  if (outputs === 2) return 'gcs-ordinal';
  return headError(key, 'GCS (1: binary GCS <= 8; 2: ordinal 13-15 / 9-12 / 3-8)', [1, 2], outputs);
}

function headError(key: string, what: string, expected: number[], got: number): never {
  throw new Error(`head ${key} expected ${expected.join(' or ')} outputs for ${what}, got ${got}`);
}

/**
 * DenseNet sizes from the backbone's tensor shapes (keys under `features.`): stem channels from conv0, growth from
 * the first dense layer's 3x3x3 conv, bottleneck factor from its 1x1x1 conv, layers per block by counting.
 * @throws when the stem is not a 7x7x7 convolution of one channel (a CT) or the sizes do not fit together.
 */
function denseNetFromShapes(shapeOf: (key: string) => number[] | undefined, keys: readonly string[], f: string): Partial<DenseNetConfig> {
  const conv0 = shapeOf(`${f}conv0.weight`)!;
  if (conv0.length !== 5 || conv0[1] !== 1 || conv0.slice(2).join() !== '7,7,7') {
    throw new Error(`${f}conv0.weight expected [channels, 1, 7, 7, 7] (a 3D DenseNet on one CT channel), got [${conv0}]`);
  }
  const blocks: number[] = [];
  for (let b = 1; keys.some((k) => k.startsWith(`${f}denseblock${b}.`)); b++) {
    let n = 0;
    while (keys.some((k) => k.startsWith(`${f}denseblock${b}.denselayer${n + 1}.`))) n++;
    blocks.push(n);
  }
  if (!blocks.length || blocks.includes(0)) throw new Error(`${f}denseblock1.denselayer1 expected, got dense blocks of [${blocks}] layers`);
  const conv1 = shapeOf(`${f}denseblock1.denselayer1.layers.conv1.weight`);
  const conv2 = shapeOf(`${f}denseblock1.denselayer1.layers.conv2.weight`);
  if (!conv1 || !conv2) throw new Error(`${f}denseblock1.denselayer1.layers.conv1/conv2.weight expected (MONAI's DenseNet layer names), got none`);
  const growth = conv2[0];
  const bnSize = conv1[0] / growth;
  if (!Number.isInteger(bnSize)) throw new Error(`the bottleneck width expected a multiple of the growth rate ${growth}, got ${conv1[0]} (${f}denseblock1.denselayer1.layers.conv1.weight)`);
  return { blocks, growth, initFeatures: conv0[0], bnSize };
}

/** The study's model whose backbone and heads these are (or `name`, when given, checked against them). */
function specFor(backbone: ModelSpec['backbone'], tasks: TaskName[], name: string | undefined, source: string): ModelSpec {
  const same = (s: ModelSpec) => s.backbone === backbone && s.tasks.length === tasks.length && s.tasks.every((t) => tasks.includes(t.task));
  if (name !== undefined) {
    const spec = modelSpec(name);
    if (!same(spec)) throw new Error(`model ${name} expected a ${spec.backbone} with heads ${spec.tasks.map((t) => t.task).join(', ')}, got a ${backbone} with heads ${tasks.join(', ')} (${source})`);
    return spec;
  }
  const found = Object.values(MODEL_SPECS).find(same);
  if (!found) throw new Error(`a model of the study expected for a ${backbone} with heads ${tasks.join(', ')}, got none (${source})`);
  return found;
}

/** A key of each layout's first weight, by which a state dict's layout is recognised. */
const LAYOUT_MARKS = ['feature_extractor.features.conv0.weight', 'features.conv0.weight', 'feature_extractor.0.weight', 'model.conv1.weight'];

/**
 * The prefix that wrappers put before every key of a state dict: nn.DataParallel's and DistributedDataParallel's
 * `module.`, torch.compile's `_orig_mod.` (in either order, repeated), then, where the keys still name no layout, the
 * attribute under which a wrapping module holds the model (PyTorch Lightning's `model.`, or `net.` ...; at most
 * two), as long as every key shares it. '' when there is none.
 */
function wrapperPrefix(keys: readonly string[]): string {
  if (!keys.length) return '';
  const shared = (prefix: string) => keys.every((k) => k.startsWith(prefix));
  const marked = (prefix: string) => LAYOUT_MARKS.some((m) => keys.includes(prefix + m));
  let prefix = '';
  for (let grew = true; grew; ) {
    grew = false;
    for (const wrapper of ['module.', '_orig_mod.']) {
      if (shared(prefix + wrapper)) {
        prefix += wrapper;
        grew = true;
      }
    }
  }
  for (let level = 0; level < 2 && !marked(prefix); level++) {
    const first = /^[^.]+\./.exec(keys[0].slice(prefix.length))?.[0];
    if (!first || !shared(prefix + first) || !LAYOUT_MARKS.some((m) => keys.some((k) => k.startsWith(prefix + first) && k.endsWith(m)))) break;
    prefix += first;
  }
  return prefix;
}

/**
 * Reads which model of the study a PyTorch state dict holds and renames its weights to this project's parameters
 * (paper.md, "Released weights"). Understood layouts: the authors' multi-task and single-task classes
 * (`feature_extractor.features.*` with `binary_head.3` -> prognosis, `ordinal_headGCS.3` / `ordinal_head.3` ->
 * binary GCS (1 output) or ordinal GCS (2), `ordinal_headAge.3` -> binary age), a bare MONAI DenseNet121
 * (`features.*`, `class_layers.out` -> prognosis), the authors' Perez CNN (AmaiaModel: `feature_extractor.<index>`,
 * `classifier.1`) and this project's own names (`heads.<task>`). Wrappers' prefixes are dropped (nn.DataParallel's
 * `module.`, torch.compile's `_orig_mod.`, a Lightning module's `model.`: {@link wrapperPrefix}) and
 * `num_batches_tracked` counters ignored. Every other key must be used (like load_state_dict(strict=True)).
 * @param model a name of MODEL_SPECS to check the heads against (and to take its loss weights); default: the one
 *   model with these heads.
 * @throws naming the key or head that does not fit, and `source`.
 */
export function interpretTorchWeights(weights: TorchWeights, source: string, model?: string): InterpretedWeights {
  let keys = [...weights.keys()];
  const strip = wrapperPrefix(keys);
  const original = new Map(keys.map((k) => [k.slice(strip.length), k]));
  keys = [...original.keys()];
  const ignored = keys.filter((k) => k.endsWith('num_batches_tracked')).map((k) => strip + k);
  keys = keys.filter((k) => !k.endsWith('num_batches_tracked'));
  const shapeOf = (k: string) => weights.get(original.get(k) ?? '')?.shape;
  const valuesOf = (k: string) => {
    const v = weights.get(original.get(k)!)!.values;
    return v instanceof Float32Array ? v : Float32Array.from(v);
  };
  const rename = new Map<string, string>();
  const heads: Partial<Record<TaskName, string>> = {};
  let layout: InterpretedWeights['layout'];
  let backbone: ModelSpec['backbone'] = 'densenet';
  let densenet: Partial<DenseNetConfig> = {};
  const headTask = (prefix: string, task: TaskName) => {
    const shape = shapeOf(`${prefix}.weight`)!;
    if (shape.length !== 2 || shape[0] !== TASK_OUTPUTS[task]) throw new Error(`head ${strip}${prefix}.weight expected [${TASK_OUTPUTS[task]}, features], got [${shape}]`);
    if (heads[task]) throw new Error(`one head for ${task} expected, got ${heads[task]} and ${strip}${prefix}`);
    heads[task] = strip + prefix;
    rename.set(`${prefix}.weight`, `heads.${task}.weight`);
    rename.set(`${prefix}.bias`, `heads.${task}.bias`);
  };
  const backboneKeys = (from: string, to: string) => {
    for (const k of keys) if (k.startsWith(from)) rename.set(k, to + k.slice(from.length));
  };
  try {
    if (shapeOf('feature_extractor.features.conv0.weight')) {
      layout = 'authors-multitask';
      densenet = denseNetFromShapes(shapeOf, keys, 'feature_extractor.features.');
      backboneKeys('feature_extractor.features.', 'feature_extractor.features.');
      for (const h of AUTHORS_HEADS) {
        const shape = shapeOf(`${h.key}.weight`);
        if (shape) headTask(h.key, h.task(shape[0], `${strip}${h.key}`));
      }
      for (const k of keys) {
        const m = /^heads\.([a-z-]+)\.weight$/.exec(k);
        if (m && m[1] in TASK_OUTPUTS) headTask(`heads.${m[1]}`, m[1] as TaskName);
      }
      if (keys.some((k) => k.startsWith('heads.'))) layout = 'ich-prognosis';
    } else if (shapeOf('features.conv0.weight') && shapeOf('class_layers.out.weight')) {
      layout = 'monai-densenet';
      densenet = denseNetFromShapes(shapeOf, keys, 'features.');
      backboneKeys('features.', 'feature_extractor.features.');
      headTask('class_layers.out', 'prognosis');
    } else if (shapeOf('feature_extractor.0.weight') && shapeOf('classifier.1.weight')) {
      layout = 'authors-perez';
      backbone = 'perez-cnn';
      for (const [from, to] of Object.entries(PEREZ_KEYS)) if (shapeOf(from)) rename.set(from, to);
      heads.prognosis = `${strip}classifier.1`;
    } else if (shapeOf('model.conv1.weight') && shapeOf('heads.prognosis.weight')) {
      layout = 'ich-prognosis';
      backbone = 'perez-cnn';
      for (const k of keys) rename.set(k, k);
      heads.prognosis = `${strip}heads.prognosis`;
    } else {
      throw new Error(`a state dict of the study's models expected (feature_extractor.features.conv0.weight, features.conv0.weight with class_layers.out, or the Perez CNN's feature_extractor.0.weight), got keys ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''}`);
    }
  } catch (e) {
    // The sizes and heads are checked on names alone; the file is added here, once.
    throw new Error(`${(e as Error).message} (${source})`);
  }
  const unused = keys.filter((k) => !rename.has(k));
  if (unused.length) throw new Error(`every key of the state dict expected to be a weight of the model, got ${unused.length} others: ${unused.slice(0, 5).map((k) => strip + k).join(', ')}${unused.length > 5 ? ', ...' : ''} (${source})`);
  const tasks = Object.keys(heads) as TaskName[];
  if (!tasks.length) throw new Error(`at least one prediction head expected (binary_head, ordinal_headGCS, ordinal_head, ordinal_headAge), got none (${source})`);
  const spec = specFor(backbone, tasks, model, source);
  const state = new Map<string, Float32Array>();
  for (const [from, to] of rename) state.set(to, valuesOf(from));
  return { layout, spec, densenet, state, heads, ignored };
}

/**
 * Reads a torch.save file (a state dict, or a checkpoint dict holding one), a safetensors file of a state dict
 * (`safetensors.torch.save_file`, Hugging Face's format; told apart by its first bytes) or a folder holding one (a
 * Hugging Face download, sharded or not: {@link readWeightsSource}) and builds the model of the study it holds with its
 * weights: the first step of running the authors' released fold weights (paper.md, "Released weights") or a user's
 * own PyTorch training on a cohort here. The caller owns (disposes) the model.
 * @param model see {@link interpretTorchWeights}.
 * @returns the model, what the weights were read as, and the files read with their SHA-256 (for provenance).
 * @throws naming the file or folder: unreadable, not a state dict, keys or shapes that do not fit a model of the study.
 */
export function importTorchWeights(from: string, model?: string): { model: ImageModel; weights: InterpretedWeights; source: Omit<WeightsSource, 'state'> } {
  const { state, files, sha256 } = readWeightsSource(from);
  const weights = interpretTorchWeights(state, from, model);
  return { model: modelFromWeights(weights, from), weights, source: { files, sha256 } };
}

/**
 * Builds the model {@link interpretTorchWeights} found and loads its weights. The caller owns (disposes) the model.
 * @throws naming `source` when a weight is missing, extra or of another size (nothing stays allocated).
 */
export function modelFromWeights(weights: InterpretedWeights, source: string): ImageModel {
  // No initial draw: loadTorchStateDict assigns every parameter or throws.
  const built = buildImageModel(weights.spec, null, weights.densenet);
  try {
    const extra = [...weights.state.keys()].filter((k) => !built.store.params.has(k));
    if (extra.length) throw new Error(`every weight expected to belong to a ${weights.spec.name} model, got ${extra.slice(0, 5).join(', ')} beside it`);
    loadTorchStateDict(built.store, weights.state);
  } catch (e) {
    built.dispose();
    throw new Error(`${(e as Error).message} (${source})`);
  }
  return built;
}
