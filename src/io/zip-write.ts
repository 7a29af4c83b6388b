import * as zlib from 'node:zlib';

/** One member to store in a zip archive. */
export interface ZipMember {
  /** Path inside the archive, '/'-separated (UTF-8). */
  name: string;
  data: Uint8Array;
}

/** Largest offset or size a zip without ZIP64 records can hold. */
const ZIP32_LIMIT = 0xffffffff;
/** Extra-field id of the padding torch.save puts before each member's data ("FB", PyTorchStreamWriter). */
const PADDING_ID = 0x4246;
/** General-purpose flag bit 11: names are UTF-8. */
const UTF8_FLAG = 0x0800;
/** 1980-01-01 00:00 in MS-DOS date and time: no clock enters the bytes, so one input always gives one archive. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * Packs members into a zip archive, stored (uncompressed) as torch.save writes them, in the given order. Each member's
 * data starts on a multiple of `align` bytes (padding in the local header's extra field, as PyTorch does so that
 * torch.load(mmap=True) can map storages in place). Deterministic: no timestamps, so equal members give equal bytes.
 * @param align data alignment in bytes (default 64, PyTorch's); 1 for none.
 * @throws when a name repeats or is empty, or the archive would need ZIP64 (over 4 GiB or 65,535 members).
 */
export function encodeZip(members: readonly ZipMember[], align = 64): Uint8Array {
  if (!Number.isInteger(align) || align < 1) throw new Error(`zip alignment expected a positive integer, got ${align}`);
  if (members.length > 0xffff) throw new Error(`zip archive expected at most 65535 members (no ZIP64), got ${members.length}`);
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    if (!m.name) throw new Error('zip member name expected, got an empty one');
    if (seen.has(m.name)) throw new Error(`zip member names expected to be unique, got "${m.name}" twice`);
    seen.add(m.name);
    const name = Buffer.from(m.name, 'utf8');
    const crc = zlib.crc32(m.data) >>> 0;
    // A padding field is at least its 4-byte header: choose the smallest length that lands the data on `align`.
    let padding = (align - ((offset + 30 + name.length) % align)) % align;
    if (padding > 0 && padding < 4) padding += align;
    const local = Buffer.alloc(30 + name.length + padding);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(UTF8_FLAG, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(m.data.length, 18);
    local.writeUInt32LE(m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(padding, 28);
    name.copy(local, 30);
    if (padding) {
      local.writeUInt16LE(PADDING_ID, 30 + name.length);
      local.writeUInt16LE(padding - 4, 32 + name.length);
    }
    const entry = Buffer.alloc(46 + name.length);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // made by: 2.0, MS-DOS attributes
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(UTF8_FLAG, 8);
    entry.writeUInt16LE(0, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(m.data.length, 20);
    entry.writeUInt32LE(m.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    // extra 0, comment 0, disk 0, internal 0, external 0
    if (offset > ZIP32_LIMIT) throw new Error(`zip archive expected to fit in 4 GiB (no ZIP64), got member "${m.name}" at byte ${offset}`);
    entry.writeUInt32LE(offset, 42);
    name.copy(entry, 46);
    parts.push(local, m.data);
    central.push(entry);
    offset += local.length + m.data.length;
  }
  const dirSize = central.reduce((s, e) => s + e.length, 0);
  if (offset + dirSize > ZIP32_LIMIT) throw new Error(`zip archive expected to fit in 4 GiB (no ZIP64), got ${offset + dirSize} bytes`);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(dirSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
