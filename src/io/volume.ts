/** The in-memory form of a 3D scan shared by the NIfTI and NPY readers. */

/** Voxel storage types the readers accept (NIfTI datatype codes 2, 256, 4, 512, 8, 16, 64; NPY u1, i2, f4, f8). */
export type VoxelType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'float32' | 'float64';

/** A typed array holding raw voxels in native byte order. */
export type RawVoxels = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;

/**
 * A 3D volume as stored: `raw[x + nx * (y + ny * z)]` (x fastest, NIfTI order; z is the slice axis), with the
 * linear scaling `value = raw * slope + intercept` still to apply (slope 1, intercept 0 when the file has none).
 */
export interface Volume {
  /** The file it came from, for messages. */
  source: string;
  /** 'nifti1' | 'nifti2' | 'npy', or 'dicom' for a series stacked by data/dicom-series. */
  format: 'nifti1' | 'nifti2' | 'npy' | 'dicom';
  /** [nx, ny, nz] voxels. */
  dims: [number, number, number];
  voxelType: VoxelType;
  /** Voxel size in mm, [dx, dy, dz] (1 mm when the format has none). */
  voxelSize: [number, number, number];
  /** Voxel-to-world 4x4 matrix (mm), rows. */
  affine: number[][];
  raw: RawVoxels;
  slope: number;
  intercept: number;
  /** Free text of the file (NIfTI `descrip`, e.g. the scanner), '' when none. */
  description?: string;
}

/** Voxel values after scaling, as float32 (e.g. HU for CT); same layout as `raw`. */
export function volumeValues(volume: Volume): Float32Array {
  const { raw, slope, intercept } = volume;
  if (raw instanceof Float32Array && slope === 1 && intercept === 0) return raw;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] * slope + intercept;
  return out;
}

/** Summary statistics of a volume's scaled values, in double precision over every voxel. */
export interface VolumeStatistics {
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation (ddof 0, as NumPy's `std`). */
  std: number;
  /** Voxels that are NaN or infinite; the other statistics are over the finite ones. */
  nonFinite: number;
  voxels: number;
}

/** Min, max, mean and standard deviation of the scaled voxel values (Welford, so large volumes stay exact). */
export function volumeStatistics(volume: Volume): VolumeStatistics {
  const { raw, slope, intercept } = volume;
  let min = Infinity;
  let max = -Infinity;
  let mean = 0;
  let m2 = 0;
  let n = 0;
  let nonFinite = 0;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i] * slope + intercept;
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  return {
    min: n ? min : NaN,
    max: n ? max : NaN,
    mean: n ? mean : NaN,
    std: n ? Math.sqrt(m2 / n) : NaN,
    nonFinite,
    voxels: raw.length,
  };
}

/** Bytes per voxel of each type. */
export const VOXEL_BYTES: Record<VoxelType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  float32: 4,
  float64: 8,
};

/** Allocates a typed array of a voxel type. */
export function allocateVoxels(type: VoxelType, length: number): RawVoxels {
  switch (type) {
    case 'uint8':
      return new Uint8Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
  }
}

/**
 * Decodes voxels from bytes in either byte order into a native typed array.
 * @param bytes exactly `length * VOXEL_BYTES[type]` bytes.
 */
export function decodeVoxels(bytes: Uint8Array, type: VoxelType, length: number, littleEndian: boolean): RawVoxels {
  const size = VOXEL_BYTES[type];
  const out = allocateVoxels(type, length);
  const nativeLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (size === 1 || littleEndian === nativeLittle) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, length * size));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, length * size);
  const le = littleEndian;
  switch (type) {
    case 'int16':
      for (let i = 0; i < length; i++) out[i] = view.getInt16(i * 2, le);
      break;
    case 'uint16':
      for (let i = 0; i < length; i++) out[i] = view.getUint16(i * 2, le);
      break;
    case 'int32':
      for (let i = 0; i < length; i++) out[i] = view.getInt32(i * 4, le);
      break;
    case 'float32':
      for (let i = 0; i < length; i++) out[i] = view.getFloat32(i * 4, le);
      break;
    case 'float64':
      for (let i = 0; i < length; i++) out[i] = view.getFloat64(i * 8, le);
      break;
    default:
      break;
  }
  return out;
}

/** The voxel type of a typed array. */
export function voxelTypeOf(raw: RawVoxels): VoxelType {
  if (raw instanceof Uint8Array) return 'uint8';
  if (raw instanceof Int8Array) return 'int8';
  if (raw instanceof Int16Array) return 'int16';
  if (raw instanceof Uint16Array) return 'uint16';
  if (raw instanceof Int32Array) return 'int32';
  if (raw instanceof Float32Array) return 'float32';
  return 'float64';
}
