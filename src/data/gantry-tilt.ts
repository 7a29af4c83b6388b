/**
 * Gantry-tilt correction: a CT stack acquired with a tilted gantry has planes that are not perpendicular to the line
 * joining them, so its affine is sheared and each slice sits shifted against the one below. Resampling each slice by
 * that shift puts the stack on a grid of planes perpendicular to it, which is what dcm2niix writes as its
 * `_Tilt_1` file and what the paper's preprocessing (resize to 301 x 301 in-plane, 40 slices) assumes.
 */
import { allocateVoxels, Volume } from '../io/volume';
import { dot3 } from '../math/vec3';
import { DicomVolume, gantryTiltLabel } from './dicom-series';

/** A volume on planes perpendicular to its stack, and how it was moved there. */
export interface TiltCorrection {
  volume: Volume;
  /** Voxels each slice was shifted by along [i, j] (columns, rows) per slice index. */
  shiftPerSlice: [number, number];
  /** Columns and rows added so that every slice fits whole: ceil(|shift| x (slices - 1)). */
  added: [number, number];
}

const column = (affine: number[][], c: number) => [affine[0][c], affine[1][c], affine[2][c]];

/** Integer range of each stored voxel type, for rounding interpolated values back to it. */
const INTEGER_RANGE: Partial<Record<Volume['voxelType'], [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
};

/**
 * Resamples a stack whose affine is sheared (third column not perpendicular to the first two) onto planes
 * perpendicular to it, as dcm2niix 1.0.20220720 does for gantry tilt (voxels and axes checked against its
 * `out_Tilt_1.nii`, read by nibabel; its origin is not where its voxels lie, so the origin here is checked against
 * the slices' ImagePositionPatient instead): slice k moves in-plane by k times the in-plane part of the slice step,
 * so one end slice stays where it was (the first for a positive shift, the last for a negative one) and the others are
 * interpolated linearly (bilinearly when the step also has a part along the rows, which a true gantry tilt has not).
 * Rows and columns are added so every slice fits. Outside the acquired plane the value is the volume's minimum; as in
 * dcm2niix, a position past the last row or column by less than one voxel takes that row's value. Integer voxels are
 * rounded back to their type, so scaling (slope, intercept) is kept.
 * The new affine keeps the in-plane columns, has the slice spacing along the plane normal as its third column and
 * moves the origin onto the grid's first corner: unchanged for a positive shift, by the whole stack's shift for a
 * negative one. A stack that is not sheared (by less than 0.001 voxel over the
 * whole stack) comes back unchanged.
 * @throws when the affine's first two columns are not perpendicular (an oblique pixel grid is not a gantry tilt).
 */
export function correctGantryTilt(volume: Volume): TiltCorrection {
  const [nx, ny, nz] = volume.dims;
  const ei = column(volume.affine, 0);
  const ej = column(volume.affine, 1);
  const ek = column(volume.affine, 2);
  const ii = dot3(ei, ei);
  const jj = dot3(ej, ej);
  if (!(ii > 0 && jj > 0) || Math.abs(dot3(ei, ej)) > 1e-4 * Math.sqrt(ii * jj)) {
    throw new Error(`affine expected perpendicular in-plane axes for a gantry-tilt correction, got i ${ei.map((v) => v.toFixed(4))} and j ${ej.map((v) => v.toFixed(4))} (${volume.source})`);
  }
  const a = dot3(ek, ei) / ii;
  const b = dot3(ek, ej) / jj;
  if (nz < 2 || (Math.abs(a) * (nz - 1) < 1e-3 && Math.abs(b) * (nz - 1) < 1e-3)) return { volume, shiftPerSlice: [0, 0], added: [0, 0] };
  // ek minus its in-plane part: the slice spacing along the normal, in the stack's direction.
  const normal = [0, 1, 2].map((r) => ek[r] - a * ei[r] - b * ej[r]);
  const grow = (s: number) => Math.max(0, Math.ceil(Math.abs(s) * (nz - 1) - 1e-6));
  const added: [number, number] = [grow(a), grow(b)];
  const [mx, my] = [nx + added[0], ny + added[1]];
  // Voxel (i', j', k) of the result samples (i' + i0 - k a, j' + j0 - k b) of slice k.
  const i0 = Math.min(0, a * (nz - 1));
  const j0 = Math.min(0, b * (nz - 1));
  const raw = volume.raw;
  let fill = Infinity;
  for (let v = 0; v < raw.length; v++) if (raw[v] < fill) fill = raw[v];
  const range = INTEGER_RANGE[volume.voxelType];
  const out = allocateVoxels(volume.voxelType, mx * my * nz);
  // Per axis: the lower index and weight of each output position, or -1 outside (dcm2niix's edge rule).
  const taps = (size: number, length: number, start: number) => {
    const lower = new Int32Array(length);
    const weight = new Float64Array(lower.length);
    for (let o = 0; o < lower.length; o++) {
      const p = o + start;
      const f = Math.floor(p + 1e-9);
      lower[o] = f < 0 || f >= size ? -1 : f;
      weight[o] = Math.max(0, p - f);
    }
    return { lower, weight };
  };
  for (let k = 0; k < nz; k++) {
    const ti = taps(nx, mx, i0 - k * a);
    const tj = taps(ny, my, j0 - k * b);
    const src = k * nx * ny;
    const dst = k * mx * my;
    for (let y = 0; y < my; y++) {
      const y0 = tj.lower[y];
      const wy = tj.weight[y];
      const y1 = Math.min(y0 + 1, ny - 1);
      for (let x = 0; x < mx; x++) {
        const x0 = ti.lower[x];
        let value = fill;
        if (x0 >= 0 && y0 >= 0) {
          const wx = ti.weight[x];
          const x1 = Math.min(x0 + 1, nx - 1);
          const r0 = src + y0 * nx;
          const r1 = src + y1 * nx;
          const low = raw[r0 + x0] + wx * (raw[r0 + x1] - raw[r0 + x0]);
          const high = raw[r1 + x0] + wx * (raw[r1 + x1] - raw[r1 + x0]);
          value = low + wy * (high - low);
        }
        out[dst + y * mx + x] = range ? Math.min(range[1], Math.max(range[0], Math.round(value))) : value;
      }
    }
  }
  const affine = volume.affine.map((row, r) => (r < 3 ? [row[0], row[1], normal[r], row[3] + i0 * ei[r] + j0 * ej[r]] : [...row]));
  const spacing = Math.sqrt(dot3(normal, normal));
  return {
    volume: { ...volume, dims: [mx, my, nz], raw: out, affine, voxelSize: [volume.voxelSize[0], volume.voxelSize[1], spacing] },
    shiftPerSlice: [a, b],
    added,
  };
}

/**
 * A stacked DICOM series with its gantry tilt resampled away ({@link correctGantryTilt}; `ich import-dicom` and
 * `ich volume info` by default) or, with `keep`, left as acquired with its sheared affine (`--keep-tilt`), and its
 * tilt warning saying which. A series without tilt comes back as it is.
 */
export function resolveGantryTilt(assembled: DicomVolume, keep = false): DicomVolume {
  if (assembled.tiltDegrees <= 0.01) return assembled;
  const tilt = gantryTiltLabel(assembled.tiltDegrees);
  const others = assembled.warnings.filter((w) => !w.startsWith(tilt));
  if (keep) return { ...assembled, warnings: [`${tilt}: voxels kept as acquired (--keep-tilt), the affine is sheared`, ...others] };
  const { volume, added, shiftPerSlice } = correctGantryTilt(assembled.volume);
  const moved = shiftPerSlice.map((s) => Math.abs(s).toFixed(3));
  const grown = `${added[0] ? `${assembled.volume.dims[0]} -> ${volume.dims[0]} columns, ` : ''}${assembled.volume.dims[1]} -> ${volume.dims[1]} rows`;
  return {
    ...assembled,
    volume,
    warnings: [`${tilt}: resampled onto planes perpendicular to the stack (slices shifted by ${shiftPerSlice[0] ? `${moved[0]} columns and ` : ''}${moved[1]} rows each, ${grown})`, ...others],
  };
}
