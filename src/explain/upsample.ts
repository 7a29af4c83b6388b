import { VolumeShape } from '../data/preprocess';

/** Source index and weight of each output position along one axis, half-pixel centres (align_corners=False). */
function axisWeights(input: number, output: number): { i0: Int32Array; i1: Int32Array; w1: Float32Array } {
  const scale = input / output;
  const i0 = new Int32Array(output);
  const i1 = new Int32Array(output);
  const w1 = new Float32Array(output);
  for (let o = 0; o < output; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), input - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, input - 1);
    w1[o] = src - lo;
  }
  return { i0, i1, w1 };
}

/**
 * Trilinear resize of a [depth, height, width] volume, equal to PyTorch's
 * `F.interpolate(x, size, mode='trilinear', align_corners=False)` (Grad-CAM's upsampling to the input, paper.md
 * "Saliency"): separable linear interpolation with half-pixel centres, source coordinates clamped at 0.
 */
export function upsampleTrilinear(data: Float32Array, shape: VolumeShape, size: VolumeShape): Float32Array {
  const [d, h, w] = shape;
  if (data.length !== d * h * w) throw new Error(`upsample input expected ${d * h * w} values for [${shape.join(', ')}], got ${data.length}`);
  const [D, H, W] = size;
  const az = axisWeights(d, D);
  const ay = axisWeights(h, H);
  const ax = axisWeights(w, W);
  const out = new Float32Array(D * H * W);
  for (let z = 0; z < D; z++) {
    const z0 = az.i0[z] * h * w;
    const z1 = az.i1[z] * h * w;
    const wz = az.w1[z];
    for (let y = 0; y < H; y++) {
      const y0 = ay.i0[y] * w;
      const y1 = ay.i1[y] * w;
      const wy = ay.w1[y];
      const o = (z * H + y) * W;
      for (let x = 0; x < W; x++) {
        const x0 = ax.i0[x];
        const x1 = ax.i1[x];
        const wx = ax.w1[x];
        const lerp = (base: number) => (1 - wx) * data[base + x0] + wx * data[base + x1];
        const front = (1 - wy) * lerp(z0 + y0) + wy * lerp(z0 + y1);
        const back = (1 - wy) * lerp(z1 + y0) + wy * lerp(z1 + y1);
        out[o + x] = (1 - wz) * front + wz * back;
      }
    }
  }
  return out;
}
