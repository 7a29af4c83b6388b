/** DenseNet sizes as plain data (no TensorFlow.js import), shared by the profiles and the model builder. */

/** DenseNet 3D configuration; the defaults are MONAI's DenseNet-121 as the paper uses it (paper.md, "Models"). */
export interface DenseNetConfig {
  /** Dense layers per block; default [6, 12, 24, 16]. */
  blocks: number[];
  /** Channels each dense layer adds; default 32. */
  growth: number;
  /** Channels of the stem convolution; default 64. */
  initFeatures: number;
  /** Bottleneck width = bnSize * growth; default 4. */
  bnSize: number;
  /** Channel dropout after each dense layer; default 0.2. */
  dropout: number;
}

/** MONAI DenseNet-121 3D. */
export const DENSENET121: DenseNetConfig = { blocks: [6, 12, 24, 16], growth: 32, initFeatures: 64, bnSize: 4, dropout: 0.2 };

