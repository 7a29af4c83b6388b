import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { writeFileAtomic } from './atomic';
import { decodeVoxels, RawVoxels, Volume, VOXEL_BYTES, VoxelType, voxelTypeOf } from './volume';

/** NIfTI datatype codes the project reads, and their names. */
const DATATYPE_BY_CODE: Record<number, VoxelType> = {
  2: 'uint8',
  4: 'int16',
  8: 'int32',
  16: 'float32',
  64: 'float64',
  256: 'int8',
  512: 'uint16',
};
const CODE_BY_DATATYPE: Record<VoxelType, number> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
};
/** Names of the codes we refuse, so the error says what the file holds. */
const UNSUPPORTED_NAMES: Record<number, string> = {
  1: 'binary',
  32: 'complex64',
  128: 'RGB24',
  768: 'uint32',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

type NiftiReaderModule = typeof import('nifti-reader-js', { with: { 'resolution-mode': 'import' } });
let readerModule: Promise<NiftiReaderModule> | undefined;

/**
 * Loads nifti-reader-js, an ESM-only package, from CommonJS (and from tslab): `module: node16` keeps this dynamic
 * `import()` as a real import instead of compiling it to `require`.
 */
function niftiReader(): Promise<NiftiReaderModule> {
  readerModule ??= import('nifti-reader-js');
  return readerModule;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Unzips when the bytes are gzip (by magic, whatever the file name says). */
function gunzipIfNeeded(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (err) {
    const reason = (err as Error).message.includes('unexpected end') ? 'truncated file' : (err as Error).message;
    throw new Error(`gzip stream expected complete compressed data, got ${reason} (${source})`);
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return Uint8Array.prototype.slice.call(bytes).buffer as ArrayBuffer;
}

/** NIfTI-1 or NIfTI-2 and the byte order, from sizeof_hdr (348 or 540), before trusting any other field. */
function sniffHeader(bytes: Uint8Array, source: string): { version: 1 | 2; littleEndian: boolean } {
  if (bytes.length < 348) {
    throw new Error(`NIfTI header expected at least 348 bytes, got ${bytes.length} (${source})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const le of [true, false]) {
    const size = view.getInt32(0, le);
    if (size === 348) {
      const magic = String.fromCharCode(bytes[344], bytes[345], bytes[346]);
      if (magic !== 'n+1' && magic !== 'ni1') {
        throw new Error(`NIfTI-1 magic expected "n+1", got ${JSON.stringify(magic)} (${source})`);
      }
      if (magic === 'ni1') throw new Error(`NIfTI expected a single .nii file, got a .hdr/.img pair header (${source})`);
      return { version: 1, littleEndian: le };
    }
    if (size === 540) {
      if (bytes.length < 540) throw new Error(`NIfTI-2 header expected 540 bytes, got ${bytes.length} (${source})`);
      const magic = String.fromCharCode(bytes[4], bytes[5], bytes[6]);
      if (magic !== 'n+2') throw new Error(`NIfTI-2 magic expected "n+2", got ${JSON.stringify(magic)} (${source})`);
      return { version: 2, littleEndian: le };
    }
  }
  throw new Error(
    `NIfTI header expected sizeof_hdr 348 or 540, got ${view.getInt32(0, true)} (${source}: not a NIfTI file or a wrong magic)`,
  );
}

/**
 * Reads the voxel-to-world matrix as nibabel does: sform when sform_code > 0, else qform when qform_code > 0,
 * else the base affine (voxel sizes on the diagonal, x flipped, origin at the centre).
 */
export function niftiAffine(h: {
  sform_code: number;
  qform_code: number;
  srow: number[][];
  quatern: [number, number, number];
  qoffset: [number, number, number];
  pixdim: number[];
  dims: [number, number, number];
}): number[][] {
  if (h.sform_code > 0) return [...h.srow.map((r) => r.slice(0, 4)), [0, 0, 0, 1]];
  const [dx, dy, dz] = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
  if (h.qform_code > 0) {
    const [b, c, d] = h.quatern;
    const w2 = 1 - (b * b + c * c + d * d);
    const a = w2 < 0 ? 0 : Math.sqrt(w2);
    const n = a * a + b * b + c * c + d * d;
    const s = n < 1e-12 ? 0 : 2 / n;
    const [X, Y, Z] = [b * s, c * s, d * s];
    const [wX, wY, wZ] = [a * X, a * Y, a * Z];
    const [xX, xY, xZ] = [b * X, b * Y, b * Z];
    const [yY, yZ, zZ] = [c * Y, c * Z, d * Z];
    const r = [
      [1 - (yY + zZ), xY - wZ, xZ + wY],
      [xY + wZ, 1 - (xX + zZ), yZ - wX],
      [xZ - wY, yZ + wX, 1 - (xX + yY)],
    ];
    const qfac = h.pixdim[0] < 0 ? -1 : 1;
    const zooms = [dx, dy, dz * qfac];
    return [
      [r[0][0] * zooms[0], r[0][1] * zooms[1], r[0][2] * zooms[2], h.qoffset[0]],
      [r[1][0] * zooms[0], r[1][1] * zooms[1], r[1][2] * zooms[2], h.qoffset[1]],
      [r[2][0] * zooms[0], r[2][1] * zooms[1], r[2][2] * zooms[2], h.qoffset[2]],
      [0, 0, 0, 1],
    ];
  }
  const zooms = [-(dx || 1), dy || 1, dz || 1];
  return [
    [zooms[0], 0, 0, (-(h.dims[0] - 1) / 2) * zooms[0]],
    [0, zooms[1], 0, (-(h.dims[1] - 1) / 2) * zooms[1]],
    [0, 0, zooms[2], (-(h.dims[2] - 1) / 2) * zooms[2]],
    [0, 0, 0, 1],
  ];
}

/** The sform rows straight from the header bytes (nifti-reader-js prefers the qform, nibabel the sform). */
function readSrow(bytes: Uint8Array, version: 1 | 2, le: boolean): number[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [0, 1, 2].map((r) =>
    [0, 1, 2, 3].map((c) =>
      version === 1 ? view.getFloat32(280 + 16 * r + 4 * c, le) : view.getFloat64(400 + 32 * r + 8 * c, le),
    ),
  );
}

/**
 * Parses a NIfTI-1 or NIfTI-2 file already in memory (.nii, or .nii.gz by its gzip magic).
 * Accepts 3D volumes (a 4th dimension of length 1 is dropped) of uint8, int8, int16, uint16, int32, float32 or
 * float64, either byte order; keeps scl_slope/scl_inter for {@link volumeValues} (slope 0 means no scaling, as the
 * standard says).
 * @throws with the file named: truncated data, wrong magic, 4D and more, unsupported datatypes.
 */
export async function parseNifti(fileBytes: Uint8Array, source = 'nifti'): Promise<Volume> {
  const bytes = gunzipIfNeeded(fileBytes, source);
  const { version, littleEndian } = sniffHeader(bytes, source);
  const lib = await niftiReader();
  // nifti-reader-js only needs the header: hand it a small copy, not the whole volume.
  const buffer = toArrayBuffer(bytes.subarray(0, Math.min(bytes.length, version === 1 ? 352 : 544)));
  let header: ReturnType<NiftiReaderModule['readHeader']>;
  try {
    header = lib.readHeader(buffer);
  } catch (err) {
    throw new Error(`NIfTI header expected to parse, got "${(err as Error).message}" (${source})`);
  }
  if (header.littleEndian !== littleEndian) {
    throw new Error(`NIfTI header expected a consistent byte order, got a mismatch (${source})`);
  }
  const dim = header.dims.map((d: number) => Number(d));
  const ndim = dim[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new Error(`NIfTI dim[0] expected 1..7, got ${ndim} (${source})`);
  const extra = dim.slice(4, ndim + 1).filter((d) => d > 1);
  if (ndim >= 4 && extra.length > 0) {
    throw new Error(
      `NIfTI volume expected 3 dimensions, got ${ndim}D with dims [${dim.slice(1, ndim + 1).join(', ')}] (${source}: pick one volume first)`,
    );
  }
  const dims: [number, number, number] = [dim[1] || 1, ndim >= 2 ? dim[2] || 1 : 1, ndim >= 3 ? dim[3] || 1 : 1];
  if (dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`NIfTI dims expected positive integers, got [${dims.join(', ')}] (${source})`);
  }
  const code = header.datatypeCode;
  const type = DATATYPE_BY_CODE[code];
  if (!type) {
    const name = UNSUPPORTED_NAMES[code] ?? 'unknown';
    throw new Error(
      `NIfTI datatype expected one of uint8, int8, int16, uint16, int32, float32, float64, got code ${code} (${name}) (${source})`,
    );
  }
  const voxels = dims[0] * dims[1] * dims[2];
  const offset = Math.max(Number(header.vox_offset), version === 1 ? 348 : 540);
  const needed = offset + voxels * VOXEL_BYTES[type];
  if (bytes.length < needed) {
    throw new Error(
      `NIfTI voxel data expected ${needed} bytes (dims ${dims.join('x')} ${type} from offset ${offset}), got ${bytes.length}: truncated file (${source})`,
    );
  }
  const raw = decodeVoxels(bytes.subarray(offset, needed), type, voxels, littleEndian);
  const slopeRaw = Number(header.scl_slope);
  const useScaling = Number.isFinite(slopeRaw) && slopeRaw !== 0;
  const interRaw = Number(header.scl_inter);
  const pixdim = header.pixDims.map(Number);
  const h = header as unknown as Record<string, unknown>;
  const num = (k: string) => Number(h[k] ?? 0);
  const affine = niftiAffine({
    sform_code: header.sform_code,
    qform_code: header.qform_code,
    srow: readSrow(bytes, version, littleEndian),
    quatern: [num('quatern_b'), num('quatern_c'), num('quatern_d')],
    qoffset: [num('qoffset_x'), num('qoffset_y'), num('qoffset_z')],
    pixdim,
    dims,
  });
  return {
    source,
    format: version === 1 ? 'nifti1' : 'nifti2',
    dims,
    voxelType: type,
    voxelSize: [Math.abs(pixdim[1]) || 1, Math.abs(pixdim[2]) || 1, Math.abs(pixdim[3]) || 1],
    affine,
    raw,
    slope: useScaling ? slopeRaw : 1,
    intercept: useScaling && Number.isFinite(interRaw) ? interRaw : 0,
    description: String(header.description ?? '').replace(/\0.*$/s, '').trim(),
  };
}

/** Reads a .nii or .nii.gz file; see {@link parseNifti}. */
export async function readNifti(file: string): Promise<Volume> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`NIfTI file expected to be readable, got ${(err as NodeJS.ErrnoException).code ?? 'an error'} (${file})`);
  }
  return parseNifti(bytes, file);
}

/**
 * The header's free text (`descrip`, e.g. the scanner) of a .nii or .nii.gz file without reading its voxels: only the
 * first 64 KiB are read and inflated, enough for the 348- or 540-byte header. NUL padding is dropped.
 */
export function readNiftiDescription(file: string): string {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      head = Buffer.alloc(65536);
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new Error(`NIfTI file expected to be readable, got ${(err as NodeJS.ErrnoException).code ?? 'an error'} (${file})`);
  }
  const bytes = isGzip(head) ? zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : head;
  const { version } = sniffHeader(bytes, file);
  const start = version === 1 ? 148 : 240;
  return Buffer.from(bytes.subarray(start, start + 80)).toString('latin1').replace(/\0.*$/s, '').trim();
}

/** What {@link encodeNifti1} needs: voxels in NIfTI order and the geometry. */
export interface NiftiWriteOptions {
  /** [nx, ny, nz]. */
  dims: [number, number, number];
  /** Raw voxels, `raw[x + nx * (y + ny * z)]`. */
  raw: RawVoxels;
  /** Voxel size in mm (default 1). */
  voxelSize?: [number, number, number];
  /** Voxel-to-world matrix (default: diagonal voxel sizes); written as the sform (code 1, scanner) and qform. */
  affine?: number[][];
  /** scl_slope and scl_inter (default 1 and 0). */
  slope?: number;
  intercept?: number;
  /** Byte order (default little endian). */
  littleEndian?: boolean;
  /** Free text in the descrip field (at most 79 bytes). */
  description?: string;
}

/** Rotation matrix (columns normalised) to a quaternion (b, c, d) and qfac, as nibabel's `set_qform`. */
function affineToQuaternion(affine: number[][], voxelSize: [number, number, number]): { q: [number, number, number]; qfac: number } {
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c] / (voxelSize[c] || 1)));
  let qfac = 1;
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  if (det < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) m[r][2] = -m[r][2];
  }
  const trace = m[0][0] + m[1][1] + m[2][2];
  let a: number, b: number, c: number, d: number;
  if (trace > 0) {
    const s = 0.5 / Math.sqrt(trace + 1);
    a = 0.25 / s;
    b = (m[2][1] - m[1][2]) * s;
    c = (m[0][2] - m[2][0]) * s;
    d = (m[1][0] - m[0][1]) * s;
  } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    const s = 2 * Math.sqrt(1 + m[0][0] - m[1][1] - m[2][2]);
    a = (m[2][1] - m[1][2]) / s;
    b = 0.25 * s;
    c = (m[0][1] + m[1][0]) / s;
    d = (m[0][2] + m[2][0]) / s;
  } else if (m[1][1] > m[2][2]) {
    const s = 2 * Math.sqrt(1 + m[1][1] - m[0][0] - m[2][2]);
    a = (m[0][2] - m[2][0]) / s;
    b = (m[0][1] + m[1][0]) / s;
    c = 0.25 * s;
    d = (m[1][2] + m[2][1]) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m[2][2] - m[0][0] - m[1][1]);
    a = (m[1][0] - m[0][1]) / s;
    b = (m[0][2] + m[2][0]) / s;
    c = (m[1][2] + m[2][1]) / s;
    d = 0.25 * s;
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  return { q: [b, c, d], qfac };
}

/** Encodes a single-file NIfTI-1 (.nii) image: 348-byte header, 4 zero extension bytes, voxels from offset 352. */
export function encodeNifti1(options: NiftiWriteOptions): Uint8Array {
  const { dims, raw } = options;
  const type = voxelTypeOf(raw);
  const voxels = dims[0] * dims[1] * dims[2];
  if (raw.length !== voxels) {
    throw new Error(`NIfTI writer expected ${voxels} voxels for dims [${dims.join(', ')}], got ${raw.length}`);
  }
  const voxelSize = options.voxelSize ?? [1, 1, 1];
  const affine = options.affine ?? [
    [voxelSize[0], 0, 0, 0],
    [0, voxelSize[1], 0, 0],
    [0, 0, voxelSize[2], 0],
    [0, 0, 0, 1],
  ];
  const le = options.littleEndian ?? true;
  const size = VOXEL_BYTES[type];
  const out = new Uint8Array(352 + voxels * size);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, le);
  out[38] = 'r'.charCodeAt(0);
  const dimArr = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
  dimArr.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, CODE_BY_DATATYPE[type], le);
  v.setInt16(72, size * 8, le);
  const { q, qfac } = affineToQuaternion(affine, voxelSize);
  const pixdim = [qfac, voxelSize[0], voxelSize[1], voxelSize[2], 1, 1, 1, 1];
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, 352, le);
  v.setFloat32(112, options.slope ?? 1, le);
  v.setFloat32(116, options.intercept ?? 0, le);
  out[123] = 2 | 8; // mm and seconds
  const descrip = (options.description ?? '').slice(0, 79);
  for (let i = 0; i < descrip.length; i++) out[148 + i] = descrip.charCodeAt(i) & 0x7f;
  v.setInt16(252, 1, le);
  v.setInt16(254, 1, le);
  q.forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
  [affine[0][3], affine[1][3], affine[2][3]].forEach((x, i) => v.setFloat32(268 + 4 * i, x, le));
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[r][c], le);
  out.set([0x6e, 0x2b, 0x31, 0x00], 344);
  const nativeLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const rawBytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (size === 1 || le === nativeLittle) {
    out.set(rawBytes, 352);
  } else {
    for (let i = 0; i < voxels; i++) for (let b = 0; b < size; b++) out[352 + i * size + b] = rawBytes[i * size + size - 1 - b];
  }
  return out;
}

/**
 * Writes a NIfTI-1 file atomically; gzip-compressed when the name ends in .gz.
 * @param gzipLevel zlib level for .nii.gz (default 6; the synthetic cohort uses 1 for speed).
 */
export function writeNifti(file: string, options: NiftiWriteOptions, gzipLevel = 6): void {
  const bytes = encodeNifti1(options);
  writeFileAtomic(file, file.endsWith('.gz') ? zlib.gzipSync(bytes, { level: gzipLevel }) : bytes);
}
