import * as tf from '@tensorflow/tfjs-core';
import { Act3d, withTensor } from '../ops/act3d';
import { conv3d } from '../ops/conv3d';
import { batchNormReluConv1x1 } from '../ops/bn-relu-conv';
import { BatchStats, batchNormRelu3d, channelDropout, guidedRelu, relu3d } from '../ops/norm';
import { avgPool3d, concatChannels, maxPool3d } from '../ops/pool3d';
import { DENSENET121, DenseNetConfig } from './densenet-config';
import { ParamStore } from './params';

export { DENSENET121, DenseNetConfig } from './densenet-config';

/** What a forward pass needs besides the input, and what it leaves behind. */
export interface ForwardContext {
  /** Training mode: batch statistics and dropout. */
  training: boolean;
  /** Filled in training mode with each batch norm's statistics (kept tensors; see updateRunningStats). */
  stats?: Map<string, BatchStats>;
  /** Draws a [batch, channels] 0/1 keep-mask for channel dropout; null/undefined disables dropout. */
  dropoutMask?: (name: string, batch: number, channels: number, rate: number) => tf.Tensor2D | null;
  /** Activations to keep by layer name (e.g. 'transition3.conv' for Grad-CAM). */
  taps?: Map<string, Act3d>;
  /** Set when a gradient with respect to the input is needed (saliency); training leaves it off. */
  inputGradient?: boolean;
  /** Every ReLU of the model (backbone and head) becomes a guided ReLU (guided backpropagation). */
  guidedRelu?: boolean;
  /**
   * Zero tensors added to named activations (same shape as the tap): the gradient of an output with respect to one
   * is the gradient with respect to that activation (Grad-CAM), which the engine cannot give for an intermediate.
   */
  tapOffsets?: Map<string, tf.Tensor>;
  /**
   * Batch-norm outputs before a 1 x 1 x 1 convolution of at least this many bytes (whole batch) are recomputed in the
   * backward pass instead of kept (src/ops/bn-relu-conv.ts): same values, less memory, more time. Default: what
   * ICH_RECOMPUTE_MIN_MB says (unset: none); training sets it from the fold's memory plan (train/memory.ts).
   */
  recomputeMinBytes?: number;
}

/** The model's ReLU under a forward context: guided for guided backpropagation, else plain. */
export function reluInContext(a: Act3d, ctx: ForwardContext): Act3d {
  return ctx.guidedRelu ? withTensor(a, guidedRelu(a.x)) : relu3d(a);
}

/** Records a named activation in `ctx.taps` and adds its offset from `ctx.tapOffsets`, if any; returns the activation. */
export function tapInContext(name: string, a: Act3d, ctx: ForwardContext): Act3d {
  const offset = ctx.tapOffsets?.get(name);
  const out = offset ? withTensor(a, tf.add(a.x, tf.reshape(offset, a.x.shape)) as tf.Tensor4D) : a;
  ctx.taps?.set(name, out);
  return out;
}

type BnVars = ReturnType<ParamStore['batchNorm']>;

/**
 * A model's batch norm under a forward context: in training mode its batch statistics go to `ctx.stats` (for
 * commitBatchStats) or are freed when nobody collects them.
 */
export function batchNormInContext(x: Act3d, vars: BnVars, name: string, ctx: ForwardContext): Act3d {
  return normInContext(x, vars, name, ctx, false);
}

/**
 * A model's BN-ReLU pair under a forward context, fused where the backend has a kernel for it (webgpu); guided
 * backpropagation keeps the two apart, since its ReLU has its own gradient.
 */
export function batchNormReluInContext(x: Act3d, vars: BnVars, name: string, ctx: ForwardContext): Act3d {
  return ctx.guidedRelu ? reluInContext(normInContext(x, vars, name, ctx, false), ctx) : normInContext(x, vars, name, ctx, true);
}

/**
 * A model's BN-ReLU followed by a 1 x 1 x 1 convolution under a forward context: one op that recomputes the batch
 * norm's output in the backward pass instead of keeping it from `ctx.recomputeMinBytes` (default ICH_RECOMPUTE_MIN_MB) up, else the two ops
 * (src/ops/bn-relu-conv.ts); guided backpropagation keeps the three apart, since its ReLU has its own gradient.
 */
export function batchNormReluConvInContext(x: Act3d, vars: BnVars, name: string, weight: tf.Variable, ctx: ForwardContext): Act3d {
  const w = weight as tf.Tensor as tf.Tensor2D;
  if (ctx.guidedRelu) return conv3d(batchNormReluInContext(x, vars, name, ctx), w, { kernel: 1, stride: 1, padding: 0 });
  return collectStats(batchNormReluConv1x1(x, vars as never, w, ctx.training, undefined, ctx.recomputeMinBytes), name, ctx);
}

function normInContext(x: Act3d, vars: BnVars, name: string, ctx: ForwardContext, relu: boolean): Act3d {
  return collectStats(batchNormRelu3d(x, vars as never, ctx.training, relu), name, ctx);
}

/** Passes a batch norm's training statistics to `ctx.stats`, or frees them when nobody collects them. */
function collectStats({ y, stats }: { y: Act3d; stats: BatchStats | null }, name: string, ctx: ForwardContext): Act3d {
  if (stats) {
    if (ctx.stats) ctx.stats.set(name, stats);
    else tf.dispose([stats.mean, stats.varUnbiased]);
  }
  return y;
}

/** The DenseNet backbone: parameters and a forward function. */
export interface DenseNet3d {
  config: DenseNetConfig;
  /** Channels of the final feature map (1024 for DenseNet-121). */
  featureChannels: number;
  /** Runs the backbone up to the final batch norm (before its ReLU): [B*D', H', W', featureChannels]. */
  forward(x: Act3d, ctx: ForwardContext): Act3d;
}

/**
 * Builds a 3D DenseNet in MONAI's layout and naming (`<prefix>features.conv0.weight`,
 * `...denseblock1.denselayer1.layers.norm1.running_mean`, `...transition1.conv.weight`, `...norm5.bias`):
 * stem conv 7x7x7 stride 2 pad 3 (no bias) -> BN -> ReLU -> max pool 3 stride 2 pad 1; dense blocks of
 * BN-ReLU-conv1x1x1(bnSize*growth)-BN-ReLU-conv3x3x3(growth)-dropout, concatenated; transitions BN-ReLU-conv1x1x1
 * (half the channels)-avg pool 2; final BN. Convs Kaiming-normal, BN weight 1 and bias 0.
 */
export function buildDenseNet3d(store: ParamStore, config: Partial<DenseNetConfig> = {}, prefix = 'feature_extractor.'): DenseNet3d {
  const c: DenseNetConfig = { ...DENSENET121, ...config };
  const f = `${prefix}features.`;
  const conv0 = store.conv(`${f}conv0.weight`, 7, 1, c.initFeatures);
  const norm0 = store.batchNorm(`${f}norm0`, c.initFeatures);
  let channels = c.initFeatures;
  type Layer = { name: string; norm1: BnVars; conv1: tf.Variable; norm2: BnVars; conv2: tf.Variable; cin: number };
  type Transition = { name: string; norm: BnVars; conv: tf.Variable; cin: number; cout: number };
  const blocks: { layers: Layer[]; transition: Transition | null }[] = [];
  c.blocks.forEach((n, bi) => {
    const layers: Layer[] = [];
    for (let li = 0; li < n; li++) {
      const name = `${f}denseblock${bi + 1}.denselayer${li + 1}.layers.`;
      const mid = c.bnSize * c.growth;
      layers.push({
        name,
        cin: channels,
        norm1: store.batchNorm(`${name}norm1`, channels),
        conv1: store.conv(`${name}conv1.weight`, 1, channels, mid),
        norm2: store.batchNorm(`${name}norm2`, mid),
        conv2: store.conv(`${name}conv2.weight`, 3, mid, c.growth),
      });
      channels += c.growth;
    }
    let transition: Transition | null = null;
    if (bi < c.blocks.length - 1) {
      const name = `${f}transition${bi + 1}.`;
      const cout = Math.floor(channels / 2);
      transition = { name, cin: channels, cout, norm: store.batchNorm(`${name}norm`, channels), conv: store.conv(`${name}conv.weight`, 1, channels, cout) };
      channels = cout;
    }
    blocks.push({ layers, transition });
  });
  const norm5 = store.batchNorm(`${f}norm5`, channels);

  const forward = (x: Act3d, ctx: ForwardContext): Act3d => {
    let h = conv3d(x, conv0 as tf.Tensor as tf.Tensor2D, { kernel: 7, stride: 2, padding: 3, constantInput: !ctx.inputGradient });
    h = batchNormReluInContext(h, norm0, `${f}norm0`, ctx);
    h = maxPool3d(h, 3, 2, 1);
    for (const block of blocks) {
      for (const layer of block.layers) {
        let y = batchNormReluConvInContext(h, layer.norm1, `${layer.name}norm1`, layer.conv1, ctx);
        y = batchNormReluInContext(y, layer.norm2, `${layer.name}norm2`, ctx);
        y = conv3d(y, layer.conv2 as tf.Tensor as tf.Tensor2D, { kernel: 3, stride: 1, padding: 1 });
        if (ctx.training && c.dropout > 0 && ctx.dropoutMask) {
          y = channelDropout(y, c.dropout, ctx.dropoutMask(`${layer.name}dropout`, y.batch, c.growth, c.dropout));
        }
        h = concatChannels([h, y]);
      }
      const t = block.transition;
      if (t) {
        const conv = tapInContext(`${t.name.slice(f.length)}conv`, batchNormReluConvInContext(h, t.norm, `${t.name}norm`, t.conv, ctx), ctx);
        h = avgPool3d(conv, 2);
      }
    }
    return batchNormInContext(h, norm5, `${f}norm5`, ctx);
  };
  return { config: c, featureChannels: channels, forward };
}
