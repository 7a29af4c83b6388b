import * as fs from 'node:fs';
import { writeFileAtomic } from './atomic';
import { decodeTensorBytes, ELEMENT_BYTES, TorchDType, TorchTensor } from './torch-file';
import { storageBytes, TorchTensorToSave } from './torch-save';

/** safetensors' dtype names of the element types a state dict holds here (the file's dtype field). */
const DTYPES: Record<string, TorchDType> = { F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool' };
const NAMES: Partial<Record<TorchDType, string>> = Object.fromEntries(Object.entries(DTYPES).map(([name, dtype]) => [dtype, name]));

/** The largest header read, as in the reference implementation (a DenseNet-121 header is about 60 KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A safetensors file's tensors (in the header's order) and its `__metadata__` strings. */
export interface SafetensorsContents {
  tensors: Map<string, TorchTensor>;
  metadata: Record<string, string>;
}

/**
 * True when `bytes` start like a safetensors file: an 8-byte little-endian header length that fits the file, then
 * a JSON object. (A torch.save file starts with a zip signature or a pickle opcode instead.)
 */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}

/**
 * Reads a safetensors file (Hugging Face's format for weights, `safetensors.torch.save_file`): an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype, shape and byte range, then the bytes,
 * little-endian in C order. Nothing in it can run. The ranges are checked as the reference implementation checks
 * them: each one the size its dtype and shape say, one after another from the first byte to the last, no gaps.
 * @param bytes the file's contents when the caller has read them already.
 * @throws naming the file and the tensor: a header that is too long, not JSON or not an object, a dtype other than
 *   F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL, a shape or range that does not fit, a truncated file.
 */
export function readSafetensors(file: string, bytes: Buffer = fs.readFileSync(file)): SafetensorsContents {
  const fail = (what: string): never => {
    throw new Error(`safetensors file expected ${what} (${file})`);
  };
  if (bytes.length < 8) fail(`an 8-byte header length, got ${bytes.length} bytes`);
  const headerBytes = bytes.readBigUInt64LE(0);
  if (headerBytes > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) fail(`a header of at most ${Math.min(MAX_HEADER_BYTES, bytes.length - 8)} bytes, got a length of ${headerBytes}${headerBytes > BigInt(bytes.length - 8) ? ' (truncated, or not a safetensors file?)' : ''}`);
  const dataStart = 8 + Number(headerBytes);
  let header: unknown;
  try {
    header = JSON.parse(bytes.subarray(8, dataStart).toString('utf8'));
  } catch (err) {
    fail(`a JSON header, got ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(`a JSON object as its header, got ${Array.isArray(header) ? 'an array' : typeof header}`);
  const entries = Object.entries(header as Record<string, unknown>);
  const metadata: Record<string, string> = {};
  const found: { name: string; dtype: TorchDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of entries) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) fail(`__metadata__ to map strings to strings, got ${JSON.stringify(value)?.slice(0, 80)}`);
      Object.assign(metadata, value);
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `tensor "${name}"`;
    if (typeof info?.dtype !== 'string' || !(info.dtype in DTYPES)) fail(`a dtype among ${Object.keys(DTYPES).join(', ')} for ${where}, got ${JSON.stringify(info?.dtype)}`);
    const dtype = DTYPES[info.dtype as string];
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`a shape of non-negative integers for ${where}, got ${JSON.stringify(info.shape)}`);
    const range = info.data_offsets;
    if (!Array.isArray(range) || range.length !== 2 || !range.every((o) => Number.isSafeInteger(o) && o >= 0) || range[1] < range[0]) fail(`data_offsets [begin, end] with begin <= end for ${where}, got ${JSON.stringify(range)}`);
    const shape = info.shape as number[];
    const [begin, end] = range as number[];
    const size = shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[dtype];
    if (end - begin !== size) fail(`${size} bytes for ${where} (${info.dtype} [${shape.join(', ')}]), got data_offsets [${begin}, ${end}]`);
    found.push({ name, dtype, shape, begin, end });
  }
  const dataBytes = bytes.length - dataStart;
  let at = 0;
  for (const t of [...found].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (t.begin !== at) fail(`tensor "${t.name}" to start at byte ${at} of the data, right after the previous tensor, got ${t.begin} (${t.begin > at ? 'a gap' : 'overlapping ranges'})`);
    at = t.end;
  }
  if (at !== dataBytes) fail(`${at} bytes of tensor data after the header, got ${dataBytes}${at > dataBytes ? ' (truncated?)' : ''}`);
  const tensors = new Map<string, TorchTensor>();
  for (const t of found) {
    const values = decodeTensorBytes(t.dtype, bytes.subarray(dataStart + t.begin, dataStart + t.end), true, `tensor "${t.name}", ${file}`);
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, values });
  }
  return { tensors, metadata };
}

/**
 * Encodes a state dict as `safetensors.torch.save_file` writes it, so `safetensors.torch.load_file(file)` and
 * `model.load_state_dict(...)` read it: the header lists the tensors in the state dict's order and is padded with spaces to
 * a multiple of 8 bytes, the bytes of int64 tensors come before float32 ones (each aligned), `__metadata__` first with
 * `format: pt` (what Hugging Face's loaders look for) and `metadata`'s strings. Deterministic.
 * @throws naming the tensor whose values do not fit its shape or dtype.
 */
export function encodeSafetensors(state: ReadonlyMap<string, TorchTensorToSave>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  for (const name of state.keys()) header[name] = null;
  // The bytes of wider elements first (int64 before float32), as the reference writer orders them, so that each
  // tensor starts at a multiple of its element size; the header keeps the state dict's order.
  const byWidth = [...state].sort(([, a], [, b]) => ELEMENT_BYTES[b.dtype] - ELEMENT_BYTES[a.dtype]);
  const data: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of byWidth) {
    if (name === '__metadata__') throw new Error('safetensors tensor name expected anything but "__metadata__", got it');
    const bytes = storageBytes(t, name);
    header[name] = { dtype: NAMES[t.dtype], shape: [...t.shape], data_offsets: [at, at + bytes.length] };
    data.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json, 'utf8'), ...data]);
}

/** Writes {@link encodeSafetensors}'s bytes atomically; returns them (to hash without reading the file back). */
export function writeSafetensorsFile(file: string, state: ReadonlyMap<string, TorchTensorToSave>, metadata: Record<string, string> = {}): Uint8Array {
  const bytes = encodeSafetensors(state, metadata);
  writeFileAtomic(file, bytes);
  return bytes;
}
