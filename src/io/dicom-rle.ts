/**
 * DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5, PS3.5 Annex G): a 64-byte header of segment offsets, then
 * one PackBits segment per byte plane of the samples, most significant byte first.
 */

/**
 * Decodes one RLE frame into `count` samples of `bytesPerSample` bytes (1, 2 or 4), as unsigned words.
 * @throws naming `source`: a header that does not match the sample size, a segment that ends early.
 */
export function decodeDicomRle(frame: Uint8Array, count: number, bytesPerSample: number, source = 'rle'): Uint8Array | Uint16Array | Uint32Array {
  if (frame.length < 64) throw new Error(`RLE header expected 64 bytes, got ${frame.length} (${source})`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== bytesPerSample) {
    throw new Error(`RLE segments expected ${bytesPerSample} (one per byte of a ${bytesPerSample * 8}-bit sample), got ${segments} (${source})`);
  }
  const out = bytesPerSample === 1 ? new Uint8Array(count) : bytesPerSample === 2 ? new Uint16Array(count) : new Uint32Array(count);
  const plane = new Uint8Array(count);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (!(start >= 64 && start <= end && end <= frame.length)) {
      throw new Error(`RLE segment ${s + 1} expected within the frame's ${frame.length} bytes, got offsets ${start}-${end} (${source})`);
    }
    let p = start;
    let n = 0;
    while (n < count && p < end) {
      const h = (frame[p++] << 24) >> 24;
      if (h >= 0) {
        const run = Math.min(h + 1, count - n, end - p);
        plane.set(frame.subarray(p, p + run), n);
        n += run;
        p += h + 1;
      } else if (h !== -128) {
        const run = Math.min(1 - h, count - n);
        plane.fill(frame[p++], n, n + run);
        n += run;
      }
    }
    if (n < count) throw new Error(`RLE segment ${s + 1} expected ${count} bytes, got ${n} (${source}: truncated)`);
    const shift = 8 * (segments - 1 - s);
    for (let i = 0; i < count; i++) out[i] = (out[i] + plane[i] * 2 ** shift) >>> 0;
  }
  return out;
}
