import { binaryAge, binaryGcs, ordinalGcs } from '../data/labels';

/** The prediction heads of the study (paper.md, "Models" and "Splits and labels"). */
export type TaskName = 'prognosis' | 'gcs-binary' | 'gcs-ordinal' | 'age-binary';

/** Outputs (logits) of each head: the ordinal GCS head has two cumulative bits. */
export const TASK_OUTPUTS: Record<TaskName, number> = { prognosis: 1, 'gcs-binary': 1, 'gcs-ordinal': 2, 'age-binary': 1 };

/** The targets of one patient for one head, as 0/1 values (length = the head's outputs). */
export function taskTargets(task: TaskName, patient: { label: number; gcs: number; age: number }): number[] {
  switch (task) {
    case 'prognosis':
      return [patient.label];
    case 'gcs-binary':
      return [binaryGcs(patient.gcs)];
    case 'gcs-ordinal':
      return ordinalGcs(patient.gcs);
    case 'age-binary':
      return [binaryAge(patient.age)];
  }
}

/** One model of the study: its heads and the loss weight of each (plain data a notebook cell can change). */
export interface ModelSpec {
  name: string;
  /** 'densenet' backbone or the Perez del Barrio CNN. */
  backbone: 'densenet' | 'perez-cnn';
  tasks: { task: TaskName; weight: number }[];
  /** pos_weight of each head's BCE (the single-task GCS/age baselines use the class ratio); default none. */
  positiveWeight?: 'class-ratio';
}

/** The seven models of the results table plus the single-task GCS and age baselines (paper.md, "Training"). */
export const MODEL_SPECS: Record<string, ModelSpec> = {
  densenet: { name: 'densenet', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 1 }] },
  'perez-cnn': { name: 'perez-cnn', backbone: 'perez-cnn', tasks: [{ task: 'prognosis', weight: 1 }] },
  'mt-bin-age': { name: 'mt-bin-age', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 0.5 }, { task: 'age-binary', weight: 0.3 }] },
  'mt-bin-gcs': { name: 'mt-bin-gcs', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-binary', weight: 0.3 }] },
  'mt-bin-gcs-bin-age': {
    name: 'mt-bin-gcs-bin-age',
    backbone: 'densenet',
    tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-binary', weight: 0.3 }, { task: 'age-binary', weight: 0.3 }],
  },
  'mt-ord-gcs': { name: 'mt-ord-gcs', backbone: 'densenet', tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-ordinal', weight: 0.3 }] },
  'mt-ord-gcs-bin-age': {
    name: 'mt-ord-gcs-bin-age',
    backbone: 'densenet',
    tasks: [{ task: 'prognosis', weight: 0.4 }, { task: 'gcs-ordinal', weight: 0.3 }, { task: 'age-binary', weight: 0.3 }],
  },
  'st-bin-gcs': { name: 'st-bin-gcs', backbone: 'densenet', tasks: [{ task: 'gcs-binary', weight: 1 }], positiveWeight: 'class-ratio' },
  'st-bin-age': { name: 'st-bin-age', backbone: 'densenet', tasks: [{ task: 'age-binary', weight: 1 }], positiveWeight: 'class-ratio' },
  'st-ord-gcs': { name: 'st-ord-gcs', backbone: 'densenet', tasks: [{ task: 'gcs-ordinal', weight: 1 }], positiveWeight: 'class-ratio' },
};

/** The spec of a model by name. @throws listing the known names. */
export function modelSpec(name: string): ModelSpec {
  const spec = MODEL_SPECS[name];
  if (!spec) throw new Error(`model expected one of ${Object.keys(MODEL_SPECS).join(', ')}, got "${name}"`);
  return spec;
}
