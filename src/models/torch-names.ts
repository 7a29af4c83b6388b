import { MODEL_SPECS, ModelSpec, TaskName } from './tasks';

/**
 * The authors' Perez del Barrio CNN (BaselineAmaiaPytorch.py, AmaiaModel): its Sequential indices -> this project's
 * parameter names, for import and export.
 */
export const PEREZ_KEYS: Readonly<Record<string, string>> = {
  'feature_extractor.0.weight': 'model.conv1.weight',
  'feature_extractor.3.weight': 'model.conv2.weight',
  'feature_extractor.3.bias': 'model.conv2.bias',
  'feature_extractor.7.weight': 'model.conv3.weight',
  'feature_extractor.7.bias': 'model.conv3.bias',
  'feature_extractor.10.weight': 'model.conv4.weight',
  'feature_extractor.12.weight': 'model.bn.weight',
  'feature_extractor.12.bias': 'model.bn.bias',
  'feature_extractor.12.running_mean': 'model.bn.running_mean',
  'feature_extractor.12.running_var': 'model.bn.running_var',
  'classifier.1.weight': 'heads.prognosis.weight',
  'classifier.1.bias': 'heads.prognosis.bias',
};

/**
 * The Linear layer of a task's head in the authors' classes (TrainImageModels/IM_outputPrognosisGCS_Pytorch.py: each
 * head is Sequential(ReLU, AdaptiveAvgPool3d, Flatten, Linear), so its weights sit at index 3). The two-head
 * prognosis + GCS classes call their GCS head `ordinal_head`; the classes with an age head, and the single-task GCS
 * class, call it `ordinal_headGCS`.
 */
export function authorsHeadKey(spec: ModelSpec, task: TaskName): string {
  if (task === 'prognosis') return 'binary_head.3';
  if (task === 'age-binary') return 'ordinal_headAge.3';
  const twoHeadGcs = spec.tasks.length === 2 && spec.tasks.some((t) => t.task === 'prognosis');
  return twoHeadGcs ? 'ordinal_head.3' : 'ordinal_headGCS.3';
}

/** The authors' PyTorch class for each model of the study (the module a state dict in their layout loads into). */
const AUTHORS_CLASSES: Readonly<Record<string, string>> = {
  densenet: 'monai.networks.nets.DenseNet121',
  'perez-cnn': 'AmaiaModel',
  'mt-bin-age': 'PrognosisICH_BinaryAge_Model',
  'mt-bin-gcs': 'PrognosisICH_BinaryGCS_Model',
  'mt-bin-gcs-bin-age': 'PrognosisICH_BinaryGCSBinaryAge_Model',
  'mt-ord-gcs': 'PrognosisICH_ThreeClassGCS_Model',
  'mt-ord-gcs-bin-age': 'PrognosisICH_ThreeClassGCSBinaryAge_Model',
  'st-bin-gcs': 'BinaryGCS_Model',
  'st-bin-age': 'BinaryAge_Model',
  'st-ord-gcs': 'BinaryGCS_Model',
};

/**
 * The authors' class for a model: found by its backbone and heads, so a spec renamed for other loss weights
 * (withLossWeights) still finds it; undefined for heads no model of the study has.
 */
export function authorsClass(spec: ModelSpec): string | undefined {
  const tasks = spec.tasks.map((t) => t.task).sort().join();
  const base = Object.values(MODEL_SPECS).find((s) => s.backbone === spec.backbone && s.tasks.map((t) => t.task).sort().join() === tasks);
  return base && AUTHORS_CLASSES[base.name];
}
