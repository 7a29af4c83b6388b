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

/** Width pass of the area resize: each row of `w0` values becomes `w1` box means (`rows` rows). */
function resizeRows(src: Float32Array, rows: number, w0: number, w1: number, out: Float32Array, outOffset = 0): void {
  const { start, end } = areaBins(w0, w1);
  const inv = new Float32Array(w1);
  for (let i = 0; i < w1; i++) inv[i] = 1 / (end[i] - start[i]);
  for (let r = 0; r < rows; r++) {
    const s0 = r * w0;
    const d0 = outOffset + r * w1;
    for (let i = 0; i < w1; i++) {
      let sum = 0;
      for (let k = s0 + start[i], e = s0 + end[i]; k < e; k++) sum += src[k];
      out[d0 + i] = sum * inv[i];
    }
  }
}

/** Height pass: for each of `planes` planes, `h0` rows of width `w` become `h1` box means, written at `outOffset`. */
function resizeColumns(src: Float32Array, planes: number, h0: number, h1: number, w: number, out: Float32Array, outOffset = 0): void {
  const { start, end } = areaBins(h0, h1);
  const acc = new Float64Array(w);
  for (let z = 0; z < planes; z++) {
    for (let i = 0; i < h1; i++) {
      acc.fill(0);
      for (let k = start[i]; k < end[i]; k++) {
        const s0 = (z * h0 + k) * w;
        for (let x = 0; x < w; x++) acc[x] += src[s0 + x];
      }
      const inv = 1 / (end[i] - start[i]);
      const d0 = outOffset + (z * h1 + i) * w;
      for (let x = 0; x < w; x++) out[d0 + x] = acc[x] * inv;
    }
  }
}

/** Depth pass: `d0` planes of `plane` values become `d1` box means. */
function resizeDepth(src: Float32Array, d0: number, d1: number, plane: number): Float32Array {
  const { start, end } = areaBins(d0, d1);
  const out = new Float32Array(d1 * plane);
  const acc = new Float64Array(plane);
  for (let i = 0; i < d1; i++) {
    acc.fill(0);
    for (let k = start[i]; k < end[i]; k++) {
      const s0 = k * plane;
      for (let p = 0; p < plane; p++) acc[p] += src[s0 + p];
    }
    const inv = 1 / (end[i] - start[i]);
    const o = i * plane;
    for (let p = 0; p < plane; p++) out[o + p] = acc[p] * inv;
  }
  return out;
}

/**
 * Resizes a [d, h, w] volume by area interpolation (PyTorch `interpolate(mode='area')` = adaptive average pooling,
 * paper step 4). The box mean is separable, so it runs as three 1D passes (width, height, depth), accumulating
 * heights and depths in double precision.
 */
export function resizeArea(data: Float32Array, shape: VolumeShape, size: VolumeShape): Float32Array {
  const [d0, h0, w0] = shape;
  const [d1, h1, w1] = size;
  if (data.length !== d0 * h0 * w0) throw new Error(`resizeArea expected ${d0 * h0 * w0} voxels for shape [${shape.join(', ')}], got ${data.length}`);
  let cur = data;
  if (w1 !== w0) {
    const out = new Float32Array(d0 * h0 * w1);
    resizeRows(cur, d0 * h0, w0, w1, out);
    cur = out;
  }
  if (h1 !== h0) {
    const out = new Float32Array(d0 * h1 * w1);
    resizeColumns(cur, d0, h0, h1, w1, out);
    cur = out;
  }
  if (d1 !== d0) cur = resizeDepth(cur, d0, d1, h1 * w1);
  return cur === data ? data.slice() : cur;
}

/** A volume as the network sees it before augmentation: [depth, height, width] values in [0, 1]. */
export interface PreprocessedVolume {
  data: Float32Array;
  shape: VolumeShape;
  /** Which intensity rule was applied ('hu' windowed, or 'unit' taken as is). */
  intensity: 'hu' | 'unit';
}

/** The window as a function of one stored value (scaling included), shared by both preprocessing paths. */
function windowOf(o: Required<PreprocessOptions>, slope: number, intercept: number): (raw: number) => number {
  const inv = 1 / o.windowWidth;
  const low = o.windowLow;
  return o.quirks === 'paper'
    ? (r) => {
        const x = (r * slope + intercept - low) * inv;
        return x > 0 && x < 1 ? x : 0;
      }
    : (r) => {
        const x = (r * slope + intercept - low) * inv;
        return x <= 0 ? 0 : x >= 1 ? 1 : x;
      };
}

/**
 * Fast path for 8- and 16-bit scans (CT is int16): the window becomes a lookup table over every stored value, and
 * one pass per output row sums the input rows of its height box through the table, then the width boxes, writing
 * straight into the zero-padded depth stack.
 */
function windowAndResizeInPlane(
  raw: Int16Array | Uint16Array | Uint8Array | Int8Array,
  dims: [number, number, number],
  window: (raw: number) => number,
  h1: number,
  w1: number,
  out: Float32Array,
  outOffset: number,
): void {
  const [nx, ny, nz] = dims;
  const signed = raw instanceof Int16Array || raw instanceof Int8Array;
  const span = raw instanceof Uint8Array || raw instanceof Int8Array ? 256 : 65536;
  const base = signed ? span / 2 : 0;
  const lut = new Float32Array(span);
  for (let i = 0; i < span; i++) lut[i] = window(i - base);
  const rows = areaBins(ny, h1);
  const cols = areaBins(nx, w1);
  const colInv = new Float32Array(w1);
  for (let i = 0; i < w1; i++) colInv[i] = 1 / (cols.end[i] - cols.start[i]);
  const line = new Float64Array(nx);
  for (let z = 0; z < nz; z++) {
    for (let i = 0; i < h1; i++) {
      line.fill(0);
      for (let k = rows.start[i]; k < rows.end[i]; k++) {
        const s0 = (z * ny + k) * nx;
        for (let x = 0; x < nx; x++) line[x] += lut[raw[s0 + x] + base];
      }
      const rowInv = 1 / (rows.end[i] - rows.start[i]);
      const d0 = outOffset + (z * h1 + i) * w1;
      for (let j = 0; j < w1; j++) {
        let sum = 0;
        for (let x = cols.start[j], e = cols.end[j]; x < e; x++) sum += line[x];
        out[d0 + j] = sum * rowInv * colInv[j];
      }
    }
  }
}

/**
 * The paper's preprocessing of one scan (paper.md, "Preprocessing"): orientation (the NIfTI voxel order already
 * is [depth = z][height = y][width = x]), HU window with zeroing, symmetric depth padding to 40, area resize to
 * `size`. Output float32 [depth, height, width].
 *
 * Fused for speed (bench/preprocess.ts): the in-plane resize writes straight into the zero-padded depth stack, so
 * padding costs no copy; 8- and 16-bit scans go through a window lookup table in one pass.
 * @throws naming the file when the scan holds NaN or infinite voxels.
 */
export function preprocessVolume(volume: Volume, options: PreprocessOptions = {}): PreprocessedVolume {
  const o = resolvePreprocessOptions(options);
  const [nx, ny, nz] = volume.dims;
  const { raw, slope, intercept } = volume;
  const n = raw.length;
  let intensity: 'hu' | 'unit';
  const integer = !(raw instanceof Float32Array || raw instanceof Float64Array);
  if (integer && Number.isFinite(slope) && Number.isFinite(intercept)) {
    if (o.intensity === 'auto') {
      let allUnit = true;
      for (let i = 0; i < n && allUnit; i++) {
        const v = raw[i] * slope + intercept;
        if (v < 0 || v > 1) allUnit = false;
      }
      intensity = allUnit ? 'unit' : 'hu';
    } else {
      intensity = o.intensity;
    }
  } else {
    let bad = 0;
    let allUnit = true;
    for (let i = 0; i < n; i++) {
      const v = raw[i] * slope + intercept;
      if (v !== v || v === Infinity || v === -Infinity) bad++;
      else if (v < 0 || v > 1) allUnit = false;
    }
    if (bad > 0) throw new Error(`voxel values expected finite numbers, got ${bad} NaN or infinite voxels (${volume.source})`);
    intensity = o.intensity === 'auto' ? (allUnit ? 'unit' : 'hu') : o.intensity;
  }
  const window = intensity === 'hu' ? windowOf(o, slope, intercept) : (r: number) => r * slope + intercept;
  const [d1, h1, w1] = o.size;
  const depth = Math.max(nz, o.padDepth);
  const before = Math.floor((depth - nz) / 2);
  const stack = new Float32Array(depth * h1 * w1);
  if (raw instanceof Int16Array || raw instanceof Uint16Array || raw instanceof Uint8Array || raw instanceof Int8Array) {
    windowAndResizeInPlane(raw, volume.dims, window, h1, w1, stack, before * h1 * w1);
  } else {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = window(raw[i]);
    let rows = values;
    if (w1 !== nx) {
      rows = new Float32Array(nz * ny * w1);
      resizeRows(values, nz * ny, nx, w1, rows);
    }
    if (h1 !== ny) resizeColumns(rows, nz, ny, h1, w1, stack, before * h1 * w1);
    else stack.set(rows.subarray(0, nz * ny * w1), before * h1 * w1);
  }
  const data = d1 === depth ? stack : resizeDepth(stack, depth, d1, h1 * w1);
  return { data, shape: o.size, intensity };
}
