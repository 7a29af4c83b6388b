/** The marker segments of a JPEG-family bitstream (T.81 B.1.1, shared by T.87), walked up to the start of scan. */

/** One marker segment: its marker byte (after FF) and where its payload starts and ends. */
export interface JpegSegment {
  marker: number;
  /** Offset of the payload (after the 2-byte length). */
  start: number;
  /** Offset just past the segment. */
  end: number;
}

/** Two hex digits. */
export function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/** A big-endian 16-bit value at `p`, or `fail` when the bytes end first. */
export function readU16(bytes: Uint8Array, p: number, fail: (what: string) => never): number {
  if (p + 2 > bytes.length) fail(`expected 2 more bytes at offset ${p}, got ${bytes.length - p} (truncated)`);
  return (bytes[p] << 8) | bytes[p + 1];
}

/**
 * Yields the segments after SOI, fill bytes skipped, until the caller stops (at SOS) or `fail`s.
 * @param fail throws with the caller's prefix and source, e.g. "lossless JPEG <what> (file)".
 */
export function* jpegSegments(bytes: Uint8Array, fail: (what: string) => never): Generator<JpegSegment> {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) fail(`expected the SOI marker FFD8 first, got ${bytes.length < 2 ? 'too few bytes' : `${hex(bytes[0])}${hex(bytes[1])}`}`);
  let pos = 2;
  for (;;) {
    if (pos + 4 > bytes.length) fail(`expected a start-of-scan (FFDA) marker, got the end of the data at offset ${pos}`);
    if (bytes[pos] !== 0xff) fail(`expected a marker at offset ${pos}, got ${hex(bytes[pos])}`);
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    const length = readU16(bytes, pos + 2, fail);
    const end = pos + 2 + length;
    if (end > bytes.length) fail(`segment FF${hex(marker)} expected ${length} bytes at offset ${pos}, got ${bytes.length - pos - 2} (truncated)`);
    if (marker === 0xd9) fail('expected a scan before EOI, got none');
    yield { marker, start: pos + 4, end };
    pos = end;
  }
}
