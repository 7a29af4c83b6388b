import * as tf from '@tensorflow/tfjs-core';
import { buildImageModel } from '../models/multitask';
import { MODEL_SPECS } from '../models/tasks';
import { AdamW } from './adamw';
import { multiTaskLoss } from './losses';

/** One timing of training steps. */
export interface StepTiming {
  backend: string;
  shape: [number, number, number];
  batch: number;
  steps: number;
  /** Median milliseconds per step (forward, backward, AdamW). */
  stepMs: number;
  volumesPerSecond: number;
  params: number;
}

/**
 * Times training steps of the full DenseNet-121 3D with the three heads of MT (ord GCS, bin age) on random volumes,
 * on the active backend: forward, backward, batch-norm statistics and an AdamW (AMSGrad) step, as the training loop
 * does. One warm-up step is not counted.
 */
export async function timeTrainingSteps(shape: [number, number, number], batch: number, steps: number): Promise<StepTiming> {
  const spec = MODEL_SPECS['mt-ord-gcs-bin-age'];
  const model = buildImageModel(spec, 1);
  const params = model.store.countTrainable();
  const optimizer = new AdamW();
  const [d, h, w] = shape;
  const x = new Float32Array(batch * d * h * w);
  for (let i = 0; i < x.length; i++) x[i] = (Math.sin(i * 12.9898) * 43758.5453) % 1;
  const targets = { prognosis: tf.ones([batch, 1]), 'gcs-ordinal': tf.zeros([batch, 2]), 'age-binary': tf.zeros([batch, 1]) };
  const variables = model.store.trainable();
  const times: number[] = [];
  try {
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      const ctx = { training: true, stats: new Map() };
      const { value, grads } = tf.variableGrads(() => multiTaskLoss(model.predict(x, [batch, d, h, w], ctx), targets, spec.tasks).total, variables);
      model.commitBatchStats(ctx);
      optimizer.apply(variables, grads);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      if (s > 0) times.push(performance.now() - t0);
    }
  } finally {
    tf.dispose(Object.values(targets));
    optimizer.dispose();
    model.dispose();
  }
  times.sort((a, b) => a - b);
  const stepMs = times[Math.floor(times.length / 2)];
  return { backend: tf.getBackend(), shape, batch, steps, stepMs, volumesPerSecond: (batch * 1000) / stepMs, params };
}
