import * as fs from 'node:fs';
import { writeFileAtomic } from './atomic';
import { decodeVoxels, RawVoxels, VOXEL_BYTES, VoxelType, voxelTypeOf } from './volume';

/** An N-dimensional array from a .npy file, in C order (last axis fastest) whatever the file's order was. */
export interface NpyArray {
  shape: number[];
  dtype: VoxelType;
  data: RawVoxels;
}

const DESCR: Record<string, { type: VoxelType; le: boolean }> = {
  '|u1': { type: 'uint8', le: true },
  '<u1': { type: 'uint8', le: true },
  '|i1': { type: 'int8', le: true },
  '<i2': { type: 'int16', le: true },
  '>i2': { type: 'int16', le: false },
  '<u2': { type: 'uint16', le: true },
  '<i4': { type: 'int32', le: true },
  '<f4': { type: 'float32', le: true },
  '>f4': { type: 'float32', le: false },
  '<f8': { type: 'float64', le: true },
  '>f8': { type: 'float64', le: false },
};

/** Reverses axis order: Fortran-order data (first axis fastest) to C order for the same shape. */
function fortranToC(data: RawVoxels, shape: number[]): RawVoxels {
  if (shape.length < 2) return data;
  const out = new (data.constructor as new (n: number) => RawVoxels)(data.length);
  const n = shape.length;
  const cStrides = new Array<number>(n);
  const fStrides = new Array<number>(n);
  cStrides[n - 1] = 1;
  for (let i = n - 2; i >= 0; i--) cStrides[i] = cStrides[i + 1] * shape[i + 1];
  fStrides[0] = 1;
  for (let i = 1; i < n; i++) fStrides[i] = fStrides[i - 1] * shape[i - 1];
  const idx = new Array<number>(n).fill(0);
  for (let f = 0; f < data.length; f++) {
    let c = 0;
    for (let a = 0; a < n; a++) c += idx[a] * cStrides[a];
    out[c] = data[f];
    for (let a = 0; a < n; a++) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/**
 * Parses a NumPy .npy file (format versions 1, 2 and 3) of dtype u1, i1, i2, u2, i4, f4 or f8, C or Fortran order.
 * @throws naming the file: bad magic, unsupported dtype, malformed header, truncated data.
 */
export function parseNpy(bytes: Uint8Array, source = 'npy'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new Error(`NPY magic expected "\\x93NUMPY", got ${JSON.stringify(Buffer.from(bytes.subarray(0, 6)).toString('latin1'))} (${source})`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`NPY header expected 12 bytes, got ${bytes.length} (${source})`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`NPY version expected 1, 2 or 3, got ${major} (${source})`);
  }
  if (bytes.length < start + headerLen) throw new Error(`NPY header expected ${headerLen} bytes, got a truncated file (${source})`);
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`NPY header expected descr, fortran_order and shape, got ${JSON.stringify(header.trim())} (${source})`);
  }
  const kind = DESCR[descr];
  if (!kind) {
    throw new Error(`NPY dtype expected one of ${Object.keys(DESCR).join(', ')}, got '${descr}' (${source})`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`NPY shape expected integers, got (${shapeText}) (${source})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const needed = count * VOXEL_BYTES[kind.type];
  if (bytes.length < dataStart + needed) {
    throw new Error(`NPY data expected ${needed} bytes for shape (${shape.join(', ')}) ${descr}, got ${bytes.length - dataStart}: truncated file (${source})`);
  }
  let data = decodeVoxels(bytes.subarray(dataStart, dataStart + needed), kind.type, count, kind.le);
  if (fortran === 'True') data = fortranToC(data, shape);
  return { shape, dtype: kind.type, data };
}

/** Reads a .npy file; see {@link parseNpy}. */
export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`NPY file expected to be readable, got ${(err as NodeJS.ErrnoException).code ?? 'an error'} (${file})`);
  }
  return parseNpy(bytes, file);
}

const DESCR_BY_TYPE: Record<VoxelType, string> = {
  uint8: '|u1',
  int8: '|i1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  float32: '<f4',
  float64: '<f8',
};

/** Encodes a C-order array as .npy version 1.0 (little endian), readable by `numpy.load`. */
export function encodeNpy(data: RawVoxels, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`NPY writer expected ${count} values for shape (${shape.join(', ')}), got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR_BY_TYPE[voxelTypeOf(data)]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Writes a .npy file atomically. */
export function writeNpy(file: string, data: RawVoxels, shape: readonly number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}
