import { Volume, volumeValues } from '../io/volume';

/** Shape of a preprocessed volume: [depth, height, width] voxels. */
export type VolumeShape = [number, number, number];

/**
 * 'paper' reproduces the authors' two quirks (HU above the window set to 0; the 1.1 zoom on every training volume);
 * 'fixed' clips to the window instead and applies the zoom with its probability.
 */
export type Quirks = 'paper' | 'fixed';

/**
 * How intensities are read: 'hu' windows Hounsfield units (NIfTI scans); 'unit' takes values already in [0, 1]
 * (preprocessed .npy files); 'auto' picks 'unit' when every value lies in [0, 1], else 'hu'.
 */
export type IntensityMode = 'auto' | 'hu' | 'unit';

/** Preprocessing settings; the defaults are the paper's (paper.md, "Preprocessing"). */
export interface PreprocessOptions {
  /** Output [depth, height, width]; default [40, 301, 301]. */
  size?: VolumeShape;
  /** Slices the depth axis is zero-padded to before resizing; default 40. */
  padDepth?: number;
  quirks?: Quirks;
  intensity?: IntensityMode;
  /** Window lower bound in HU; default 15. */
  windowLow?: number;
  /** Window width in HU; default 85 (so the window is 15-100 HU). */
  windowWidth?: number;
}

/** The paper's preprocessing settings with every default filled in. */
export function resolvePreprocessOptions(options: PreprocessOptions = {}): Required<PreprocessOptions> {
  const size = options.size ?? [40, 301, 301];
  if (size.length !== 3 || size.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new Error(`preprocess size expected three positive integers [depth, height, width], got [${size.join(', ')}]`);
  }
  return {
    size,
    padDepth: options.padDepth ?? 40,
    quirks: options.quirks ?? 'paper',
    intensity: options.intensity ?? 'auto',
    windowLow: options.windowLow ?? 15,
    windowWidth: options.windowWidth ?? 85,
  };
}

/**
 * Windows HU to [0, 1]: x' = (HU - low) / width (paper step 2). With quirks 'paper', voxels with x' <= 0 or
 * x' >= 1 become 0 (so blood above 100 HU and bone vanish); with 'fixed' they are clipped to 0 and 1.
 * Writes into `out` (may be `values` itself).
 */
export function windowHounsfield(
  values: Float32Array,
  quirks: Quirks = 'paper',
  low = 15,
  width = 85,
  out: Float32Array = new Float32Array(values.length),
): Float32Array {
  const inv = 1 / width;
  if (quirks === 'paper') {
    for (let i = 0; i < values.length; i++) {
      const x = (values[i] - low) * inv;
      out[i] = x > 0 && x < 1 ? x : 0;
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      const x = (values[i] - low) * inv;
      out[i] = x <= 0 ? 0 : x >= 1 ? 1 : x;
    }
  }
  return out;
}

/**
 * Zero-pads the depth axis symmetrically to `depth` slices, floor(missing / 2) before (paper step 3, MONAI
 * SpatialPad); volumes already that deep or deeper are returned unchanged (longer scans are not cut).
 * @param data [d, h, w] C order.
 */
export function padDepthSymmetric(data: Float32Array, shape: VolumeShape, depth: number): { data: Float32Array; shape: VolumeShape } {
  const [d, h, w] = shape;
  if (d >= depth) return { data, shape };
  const before = Math.floor((depth - d) / 2);
  const out = new Float32Array(depth * h * w);
  out.set(data, before * h * w);
  return { data: out, shape: [depth, h, w] };
}

/** Index ranges of adaptive average pooling: output i averages input [floor(i*n/m), ceil((i+1)*n/m)). */
export function areaBins(input: number, output: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(output);
  const end = new Int32Array(output);
  for (let i = 0; i < output; i++) {
    start[i] = Math.floor((i * input) / output);
    end[i] = Math.ceil(((i + 1) * input) / output);
  }
  return { start, end };
}

/**
 * Resizes a [d, h, w] volume by area interpolation (PyTorch `interpolate(mode='area')` = adaptive average pooling,
 * paper step 4). The box mean is separable, so it runs as three 1D passes (largest reduction first), accumulating in
 * double precision.
 */
export function resizeArea(data: Float32Array, shape: VolumeShape, size: VolumeShape): Float32Array {
  const [d0, h0, w0] = shape;
  const [d1, h1, w1] = size;
  if (data.length !== d0 * h0 * w0) throw new Error(`resizeArea expected ${d0 * h0 * w0} voxels for shape [${shape.join(', ')}], got ${data.length}`);
  let cur = data;
  // Width pass: rows are contiguous.
  if (w1 !== w0) {
    const { start, end } = areaBins(w0, w1);
    const rows = d0 * h0;
    const out = new Float32Array(rows * w1);
    for (let r = 0; r < rows; r++) {
      const src = r * w0;
      const dst = r * w1;
      for (let i = 0; i < w1; i++) {
        let s = 0;
        for (let k = start[i]; k < end[i]; k++) s += cur[src + k];
        out[dst + i] = s / (end[i] - start[i]);
      }
    }
    cur = out;
  }
  // Height pass: add whole rows of width w1.
  if (h1 !== h0) {
    const { start, end } = areaBins(h0, h1);
    const out = new Float32Array(d0 * h1 * w1);
    const acc = new Float64Array(w1);
    for (let z = 0; z < d0; z++) {
      for (let i = 0; i < h1; i++) {
        acc.fill(0);
        for (let k = start[i]; k < end[i]; k++) {
          const src = (z * h0 + k) * w1;
          for (let x = 0; x < w1; x++) acc[x] += cur[src + x];
        }
        const inv = 1 / (end[i] - start[i]);
        const dst = (z * h1 + i) * w1;
        for (let x = 0; x < w1; x++) out[dst + x] = acc[x] * inv;
      }
    }
    cur = out;
  }
  // Depth pass: add whole planes.
  if (d1 !== d0) {
    const { start, end } = areaBins(d0, d1);
    const plane = h1 * w1;
    const out = new Float32Array(d1 * plane);
    const acc = new Float64Array(plane);
    for (let i = 0; i < d1; i++) {
      acc.fill(0);
      for (let k = start[i]; k < end[i]; k++) {
        const src = k * plane;
        for (let p = 0; p < plane; p++) acc[p] += cur[src + p];
      }
      const inv = 1 / (end[i] - start[i]);
      const dst = i * plane;
      for (let p = 0; p < plane; p++) out[dst + p] = acc[p] * inv;
    }
    cur = out;
  }
  return cur === data ? data.slice() : cur;
}

/** A volume as the network sees it before augmentation: [depth, height, width] values in [0, 1]. */
export interface PreprocessedVolume {
  data: Float32Array;
  shape: VolumeShape;
  /** Which intensity rule was applied ('hu' windowed, or 'unit' taken as is). */
  intensity: 'hu' | 'unit';
}

/**
 * The paper's preprocessing of one scan (paper.md, "Preprocessing"): orientation (the NIfTI voxel order already
 * is [depth = z][height = y][width = x]), HU window with zeroing, symmetric depth padding to 40, area resize to
 * `size`. Output float32 [depth, height, width].
 * @throws naming the file when the scan holds NaN or infinite voxels.
 */
export function preprocessVolume(volume: Volume, options: PreprocessOptions = {}): PreprocessedVolume {
  const o = resolvePreprocessOptions(options);
  const [nx, ny, nz] = volume.dims;
  const values = volumeValues(volume);
  let bad = 0;
  let allUnit = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) bad++;
    else if (v < 0 || v > 1) allUnit = false;
  }
  if (bad > 0) throw new Error(`voxel values expected finite numbers, got ${bad} NaN or infinite voxels (${volume.source})`);
  const intensity = o.intensity === 'auto' ? (allUnit ? 'unit' : 'hu') : o.intensity;
  const windowed = intensity === 'hu' ? windowHounsfield(values, o.quirks, o.windowLow, o.windowWidth) : Float32Array.from(values);
  const padded = padDepthSymmetric(windowed, [nz, ny, nx], o.padDepth);
  const data = resizeArea(padded.data, padded.shape, o.size);
  return { data, shape: o.size, intensity };
}
