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


/** One convolution of a DenseNet as sizes: NDHWC input, kernel, stride, padding (PyTorch's), and how often it occurs. */
export interface DenseNetConvLayer {
  /** Where it sits, e.g. "block2.3x3" or "transition1". */
  name: string;
  /** Input [B, D, H, W, Cin] and output channels. */
  input: [number, number, number, number, number];
  cout: number;
  kernel: number;
  stride: number;
  padding: number;
  /** Layers of the network with these sizes (the 3x3 convs of a block share them; each 1x1 has its own width). */
  count: number;
}

/** One dense block's place in the network: its resolution D x H x W, input channels and dense layers. */
export interface DenseNetBlockGeometry {
  dims: [number, number, number];
  channels: number;
  layers: number;
}

/**
 * Where a DenseNet's stages sit at an input size (PyTorch's floor rule): the stem convolution's output (7x7x7, stride
 * 2, padding 3) and each dense block after the stem's max pool (3, stride 2, padding 1) and the transitions, which halve
 * the resolution and the channels (a block's output is its input channels + layers x growth).
 */
export function denseNetGeometry(c: DenseNetConfig, input: [number, number, number]): { stem: [number, number, number]; blocks: DenseNetBlockGeometry[] } {
  const out = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  const stem = input.map((n) => out(n, 7, 2, 3)) as [number, number, number];
  let dims = stem.map((n) => out(n, 3, 2, 1)) as [number, number, number];
  let channels = c.initFeatures;
  const blocks = c.blocks.map((layers) => {
    const block = { dims, channels, layers };
    channels = Math.floor((channels + layers * c.growth) / 2);
    dims = dims.map((d) => Math.floor(d / 2)) as [number, number, number];
    return block;
  });
  return { stem, blocks };
}

/**
 * The convolutions of a DenseNet at an input size (paper.md: 40 x 301 x 301), with their repetitions: the stem
 * (7x7x7, stride 2), per block the first and last 1x1 bottleneck (Cin grows by `growth` per layer) standing for the
 * block's 1x1 convs (`count` holds the layers each stands for), the block's 3x3 convs, and the transitions, at the
 * resolutions of {@link denseNetGeometry}.
 */
export function denseNetConvLayers(c: DenseNetConfig, input: [number, number, number], batch: number): DenseNetConvLayer[] {
  const layers: DenseNetConvLayer[] = [{ name: 'stem', input: [batch, ...input, 1] as DenseNetConvLayer['input'], cout: c.initFeatures, kernel: 7, stride: 2, padding: 3, count: 1 }];
  const bottleneck = c.bnSize * c.growth;
  const { blocks } = denseNetGeometry(c, input);
  blocks.forEach(({ dims, channels, layers: n }, bi) => {
    const at = (ch: number) => [batch, ...dims, ch] as DenseNetConvLayer['input'];
    const half = Math.ceil(n / 2);
    layers.push({ name: `block${bi + 1}.1x1.first`, input: at(channels), cout: bottleneck, kernel: 1, stride: 1, padding: 0, count: half });
    layers.push({ name: `block${bi + 1}.1x1.last`, input: at(channels + (n - 1) * c.growth), cout: bottleneck, kernel: 1, stride: 1, padding: 0, count: n - half });
    layers.push({ name: `block${bi + 1}.3x3`, input: at(bottleneck), cout: c.growth, kernel: 3, stride: 1, padding: 1, count: n });
    const end = channels + n * c.growth;
    if (bi < blocks.length - 1) {
      layers.push({ name: `transition${bi + 1}`, input: at(end), cout: Math.floor(end / 2), kernel: 1, stride: 1, padding: 0, count: 1 });
    }
  });
  return layers;
}
