/**
 * DICOM Part 10 files (one CT slice each) read without any native library: the file meta group, the data set in
 * implicit or explicit VR little endian, explicit VR big endian (retired) or deflated explicit VR, and pixel data
 * uncompressed, RLE Lossless, lossless JPEG (process 14: the syntaxes .57 and .70 that CT archives use) or JPEG-LS
 * (.80, .81), one
 * frame per file or several (enhanced multi-frame CT, whose geometry sits in functional group sequences). Lossy JPEG
 * and JPEG 2000 are refused by their transfer syntax's name. Sequences are read as nested items, whatever their
 * length encoding.
 */
import * as zlib from 'node:zlib';
import { decodeDicomRle } from './dicom-rle';
import { decodeJpegLs } from './jpeg-ls';
import { decodeLosslessJpeg } from './jpeg-lossless';

/** (group << 16) | element. */
export type DicomTag = number;

/** The attributes the project reads (PS3.6 data dictionary), with the VR to use where the file does not say (implicit VR). */
export const DICOM_TAGS = {
  transferSyntax: { tag: 0x00020010, vr: 'UI' },
  sopClass: { tag: 0x00080016, vr: 'UI' },
  sopInstance: { tag: 0x00080018, vr: 'UI' },
  imageType: { tag: 0x00080008, vr: 'CS' },
  modality: { tag: 0x00080060, vr: 'CS' },
  manufacturer: { tag: 0x00080070, vr: 'LO' },
  seriesDescription: { tag: 0x0008103e, vr: 'LO' },
  patientId: { tag: 0x00100020, vr: 'LO' },
  sliceThickness: { tag: 0x00180050, vr: 'DS' },
  convolutionKernel: { tag: 0x00181210, vr: 'SH' },
  gantryTilt: { tag: 0x00181120, vr: 'DS' },
  specificCharacterSet: { tag: 0x00080005, vr: 'CS' },
  studyInstance: { tag: 0x0020000d, vr: 'UI' },
  seriesInstance: { tag: 0x0020000e, vr: 'UI' },
  seriesNumber: { tag: 0x00200011, vr: 'IS' },
  instanceNumber: { tag: 0x00200013, vr: 'IS' },
  imagePosition: { tag: 0x00200032, vr: 'DS' },
  imageOrientation: { tag: 0x00200037, vr: 'DS' },
  samplesPerPixel: { tag: 0x00280002, vr: 'US' },
  photometric: { tag: 0x00280004, vr: 'CS' },
  numberOfFrames: { tag: 0x00280008, vr: 'IS' },
  rows: { tag: 0x00280010, vr: 'US' },
  columns: { tag: 0x00280011, vr: 'US' },
  pixelSpacing: { tag: 0x00280030, vr: 'DS' },
  bitsAllocated: { tag: 0x00280100, vr: 'US' },
  bitsStored: { tag: 0x00280101, vr: 'US' },
  highBit: { tag: 0x00280102, vr: 'US' },
  pixelRepresentation: { tag: 0x00280103, vr: 'US' },
  rescaleIntercept: { tag: 0x00281052, vr: 'DS' },
  rescaleSlope: { tag: 0x00281053, vr: 'DS' },
  pixelData: { tag: 0x7fe00010, vr: 'OW' },
  sharedFunctionalGroups: { tag: 0x52009229, vr: 'SQ' },
  perFrameFunctionalGroups: { tag: 0x52009230, vr: 'SQ' },
  pixelMeasures: { tag: 0x00289110, vr: 'SQ' },
  planePosition: { tag: 0x00209113, vr: 'SQ' },
  planeOrientation: { tag: 0x00209116, vr: 'SQ' },
  pixelValueTransformation: { tag: 0x00289145, vr: 'SQ' },
} as const;

const VR_BY_TAG = new Map<number, string>(Object.values(DICOM_TAGS).map((t) => [t.tag, t.vr]));

const TRANSFER_SYNTAXES: Record<string, { name: string; explicit: boolean; littleEndian: boolean; deflated?: boolean; native: boolean }> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', explicit: false, littleEndian: true, native: true },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', explicit: true, littleEndian: true, native: true },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', explicit: true, littleEndian: true, deflated: true, native: true },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', explicit: true, littleEndian: false, native: true },
};

/** Compressed syntaxes whose pixels are decoded here. */
const DECODED: Record<string, 'jpeg-lossless' | 'jpeg-ls' | 'rle'> = {
  '1.2.840.10008.1.2.4.57': 'jpeg-lossless',
  '1.2.840.10008.1.2.4.70': 'jpeg-lossless',
  '1.2.840.10008.1.2.4.80': 'jpeg-ls',
  '1.2.840.10008.1.2.4.81': 'jpeg-ls',
  '1.2.840.10008.1.2.5': 'rle',
};

/** Names of the compressed transfer syntaxes met in CT archives, for messages. */
const COMPRESSED_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** VRs whose explicit encoding has a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;

/** One attribute: its VR (from the file, or the dictionary for implicit VR), its value bytes, a sequence's items. */
export interface DicomElement {
  vr: string;
  bytes: Uint8Array;
  /** For a sequence (SQ): each item's attributes. */
  items?: Map<DicomTag, DicomElement>[];
}

/** A parsed DICOM file: its transfer syntax and top-level attributes, with typed accessors. */
export interface DicomFile {
  source: string;
  /** Transfer syntax UID (1.2.840.10008.1.2 when the file has no meta group). */
  transferSyntax: string;
  transferSyntaxName: string;
  /** How the pixels are stored: uncompressed, compressed in a way {@link dicomPixels} decodes, or refused. */
  pixelEncoding: 'native' | 'jpeg-lossless' | 'jpeg-ls' | 'rle' | 'unsupported';
  littleEndian: boolean;
  elements: Map<DicomTag, DicomElement>;
  /** The WHATWG encoding of its text attributes, from SpecificCharacterSet (0008,0005); 'latin1' when absent. */
  textEncoding: string;
}

/** SpecificCharacterSet defined terms (PS3.3 C.12.1.1.2, single-byte and UTF-8) to WHATWG encodings. */
const CHARACTER_SETS: Record<string, string> = {
  'ISO_IR 6': 'latin1',
  'ISO_IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** VRs whose text follows SpecificCharacterSet; the others (UI, CS, DS, IS, dates) are plain ASCII. */
const CHARACTER_SET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'PN', 'UC']);

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    readonly source: string,
    public littleEndian: boolean,
    public explicit: boolean,
  ) {}
  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      throw new Error(`DICOM ${what} expected ${n} more bytes at offset ${this.pos}, got ${this.bytes.length - this.pos} (${this.source}: truncated)`);
    }
  }
  u16(): number {
    this.need(2, 'value');
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4, 'value');
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  tag(): number {
    const group = this.u16();
    const element = this.u16();
    return ((group << 16) | element) >>> 0;
  }
}

/** Reads one element header at the reader's position: tag, VR and value length. */
function readHeader(r: Reader): { tag: number; vr: string; length: number } {
  const tag = r.tag();
  // Items and delimiters have no VR in any transfer syntax.
  if (tag >>> 16 === 0xfffe) return { tag, vr: '', length: r.u32() };
  if (!r.explicit) return { tag, vr: VR_BY_TAG.get(tag) ?? 'UN', length: r.u32() };
  r.need(2, 'VR');
  const vr = String.fromCharCode(r.bytes[r.pos], r.bytes[r.pos + 1]);
  r.pos += 2;
  if (!/^[A-Z]{2}$/.test(vr)) {
    throw new Error(`DICOM VR expected two capital letters, got ${JSON.stringify(vr)} at offset ${r.pos - 2} for tag ${formatTag(tag)} (${r.source})`);
  }
  if (LONG_VRS.has(vr)) {
    r.pos += 2;
    return { tag, vr, length: r.u32() };
  }
  return { tag, vr, length: r.u16() };
}

/** Skips encapsulated pixel data (undefined length): its fragment items up to the sequence delimiter. */
function skipFragments(r: Reader, tag: number): void {
  for (;;) {
    const item = readHeader(r);
    if (item.tag === SEQUENCE_END) return;
    if (item.tag !== ITEM || item.length === UNDEFINED_LENGTH) {
      throw new Error(`DICOM fragment item expected inside ${formatTag(tag)}, got ${formatTag(item.tag)} at offset ${r.pos - 8} (${r.source})`);
    }
    r.need(item.length, `fragment of ${formatTag(tag)}`);
    r.pos += item.length;
  }
}

/** Reads a sequence's items (each a nested data set), of defined or undefined length, items likewise. */
function readSequence(r: Reader, tag: number, length: number): Map<DicomTag, DicomElement>[] {
  const items: Map<DicomTag, DicomElement>[] = [];
  const end = length === UNDEFINED_LENGTH ? Infinity : r.pos + length;
  if (end !== Infinity && end > r.bytes.length) {
    throw new Error(`DICOM sequence ${formatTag(tag)} expected ${length} bytes at offset ${r.pos}, got ${r.bytes.length - r.pos} (${r.source}: truncated)`);
  }
  while (r.pos < end) {
    const item = readHeader(r);
    if (item.tag === SEQUENCE_END) break;
    if (item.tag !== ITEM) throw new Error(`DICOM item expected inside ${formatTag(tag)}, got ${formatTag(item.tag)} at offset ${r.pos - 8} (${r.source})`);
    const elements = new Map<DicomTag, DicomElement>();
    if (item.length === UNDEFINED_LENGTH) readElements(r, elements, { untilItemEnd: true });
    else {
      r.need(item.length, `item of ${formatTag(tag)}`);
      readElements(r, elements, { end: r.pos + item.length });
    }
    items.push(elements);
  }
  return items;
}

/** "(0028,0010)". */
export function formatTag(tag: number): string {
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(tag >>> 16)},${hex(tag & 0xffff)})`;
}

/**
 * Reads elements up to `end` (default the end of the bytes), an item delimiter (`untilItemEnd`) or a change of group
 * (`onlyGroup`). Sequences become nested items; encapsulated pixel data is kept whole, fragments included.
 */
function readElements(
  r: Reader,
  into: Map<number, DicomElement>,
  options: { onlyGroup?: number; stopAtPixels?: boolean; end?: number; untilItemEnd?: boolean },
): void {
  const end = options.end ?? r.bytes.length;
  while (r.pos < end) {
    if (options.onlyGroup !== undefined) {
      if (r.pos + 2 > end || r.view.getUint16(r.pos, r.littleEndian) !== options.onlyGroup) return;
    }
    // Trailing padding (some writers end with NUL bytes) is not an element.
    if (options.end === undefined && !options.untilItemEnd && end - r.pos < 8 && r.bytes.subarray(r.pos).every((b) => b === 0)) return;
    const start = r.pos;
    const { tag, vr, length } = readHeader(r);
    if (tag === ITEM_END) {
      if (options.untilItemEnd) return;
      throw new Error(`DICOM element expected at offset ${start}, got an item delimiter outside an item (${r.source})`);
    }
    if (tag === DICOM_TAGS.pixelData.tag && options.stopAtPixels) {
      into.set(tag, { vr, bytes: new Uint8Array(0) });
      return;
    }
    // Implicit VR names no VR: a known sequence tag, or an undefined length on anything but pixel data, is one.
    const isSequence = vr === 'SQ' || (length === UNDEFINED_LENGTH && tag !== DICOM_TAGS.pixelData.tag);
    if (isSequence) {
      const valueStart = r.pos;
      const items = readSequence(r, tag, length);
      into.set(tag, { vr: 'SQ', bytes: r.bytes.subarray(valueStart, r.pos), items });
      continue;
    }
    if (length === UNDEFINED_LENGTH) {
      const valueStart = r.pos;
      skipFragments(r, tag);
      into.set(tag, { vr, bytes: r.bytes.subarray(valueStart, r.pos) });
      continue;
    }
    if (r.pos + length > r.bytes.length) {
      throw new Error(
        `DICOM value of ${formatTag(tag)} expected ${length} bytes at offset ${start}, got ${r.bytes.length - r.pos} (${r.source}: truncated)`,
      );
    }
    into.set(tag, { vr, bytes: r.bytes.subarray(r.pos, r.pos + length) });
    r.pos += length;
  }
}

/**
 * Parses a DICOM file in memory: the 128-byte preamble and "DICM", the file meta group (explicit VR little
 * endian), then the data set in the meta group's transfer syntax. A file without the preamble (pre-Part-10 data set,
 * implicit VR little endian) is read when it starts with a group 0008 element.
 * @param options.stopAtPixels stop at the pixel data (headers only; a series scan reads thousands of files).
 * @throws naming the file: not DICOM, truncated, a malformed element.
 */
export function parseDicom(fileBytes: Uint8Array, source = 'dicom', options: { stopAtPixels?: boolean } = {}): DicomFile {
  const view = new DataView(fileBytes.buffer, fileBytes.byteOffset, fileBytes.byteLength);
  const elements = new Map<number, DicomElement>();
  const hasPreamble = fileBytes.length >= 132 && fileBytes[128] === 0x44 && fileBytes[129] === 0x49 && fileBytes[130] === 0x43 && fileBytes[131] === 0x4d;
  let transferSyntax = '1.2.840.10008.1.2';
  let body: Uint8Array = fileBytes;
  let bodyStart = 0;
  if (hasPreamble) {
    const meta = new Reader(fileBytes, view, source, true, true);
    meta.pos = 132;
    readElements(meta, elements, { onlyGroup: 0x0002 });
    const ts = elements.get(DICOM_TAGS.transferSyntax.tag);
    if (!ts) throw new Error(`DICOM transfer syntax (0002,0010) expected in the file meta group, got none (${source})`);
    transferSyntax = decodeString(ts.bytes);
    bodyStart = meta.pos;
  } else if (!(fileBytes.length >= 8 && view.getUint16(0, true) === 0x0008)) {
    throw new Error(`DICOM file expected "DICM" at byte 128 (or a data set starting with group 0008), got neither (${source}: not a DICOM file)`);
  }
  const syntax = TRANSFER_SYNTAXES[transferSyntax];
  const compressedName = COMPRESSED_NAMES[transferSyntax];
  if (!syntax && !compressedName && !transferSyntax.startsWith('1.2.840.10008.1.2.4.')) {
    throw new Error(`DICOM transfer syntax expected a known UID, got "${transferSyntax}" (${source})`);
  }
  // Every compressed syntax encodes its data set as explicit VR little endian; only the pixels differ.
  const layout = syntax ?? { name: compressedName ?? `compressed (${transferSyntax})`, explicit: true, littleEndian: true, native: false };
  if (layout.deflated) {
    try {
      body = new Uint8Array(zlib.inflateRawSync(fileBytes.subarray(bodyStart)));
    } catch (err) {
      throw new Error(`DICOM deflated data set expected valid deflate data, got ${(err as Error).message} (${source})`);
    }
    bodyStart = 0;
  }
  const reader = new Reader(body, new DataView(body.buffer, body.byteOffset, body.byteLength), source, layout.littleEndian, layout.explicit);
  reader.pos = bodyStart;
  readElements(reader, elements, { stopAtPixels: options.stopAtPixels });
  // The first value names the default repertoire; ISO 2022 code extensions (several values) are read as latin1.
  const charset = elements.get(DICOM_TAGS.specificCharacterSet.tag);
  const term = charset ? decodeString(charset.bytes).split('\\')[0].trim() : '';
  const textEncoding = CHARACTER_SETS[term] ?? 'latin1';
  return {
    source,
    transferSyntax,
    transferSyntaxName: layout.name,
    pixelEncoding: layout.native ? 'native' : (DECODED[transferSyntax] ?? 'unsupported'),
    littleEndian: layout.littleEndian,
    elements,
    textEncoding,
  };
}

function decodeString(bytes: Uint8Array, encoding = 'latin1'): string {
  const text = encoding === 'latin1' ? Buffer.from(bytes).toString('latin1') : new TextDecoder(encoding).decode(bytes);
  return text.replace(/[\0 ]+$/, '').replace(/^ +/, '');
}

/**
 * A text attribute (trailing spaces and NUL removed) in the file's SpecificCharacterSet (UTF-8, Latin-1 and the other
 * single-byte sets), or undefined when absent or empty.
 * @param within a sequence item's attributes (default: the file's top-level data set).
 */
export function dicomString(file: DicomFile, tag: DicomTag, within: Map<DicomTag, DicomElement> = file.elements): string | undefined {
  const el = within.get(tag);
  if (!el || el.items) return undefined;
  const s = decodeString(el.bytes, CHARACTER_SET_VRS.has(el.vr) || el.vr === 'UN' ? file.textEncoding : 'latin1');
  return s === '' ? undefined : s;
}

/**
 * A numeric attribute's values: binary VRs (US, SS, UL, SL, FL, FD) as stored, text VRs (DS, IS) parsed from their
 * backslash-separated strings. Undefined when absent or empty.
 * @param within a sequence item's attributes (default: the file's top-level data set).
 * @throws when a DS/IS value is not a number (names the tag and file).
 */
export function dicomNumbers(file: DicomFile, tag: DicomTag, within: Map<DicomTag, DicomElement> = file.elements): number[] | undefined {
  const el = within.get(tag);
  if (!el || el.items || el.bytes.length === 0) return undefined;
  const v = new DataView(el.bytes.buffer, el.bytes.byteOffset, el.bytes.byteLength);
  const le = file.littleEndian;
  const binary: Record<string, [number, (o: number) => number]> = {
    US: [2, (o) => v.getUint16(o, le)],
    SS: [2, (o) => v.getInt16(o, le)],
    UL: [4, (o) => v.getUint32(o, le)],
    SL: [4, (o) => v.getInt32(o, le)],
    FL: [4, (o) => v.getFloat32(o, le)],
    FD: [8, (o) => v.getFloat64(o, le)],
  };
  const reader = binary[el.vr];
  if (reader) {
    const out: number[] = [];
    for (let o = 0; o + reader[0] <= el.bytes.length; o += reader[0]) out.push(reader[1](o));
    return out;
  }
  const text = decodeString(el.bytes);
  if (text === '') return undefined;
  return text.split('\\').map((part) => {
    const n = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(n)) {
      throw new Error(`DICOM ${formatTag(tag)} expected numbers, got ${JSON.stringify(text)} (${file.source})`);
    }
    return n;
  });
}

/** The first value of a numeric attribute, or `fallback` when absent. */
export function dicomNumber(file: DicomFile, tag: DicomTag, fallback?: number, within: Map<DicomTag, DicomElement> = file.elements): number | undefined {
  return dicomNumbers(file, tag, within)?.[0] ?? fallback;
}

/** The items of a sequence attribute ([] when absent or not a sequence). */
export function dicomItems(within: Map<DicomTag, DicomElement>, tag: DicomTag): Map<DicomTag, DicomElement>[] {
  return within.get(tag)?.items ?? [];
}

/** One frame's stored pixel values, row by row (`values[row * columns + column]`), before the rescale to HU. */
export interface DicomPixels {
  rows: number;
  columns: number;
  /** Int16Array / Uint16Array for 16 bits allocated, Int8Array / Uint8Array for 8, Int32Array / Uint32Array for 32. */
  values: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
}

/**
 * The compressed bytes of a single-frame file: its encapsulated pixel data's fragments joined, the basic offset
 * table left out (PS3.5 A.4).
 * @throws when the pixel data is not encapsulated or its items are malformed.
 */
export function encapsulatedFrame(
  file: DicomFile,
  value: Uint8Array = file.elements.get(DICOM_TAGS.pixelData.tag)?.bytes ?? new Uint8Array(0),
  frame = 0,
  frames = 1,
): Uint8Array {
  if (file.pixelEncoding === 'native') throw new Error(`DICOM encapsulated pixel data expected, got ${file.transferSyntaxName} (${file.source})`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const fragments: { start: number; bytes: Uint8Array }[] = [];
  let offsets: number[] = [];
  let pos = 0;
  let first = true;
  let fragmentsStart = 0;
  while (pos + 8 <= value.length) {
    const tag = ((view.getUint16(pos, true) << 16) | view.getUint16(pos + 2, true)) >>> 0;
    const length = view.getUint32(pos + 4, true);
    pos += 8;
    if (tag === SEQUENCE_END) break;
    if (tag !== ITEM || pos + length > value.length) {
      throw new Error(`DICOM pixel data fragment expected at offset ${pos - 8} of the encapsulated pixels, got ${formatTag(tag)} of ${length} bytes (${file.source})`);
    }
    if (first) {
      // The basic offset table: each frame's first fragment, as byte offsets from the first fragment's item.
      for (let o = 0; o + 4 <= length; o += 4) offsets.push(view.getUint32(pos + o, true));
      fragmentsStart = pos + length;
    } else fragments.push({ start: pos - 8 - fragmentsStart, bytes: value.subarray(pos, pos + length) });
    first = false;
    pos += length;
  }
  if (fragments.length === 0) throw new Error(`DICOM encapsulated pixel data expected a fragment after the offset table, got none (${file.source})`);
  let parts: Uint8Array[];
  if (frames === 1) parts = fragments.map((f) => f.bytes);
  else {
    if (offsets.length !== frames) {
      if (fragments.length !== frames) {
        throw new Error(`DICOM encapsulated pixel data expected an offset table or one fragment per frame for ${frames} frames, got ${offsets.length} offsets and ${fragments.length} fragments (${file.source})`);
      }
      offsets = fragments.map((f) => f.start);
    }
    const from = offsets[frame];
    const to = frame + 1 < frames ? offsets[frame + 1] : Infinity;
    parts = fragments.filter((f) => f.start >= from && f.start < to).map((f) => f.bytes);
    if (parts.length === 0) throw new Error(`DICOM frame ${frame + 1} of ${frames} expected fragments at offset ${from}, got none (${file.source})`);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of parts) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/**
 * Decodes one frame of a single-sample pixel data element, uncompressed, RLE or lossless JPEG: bits allocated 8, 16
 * or 32, bits outside BitsStored/HighBit masked off (old files keep overlays there) and signed values sign-extended
 * when PixelRepresentation is 1 (PS3.5 8.1.1).
 * @param frame 0-based frame of a multi-frame file (default 0).
 * @throws for pixel data compressed another way (naming its transfer syntax), colour, a frame out of range, or a
 *   size mismatch.
 */
export function dicomPixels(file: DicomFile, frame = 0): DicomPixels {
  const T = DICOM_TAGS;
  const el = file.elements.get(T.pixelData.tag);
  if (!el) throw new Error(`DICOM pixel data (7FE0,0010) expected, got none (${file.source})`);
  if (file.pixelEncoding === 'unsupported') {
    throw new Error(
      `DICOM pixel data expected uncompressed, RLE, lossless JPEG or JPEG-LS, got ${file.transferSyntaxName} (${file.transferSyntax}) (${file.source}): ` +
        'decompress first, e.g. `gdcmconv --raw IN OUT` or `dcmdjpeg IN OUT`',
    );
  }
  const rows = dicomNumber(file, T.rows.tag);
  const columns = dicomNumber(file, T.columns.tag);
  if (!rows || !columns) throw new Error(`DICOM Rows and Columns expected, got ${rows ?? 'none'} x ${columns ?? 'none'} (${file.source})`);
  const samples = dicomNumber(file, T.samplesPerPixel.tag, 1)!;
  if (samples !== 1) throw new Error(`DICOM SamplesPerPixel expected 1 (greyscale), got ${samples} (${file.source})`);
  const frames = dicomNumber(file, T.numberOfFrames.tag, 1)!;
  if (!(Number.isInteger(frame) && frame >= 0 && frame < frames)) throw new Error(`DICOM frame expected 1 to ${frames}, got ${frame + 1} (${file.source})`);
  const allocated = dicomNumber(file, T.bitsAllocated.tag);
  if (allocated !== 8 && allocated !== 16 && allocated !== 32) {
    throw new Error(`DICOM BitsAllocated expected 8, 16 or 32, got ${allocated ?? 'none'} (${file.source})`);
  }
  const stored = dicomNumber(file, T.bitsStored.tag, allocated)!;
  const highBit = dicomNumber(file, T.highBit.tag, stored - 1)!;
  const signed = dicomNumber(file, T.pixelRepresentation.tag, 0) === 1;
  if (!(stored >= 1 && stored <= allocated && highBit >= stored - 1 && highBit < allocated)) {
    throw new Error(`DICOM BitsStored ${stored} and HighBit ${highBit} expected within BitsAllocated ${allocated} (${file.source})`);
  }
  const count = rows * columns;
  const bytesPer = allocated / 8;
  const words = storedWords(file, el.bytes, { rows, columns, count, bytesPer, allocated, frame, frames });
  const values =
    allocated === 8
      ? signed ? new Int8Array(count) : new Uint8Array(count)
      : allocated === 16
        ? signed ? new Int16Array(count) : new Uint16Array(count)
        : signed ? new Int32Array(count) : new Uint32Array(count);
  const shift = highBit + 1 - stored;
  const full = stored === allocated && shift === 0;
  const mask = stored === 32 ? 0xffffffff : (1 << stored) - 1;
  const signBit = stored === 32 ? 0x80000000 : 1 << (stored - 1);
  for (let i = 0; i < count; i++) {
    let v = words[i];
    if (!full) {
      v = (v >>> shift) & mask;
      // Sign-extend from BitsStored; the typed array then wraps it into range.
      if (signed && v & signBit) v -= 2 * signBit;
    }
    values[i] = v;
  }
  return { rows, columns, values };
}

/** The pixels as unsigned words of BitsAllocated bits, whatever their encoding. */
function storedWords(
  file: DicomFile,
  value: Uint8Array,
  size: { rows: number; columns: number; count: number; bytesPer: number; allocated: number; frame: number; frames: number },
): ArrayLike<number> {
  const { rows, columns, count, bytesPer, allocated, frame, frames } = size;
  if (file.pixelEncoding === 'rle') return decodeDicomRle(encapsulatedFrame(file, value, frame, frames), count, bytesPer, file.source);
  if (file.pixelEncoding === 'jpeg-lossless' || file.pixelEncoding === 'jpeg-ls') {
    const stream = encapsulatedFrame(file, value, frame, frames);
    const image = file.pixelEncoding === 'jpeg-ls' ? decodeJpegLs(stream, file.source) : decodeLosslessJpeg(stream, file.source);
    if (image.width !== columns || image.height !== rows) {
      throw new Error(`DICOM JPEG image expected ${columns} x ${rows} as Columns x Rows say, got ${image.width} x ${image.height} (${file.source})`);
    }
    if (image.precision > allocated) throw new Error(`DICOM JPEG precision expected at most BitsAllocated ${allocated}, got ${image.precision} (${file.source})`);
    return image.samples;
  }
  if (value.length < frames * count * bytesPer) {
    throw new Error(
      `DICOM pixel data expected ${frames * count * bytesPer} bytes for ${frames > 1 ? `${frames} frames of ` : ''}${rows} x ${columns} x ${allocated} bits, got ${value.length} (${file.source})`,
    );
  }
  const start = frame * count * bytesPer;
  const view = new DataView(value.buffer, value.byteOffset + start, count * bytesPer);
  const le = file.littleEndian;
  if (bytesPer === 1) return value.subarray(start, start + count);
  const words = bytesPer === 2 ? new Uint16Array(count) : new Uint32Array(count);
  if (bytesPer === 2) for (let i = 0; i < count; i++) words[i] = view.getUint16(2 * i, le);
  else for (let i = 0; i < count; i++) words[i] = view.getUint32(4 * i, le);
  return words;
}
