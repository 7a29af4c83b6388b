import { hex, jpegSegments, readU16 } from './jpeg-markers';

/**
 * Lossless JPEG (ITU T.81 process 14, SOF3, Huffman coded): the compression of DICOM's transfer syntaxes
 * 1.2.840.10008.1.2.4.57 and .70 (selection value 1), the usual lossless format of CT archives. Greyscale only.
 */

/** A decoded lossless JPEG image: P-bit unsigned samples, row by row. */
export interface LosslessJpeg {
  width: number;
  height: number;
  /** Sample precision P in bits (2-16). */
  precision: number;
  /** Predictor selection value (1-7) and point transform of the scan. */
  predictor: number;
  pointTransform: number;
  samples: Uint16Array;
}

/** A Huffman table as a 16-bit look-ahead: entry = (code length << 8) | symbol, 0 for no code. */
type HuffmanLookup = Uint16Array;

function buildLookup(counts: Uint8Array, symbols: Uint8Array, source: string): HuffmanLookup {
  const lookup = new Uint16Array(1 << 16);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < counts[length - 1]; i++) {
      if (code >= 1 << length) throw new Error(`JPEG Huffman table expected a valid prefix code, got too many codes of ${length} bits (${source})`);
      const first = code << (16 - length);
      const span = 1 << (16 - length);
      lookup.fill((length << 8) | symbols[k++], first, first + span);
      code++;
    }
    code <<= 1;
  }
  return lookup;
}

/**
 * Decodes a lossless JPEG bitstream (one frame, one component): DHT, SOF3, DRI and SOS segments, restart markers,
 * byte stuffing; APPn, COM and DNL segments skipped. Reconstruction follows T.81 Annex H: prediction
 * 2^(P-Pt-1) for the first sample of the image and of every restart interval, Ra along the first line, Rb down the
 * first column, the scan's predictor elsewhere, sums modulo 2^16, output shifted left by Pt.
 * @throws naming `source`: another process (baseline, progressive, arithmetic), several components, a truncated
 *   stream, a missing table.
 */
export function decodeLosslessJpeg(bytes: Uint8Array, source = 'jpeg'): LosslessJpeg {
  const fail = (what: string): never => {
    throw new Error(`lossless JPEG ${what} (${source})`);
  };
  const tables: (HuffmanLookup | undefined)[] = [];
  let width = 0;
  let height = 0;
  let precision = 0;
  let componentId = -1;
  let restartInterval = 0;
  const u16 = (p: number) => readU16(bytes, p, fail);
  for (const { marker, start: seg, end } of jpegSegments(bytes, fail)) {
    { // fill byte
    }
    if (marker === 0xc4) {
      for (let p = seg; p < end; ) {
        const id = bytes[p] & 0x0f;
        const counts = bytes.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        tables[id] = buildLookup(counts, bytes.subarray(p + 17, p + 17 + total), source);
        p += 17 + total;
      }
    } else if (marker === 0xc3) {
      precision = bytes[seg];
      height = u16(seg + 1);
      width = u16(seg + 3);
      const components = bytes[seg + 5];
      if (components !== 1) fail(`expected one component (greyscale), got ${components}`);
      componentId = bytes[seg + 6];
      if (!(precision >= 2 && precision <= 16)) fail(`precision expected 2-16 bits, got ${precision}`);
      if (width === 0 || height === 0) fail(`size expected positive, got ${width} x ${height} (a DNL-defined height is not supported)`);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const kinds: Record<number, string> = { 0xc0: 'baseline', 0xc1: 'extended', 0xc2: 'progressive', 0xc9: 'arithmetic extended', 0xcb: 'arithmetic lossless' };
      fail(`expected process 14 (SOF3, Huffman lossless), got SOF${marker - 0xc0}${kinds[marker] ? ` (${kinds[marker]})` : ''}`);
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    } else if (marker === 0xda) {
      if (!width) fail('expected the frame header (SOF3) before the scan, got none');
      const count = bytes[seg];
      if (count !== 1 || bytes[seg + 1] !== componentId) fail(`scan expected the frame's one component, got ${count} components`);
      const table = tables[bytes[seg + 2] >> 4];
      if (!table) fail(`Huffman table ${bytes[seg + 2] >> 4} expected before the scan, got none`);
      const predictor = bytes[seg + 3];
      const pointTransform = bytes[seg + 5] & 0x0f;
      if (!(predictor >= 1 && predictor <= 7)) fail(`predictor selection value expected 1-7, got ${predictor}`);
      const samples = decodeScan(bytes, end, { width, height, precision, predictor, pointTransform, restartInterval, table: table!, fail });
      return { width, height, precision, predictor, pointTransform, samples };
    }
  }
  return fail('expected a start-of-scan (FFDA) marker, got none');
}

interface ScanSpec {
  width: number;
  height: number;
  precision: number;
  predictor: number;
  pointTransform: number;
  restartInterval: number;
  table: HuffmanLookup;
  fail: (what: string) => never;
}

function decodeScan(bytes: Uint8Array, start: number, spec: ScanSpec): Uint16Array {
  const { width, height, precision, predictor, pointTransform, restartInterval, table, fail } = spec;
  const out = new Uint16Array(width * height);
  // Reconstructed values before the point transform's shift; predictions use these.
  const prev = new Int32Array(width);
  const cur = new Int32Array(width);
  let pos = start;
  let bitBuffer = 0; // up to 32 bits, most significant first
  let bitCount = 0;
  let markerHit = false;
  const fill = () => {
    while (bitCount <= 24) {
      let byte = 0;
      if (!markerHit && pos < bytes.length) {
        byte = bytes[pos];
        if (byte === 0xff) {
          const next = bytes[pos + 1];
          if (next === 0x00) pos += 2;
          else {
            // A marker ends the entropy-coded segment: feed zeros until the caller handles it.
            markerHit = true;
            byte = 0;
          }
        } else pos++;
      } else if (!markerHit && pos >= bytes.length) {
        markerHit = true;
      }
      bitBuffer = (bitBuffer | (byte << (24 - bitCount))) >>> 0;
      bitCount += 8;
    }
  };
  const bits = (n: number): number => {
    if (n === 0) return 0;
    if (bitCount < n) fill();
    const v = bitBuffer >>> (32 - n);
    bitBuffer = (bitBuffer << n) >>> 0;
    bitCount -= n;
    return v;
  };
  const decodeDiff = (): number => {
    if (bitCount < 16) fill();
    const entry = table[bitBuffer >>> 16];
    if (entry === 0) fail(`Huffman code expected, got an invalid code at offset ${pos}`);
    const length = entry >> 8;
    bitBuffer = (bitBuffer << length) >>> 0;
    bitCount -= length;
    const t = entry & 0xff;
    if (t === 0) return 0;
    if (t === 16) return 32768;
    if (t > 16) fail(`difference category expected 0-16, got ${t}`);
    const v = bits(t);
    return v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
  };
  const initial = 1 << (precision - pointTransform - 1);
  let untilRestart = restartInterval;
  let firstLine = true; // the first line of the image or after a restart: predictor 1
  let resetSample = true;
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (restartInterval && untilRestart === 0) {
        // Expect RSTn: drop the remaining bits, skip the marker, reset the predictor.
        bitBuffer = 0;
        bitCount = 0;
        markerHit = false;
        while (pos < bytes.length && bytes[pos] === 0xff && bytes[pos + 1] === 0xff) pos++;
        if (!(pos + 1 < bytes.length && bytes[pos] === 0xff && bytes[pos + 1] >= 0xd0 && bytes[pos + 1] <= 0xd7)) {
          fail(`restart marker expected after ${restartInterval} samples at offset ${pos}, got ${pos + 1 < bytes.length ? `${hex(bytes[pos])}${hex(bytes[pos + 1])}` : 'the end of the data'}`);
        }
        pos += 2;
        untilRestart = restartInterval;
        firstLine = true;
        resetSample = true;
      }
      let p: number;
      if (resetSample) {
        p = initial;
        resetSample = false;
      } else if (firstLine) p = x > 0 ? cur[x - 1] : prev[x];
      else if (x === 0) p = prev[0];
      else {
        const a = cur[x - 1];
        const b = prev[x];
        const c = prev[x - 1];
        switch (predictor) {
          case 1: p = a; break;
          case 2: p = b; break;
          case 3: p = c; break;
          case 4: p = a + b - c; break;
          case 5: p = a + ((b - c) >> 1); break;
          case 6: p = b + ((a - c) >> 1); break;
          default: p = (a + b) >> 1;
        }
      }
      const value = (p + decodeDiff()) & 0xffff;
      cur[x] = value;
      out[total++] = (value << pointTransform) & 0xffff;
      if (restartInterval) untilRestart--;
    }
    prev.set(cur);
    firstLine = false;
  }
  // A stream that ran out before the last sample decoded zeros past its end: refuse it.
  if (markerHit && pos >= bytes.length) fail(`entropy-coded data expected for ${width} x ${height} samples, got the end of the data (truncated)`);
  return out;
}
