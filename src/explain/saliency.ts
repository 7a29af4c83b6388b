import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy } from '../backend';
import { VolumeShape } from '../data/preprocess';
import { shape5 } from '../ops/act3d';
import { ForwardContext } from '../models/densenet3d';
import { ImageModel } from '../models/multitask';
import { TaskName } from '../models/tasks';
import { upsampleTrilinear } from './upsample';

/** The saliency methods of the paper (guided backpropagation, guided Grad-CAM) and Grad-CAM itself. */
export type SaliencyMethod = 'gbp' | 'gradcam' | 'ggcam';
export const SALIENCY_METHODS: readonly SaliencyMethod[] = ['gbp', 'gradcam', 'ggcam'];

/** What to explain. */
export interface SaliencyOptions {
  /** Head to explain; default prognosis when the model has it, else its first head. */
  head?: TaskName;
  /** Which logit of the head; default 0 (for the ordinal GCS head: 1, its GCS <= 8 bit). */
  output?: number;
  /** Grad-CAM layer; default 'transition3.conv' (DenseNet, the paper's) or 'conv4' (Perez del Barrio CNN). */
  layer?: string;
}

/** Saliency maps of one volume, all [depth, height, width] like the input. */
export interface SaliencyMaps {
  head: TaskName;
  output: number;
  layer: string;
  /** The explained logit and its sigmoid. */
  logit: number;
  probability: number;
  shape: VolumeShape;
  /** Guided backpropagation: d logit / d input through guided ReLUs (signed). */
  gbp: Float32Array;
  /** Grad-CAM at `layer`, before upsampling, and its shape. */
  cam: Float32Array;
  /** The channel-weighted sum before Grad-CAM's ReLU (negative where the layer argues against the output). */
  camRaw: Float32Array;
  camShape: VolumeShape;
  /** Grad-CAM upsampled to the input (trilinear). */
  gradcam: Float32Array;
  /** Guided Grad-CAM: gbp * gradcam. */
  ggcam: Float32Array;
}

function resolveOptions(model: ImageModel, options: SaliencyOptions): { head: TaskName; output: number; layer: string } {
  const tasks = model.spec.tasks.map((t) => t.task);
  const head = options.head ?? (tasks.includes('prognosis') ? 'prognosis' : tasks[0]);
  if (!tasks.includes(head)) throw new Error(`saliency head expected one of ${tasks.join(', ')} (${model.spec.name}), got "${head}"`);
  const output = options.output ?? (head === 'gcs-ordinal' ? 1 : 0);
  const outputs = head === 'gcs-ordinal' ? 2 : 1;
  if (!Number.isInteger(output) || output < 0 || output >= outputs) throw new Error(`saliency output expected 0..${outputs - 1} for head ${head}, got ${output}`);
  const layer = options.layer ?? (model.spec.backbone === 'densenet' ? 'transition3.conv' : 'conv4');
  return { head, output, layer };
}

/**
 * Guided backpropagation, Grad-CAM and guided Grad-CAM of one preprocessed volume (paper.md, "Saliency"; batch 1,
 * eval mode: running statistics, no dropout). Grad-CAM weights each channel of `layer` by the spatial mean of the
 * logit's gradient there, keeps the positive part of the weighted sum, and is upsampled trilinearly to the input.
 * Works through the project's own ops on every backend; no tensor outlives the call.
 * @param volume [depth, height, width] values as the network sees them (preprocessed).
 */
export async function explainVolume(model: ImageModel, volume: Float32Array, shape: VolumeShape, options: SaliencyOptions = {}): Promise<SaliencyMaps> {
  const { head, output, layer } = resolveOptions(model, options);
  const [d, h, w] = shape;
  if (volume.length !== d * h * w) throw new Error(`saliency volume expected ${d * h * w} values for [${shape.join(', ')}], got ${volume.length}`);
  const inputShape: [number, number, number, number] = [1, d, h, w];
  const logitOf = (out: Record<string, tf.Tensor2D>) => tf.reshape(tf.slice(out[head], [0, output], [1, 1]), []) as tf.Scalar;

  // Guided backpropagation: gradient with respect to the input with every ReLU guided.
  // Results are read back asynchronously (the webgpu backend cannot read synchronously in Node).
  const gbpTensor = tf.tidy(() => {
    const x = tf.tensor4d(volume, inputShape);
    const ctx: ForwardContext = { training: false, inputGradient: true, guidedRelu: true };
    return tf.grad((input: tf.Tensor) => logitOf(model.predict(input, inputShape, ctx)))(x);
  });
  const gbp = (await gbpTensor.data()) as Float32Array;
  gbpTensor.dispose();

  // Grad-CAM: the activation at the layer, and the logit's gradient there through a zero offset added to it.
  let camShape: VolumeShape = [0, 0, 0];
  const [logitTensor, camTensor] = tf.tidy(() => {
    const taps = new Map();
    const first: ForwardContext = { training: false, taps };
    const logitValue = logitOf(model.predict(volume, inputShape, first));
    const act = taps.get(layer);
    if (!act) throw new Error(`Grad-CAM layer expected one of ${[...taps.keys()].join(', ')} (${model.spec.name}), got "${layer}"`);
    const [, ad, ah, aw, channels] = shape5(act);
    const offset = tf.zeros(act.x.shape);
    const ctx: ForwardContext = { training: false, tapOffsets: new Map([[layer, offset]]) };
    const grads = tf.grad((z: tf.Tensor) => {
      ctx.tapOffsets!.set(layer, z);
      return logitOf(model.predict(volume, inputShape, ctx));
    })(offset);
    const a2 = tf.reshape(act.x, [ad * ah * aw, channels]);
    const weights = tf.mean(tf.reshape(grads, [ad * ah * aw, channels]), 0);
    camShape = [ad, ah, aw];
    return [logitValue, tf.sum(tf.mul(a2, weights), 1)];
  });
  const logit = (await logitTensor.data())[0];
  const camRaw = (await camTensor.data()) as Float32Array;
  tf.dispose([logitTensor, camTensor]);
  assertDeviceHealthy(`saliency of ${model.spec.name} at ${layer}`);
  const cam = camRaw.map((v) => Math.max(v, 0));
  const gradcam = upsampleTrilinear(cam, camShape, shape);
  const ggcam = new Float32Array(gbp.length);
  for (let i = 0; i < gbp.length; i++) ggcam[i] = gbp[i] * gradcam[i];
  return { head, output, layer, logit, probability: 1 / (1 + Math.exp(-logit)), shape, gbp, cam, camRaw, camShape, gradcam, ggcam };
}

/** One method's map from {@link explainVolume}'s result. */
export function saliencyMap(maps: SaliencyMaps, method: SaliencyMethod): Float32Array {
  return method === 'gbp' ? maps.gbp : method === 'gradcam' ? maps.gradcam : maps.ggcam;
}
