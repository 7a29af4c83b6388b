import { SeededRandom } from '../math/random';
import { Quirks, resizeArea, VolumeShape } from './preprocess';

/** Training augmentation settings; defaults are the paper's (paper.md, "Preprocessing", training only). */
export interface AugmentOptions {
  /** Probability of the random rotation; default 0.5. */
  rotateProbability?: number;
  /** Rotation about each of the 3 axes is uniform in +-this many degrees; default 5. */
  maxRotationDegrees?: number;
  /** Zoom factor followed by a centre crop back to the input size; default 1.1. */
  zoom?: number;
  /** Probability of the zoom when quirks are 'fixed' (with 'paper' the zoom is always applied); default 0.5. */
  zoomProbability?: number;
  /** Probability of additive Gaussian noise; default 0.5. */
  noiseProbability?: number;
  /** Noise standard deviation is uniform in [0, this); default 0.01. */
  maxNoiseStd?: number;
  quirks?: Quirks;
}

/** What was drawn for one volume, so a notebook can show it and a test can check it. */
export interface AugmentRecord {
  rotationDegrees: [number, number, number] | null;
  zoomed: boolean;
  noiseStd: number | null;
}

/**
 * Rotates a [d, h, w] volume about its centre in voxel space (angles in degrees about the depth, height and width
 * axes), sampling trilinearly with border padding (coordinates clamped to the volume), as MONAI's Rotate with
 * `padding_mode='border'`.
 */
export function rotateVolume(data: Float32Array, shape: VolumeShape, degrees: [number, number, number]): Float32Array {
  const [D, H, W] = shape;
  const [a, b, c] = degrees.map((g) => (g * Math.PI) / 180);
  // R = Rd(a) * Rh(b) * Rw(c); rows map output offsets (z, y, x) to source offsets via the transpose (inverse).
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b), Math.cos(c), Math.sin(c)];
  const rd = [
    [1, 0, 0],
    [0, ca, -sa],
    [0, sa, ca],
  ];
  const rh = [
    [cb, 0, sb],
    [0, 1, 0],
    [-sb, 0, cb],
  ];
  const rw = [
    [cc, -sc, 0],
    [sc, cc, 0],
    [0, 0, 1],
  ];
  const mul = (p: number[][], q: number[][]) => p.map((row) => [0, 1, 2].map((j) => row[0] * q[0][j] + row[1] * q[1][j] + row[2] * q[2][j]));
  const r = mul(mul(rd, rh), rw);
  const inv = [0, 1, 2].map((i) => [0, 1, 2].map((j) => r[j][i]));
  const [cz, cy, cx] = [(D - 1) / 2, (H - 1) / 2, (W - 1) / 2];
  const out = new Float32Array(D * H * W);
  const plane = H * W;
  for (let z = 0; z < D; z++) {
    const dz = z - cz;
    for (let y = 0; y < H; y++) {
      const dy = y - cy;
      const bz = inv[0][0] * dz + inv[0][1] * dy + cz;
      const by = inv[1][0] * dz + inv[1][1] * dy + cy;
      const bx = inv[2][0] * dz + inv[2][1] * dy + cx;
      let o = z * plane + y * W;
      for (let x = 0; x < W; x++, o++) {
        const dx = x - cx;
        let sz = bz + inv[0][2] * dx;
        let sy = by + inv[1][2] * dx;
        let sx = bx + inv[2][2] * dx;
        sz = sz < 0 ? 0 : sz > D - 1 ? D - 1 : sz;
        sy = sy < 0 ? 0 : sy > H - 1 ? H - 1 : sy;
        sx = sx < 0 ? 0 : sx > W - 1 ? W - 1 : sx;
        const z0 = Math.floor(sz);
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const z1 = z0 + 1 < D ? z0 + 1 : z0;
        const y1 = y0 + 1 < H ? y0 + 1 : y0;
        const x1 = x0 + 1 < W ? x0 + 1 : x0;
        const fz = sz - z0;
        const fy = sy - y0;
        const fx = sx - x0;
        const p00 = z0 * plane + y0 * W;
        const p01 = z0 * plane + y1 * W;
        const p10 = z1 * plane + y0 * W;
        const p11 = z1 * plane + y1 * W;
        const v00 = data[p00 + x0] + fx * (data[p00 + x1] - data[p00 + x0]);
        const v01 = data[p01 + x0] + fx * (data[p01 + x1] - data[p01 + x0]);
        const v10 = data[p10 + x0] + fx * (data[p10 + x1] - data[p10 + x0]);
        const v11 = data[p11 + x0] + fx * (data[p11 + x1] - data[p11 + x0]);
        const v0 = v00 + fy * (v01 - v00);
        const v1 = v10 + fy * (v11 - v10);
        out[o] = v0 + fz * (v1 - v0);
      }
    }
  }
  return out;
}

/**
 * Zooms a [d, h, w] volume by `factor` with area interpolation to floor(n * factor) per axis, then crops the centre
 * back to the input shape (start floor(excess / 2)), as MONAI's Zoom with keep_size.
 */
export function zoomCrop(data: Float32Array, shape: VolumeShape, factor: number): Float32Array {
  const big = shape.map((n) => Math.max(n, Math.floor(n * factor))) as VolumeShape;
  const zoomed = resizeArea(data, shape, big);
  const [D, H, W] = shape;
  const [, bh, bw] = big;
  const [oz, oy, ox] = [0, 1, 2].map((i) => Math.floor((big[i] - shape[i]) / 2));
  const out = new Float32Array(D * H * W);
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < H; y++) {
      const src = ((z + oz) * bh + (y + oy)) * bw + ox;
      out.set(zoomed.subarray(src, src + W), (z * H + y) * W);
    }
  }
  return out;
}

/**
 * The paper's training augmentation of one preprocessed volume, in its order: random rotation (p 0.5, +-5 deg about
 * each axis), the 1.1 zoom and centre crop (always, with quirks 'paper'), Gaussian noise (p 0.5, sigma ~ U(0, 0.01)).
 * Deterministic for the generator's state; the input is not modified.
 */
export function augmentVolume(
  data: Float32Array,
  shape: VolumeShape,
  rng: SeededRandom,
  options: AugmentOptions = {},
): { data: Float32Array; record: AugmentRecord } {
  const o = {
    rotateProbability: 0.5,
    maxRotationDegrees: 5,
    zoom: 1.1,
    zoomProbability: 0.5,
    noiseProbability: 0.5,
    maxNoiseStd: 0.01,
    quirks: 'paper' as Quirks,
    ...options,
  };
  let cur = data;
  const record: AugmentRecord = { rotationDegrees: null, zoomed: false, noiseStd: null };
  if (rng.chance(o.rotateProbability)) {
    const m = o.maxRotationDegrees;
    const degrees: [number, number, number] = [rng.between(-m, m), rng.between(-m, m), rng.between(-m, m)];
    cur = rotateVolume(cur, shape, degrees);
    record.rotationDegrees = degrees;
  }
  const zoomNow = o.quirks === 'paper' ? true : rng.chance(o.zoomProbability);
  if (zoomNow && o.zoom !== 1) {
    cur = zoomCrop(cur, shape, o.zoom);
    record.zoomed = true;
  }
  if (rng.chance(o.noiseProbability)) {
    const std = rng.between(0, o.maxNoiseStd);
    if (cur === data) cur = data.slice();
    for (let i = 0; i < cur.length; i++) cur[i] += std * rng.normal();
    record.noiseStd = std;
  }
  return { data: cur === data ? data.slice() : cur, record };
}
