import * as zlib from 'node:zlib';

/** One member of a zip archive, read on demand. */
export interface ZipEntry {
  name: string;
  /** Bytes once extracted. */
  size: number;
  /** The member's bytes (a view into the archive for stored members), CRC-checked. @throws naming the member. */
  read(): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** A 64-bit little-endian size or offset as a number (exact below 2^53, which any file on disk is). */
function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/**
 * Lists the members of a zip archive held in memory (what torch.save writes since PyTorch 1.6): the central directory,
 * ZIP64 sizes and offsets included; stored and deflated members. Multi-disk and encrypted archives are refused.
 * @param source the file, for error messages.
 * @throws naming the source when the bytes are not a complete zip archive.
 */
export function readZip(bytes: Uint8Array, source: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new Error(`zip archive expected ${what} (${source})`);
  };
  // The end record sits within the last 22 + 65535 bytes (its comment is at most 65535 bytes).
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65535); at--) {
    if (view.getUint32(at, true) === EOCD) {
      end = at;
      break;
    }
  }
  if (end < 0) fail(`an end-of-central-directory record, got none in ${bytes.length} bytes (not a zip file, or truncated)`);
  let count = view.getUint16(end + 10, true);
  let dirSize = view.getUint32(end + 12, true);
  let dirOffset = view.getUint32(end + 16, true);
  if (view.getUint16(end + 4, true) !== 0 || view.getUint16(end + 6, true) !== 0) fail('one disk, got a multi-disk archive');
  if (count === 0xffff || dirOffset === 0xffffffff || dirSize === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR) fail('a ZIP64 locator before the end record, got none');
    const at = u64(view, locator + 8);
    if (at + 56 > bytes.length || view.getUint32(at, true) !== ZIP64_EOCD) fail(`a ZIP64 end record at byte ${at}, got none`);
    count = u64(view, at + 32);
    dirSize = u64(view, at + 40);
    dirOffset = u64(view, at + 48);
  }
  if (dirOffset + dirSize > bytes.length) fail(`a central directory within the file's ${bytes.length} bytes, got one ending at byte ${dirOffset + dirSize} (truncated)`);
  const entries = new Map<string, ZipEntry>();
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) fail(`central directory entry ${i + 1} of ${count} at byte ${at}, got none`);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressed = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let local = view.getUint32(at + 42, true);
    const name = Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength)).toString('utf8');
    // ZIP64 extra field (id 1): the 64-bit values of whichever 32-bit fields hold 0xffffffff, in this order.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(e, true);
      const length = view.getUint16(e + 2, true);
      if (id === 1) {
        let p = e + 4;
        if (size === 0xffffffff) (size = u64(view, p)), (p += 8);
        if (compressed === 0xffffffff) (compressed = u64(view, p)), (p += 8);
        if (local === 0xffffffff) local = u64(view, p);
      }
      e += 4 + length;
    }
    at += 46 + nameLength + extraLength + commentLength;
    if (flags & 1) fail(`unencrypted members, got "${name}" encrypted`);
    if (method !== 0 && method !== 8) fail(`stored or deflated members, got "${name}" with compression method ${method}`);
    entries.set(name, {
      name,
      size,
      read() {
        if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL) fail(`a local header for "${name}" at byte ${local}, got none`);
        const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
        if (start + compressed > bytes.length) fail(`"${name}" to end at byte ${start + compressed}, got a file of ${bytes.length} bytes (truncated)`);
        const raw = bytes.subarray(start, start + compressed);
        let data: Uint8Array;
        try {
          data = method === 0 ? raw : zlib.inflateRawSync(raw);
        } catch (err) {
          return fail(`"${name}" to inflate, got ${(err as Error).message}`);
        }
        if (data.length !== size) fail(`"${name}" of ${size} bytes, got ${data.length}`);
        if (zlib.crc32(data) >>> 0 !== crc) fail(`"${name}" with CRC-32 ${crc.toString(16)}, got ${(zlib.crc32(data) >>> 0).toString(16)} (damaged file)`);
        return data;
      },
    });
  }
  return entries;
}
