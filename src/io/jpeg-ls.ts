import { hex, jpegSegments, readU16 } from './jpeg-markers';

/**
 * JPEG-LS (ITU T.87, LOCO-I), the compression of DICOM's transfer syntaxes 1.2.840.10008.1.2.4.80 (lossless) and .81
 * (near-lossless): context-modelled prediction, Golomb-coded residuals and run mode. One component (greyscale).
 */

/** A decoded JPEG-LS image: samples of up to 16 bits, row by row. */
export interface JpegLsImage {
  width: number;
  height: number;
  /** Sample precision P in bits (2-16). */
  precision: number;
  /** Maximum absolute error per sample: 0 for lossless. */
  near: number;
  samples: Uint16Array;
}

/** Run lengths per run index (T.87 A.7.1.1, J[0..31]). */
const J = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/** The coding parameters of T.87 C.2.4.1.1 (defaults of C.2.4.1.1.1 where the stream has no LSE segment). */
interface Parameters {
  maxVal: number;
  t1: number;
  t2: number;
  t3: number;
  reset: number;
}

function defaultParameters(maxVal: number, near: number): Parameters {
  const clamp = (i: number, j: number) => (i > maxVal || i < j ? j : i);
  if (maxVal >= 128) {
    const factor = Math.floor((Math.min(maxVal, 4095) + 128) / 256);
    const t1 = clamp(factor * (3 - 2) + 2 + 3 * near, near + 1);
    const t2 = clamp(factor * (7 - 3) + 3 + 5 * near, t1);
    return { maxVal, t1, t2, t3: clamp(factor * (21 - 4) + 4 + 7 * near, t2), reset: 64 };
  }
  const factor = Math.floor(256 / (maxVal + 1));
  const t1 = clamp(Math.max(2, Math.floor(3 / factor) + 3 * near), near + 1);
  const t2 = clamp(Math.max(3, Math.floor(7 / factor) + 5 * near), t1);
  return { maxVal, t1, t2, t3: clamp(Math.max(4, Math.floor(21 / factor) + 7 * near), t2), reset: 64 };
}

/**
 * Decodes a JPEG-LS bitstream of one frame and one component: SOF55, LSE (coding parameters), SOS; APPn and COM
 * skipped. Follows T.87 Annex A for the decoder (the context states, bias correction and run interruption coding
 * as the standard defines them).
 * @throws naming `source`: several components, a mapping table, a restart interval or point transform (not used by
 *   DICOM writers), a truncated stream.
 */
export function decodeJpegLs(bytes: Uint8Array, source = 'jpeg-ls'): JpegLsImage {
  const fail = (what: string): never => {
    throw new Error(`JPEG-LS ${what} (${source})`);
  };
  let width = 0;
  let height = 0;
  let precision = 0;
  let custom: Partial<Parameters> = {};
  const u16 = (p: number) => readU16(bytes, p, fail);
  for (const { marker, start: seg, end } of jpegSegments(bytes, fail)) {
    if (marker === 0xf7) {
      precision = bytes[seg];
      height = u16(seg + 1);
      width = u16(seg + 3);
      if (bytes[seg + 5] !== 1) fail(`expected one component (greyscale), got ${bytes[seg + 5]}`);
      if (!(precision >= 2 && precision <= 16)) fail(`precision expected 2-16 bits, got ${precision}`);
      if (width === 0 || height === 0) fail(`size expected positive, got ${width} x ${height}`);
    } else if (marker === 0xf8) {
      const id = bytes[seg];
      if (id !== 1) fail(`LSE segment expected coding parameters (id 1), got id ${id} (mapping tables are not read)`);
      const value = (o: number) => u16(seg + 1 + 2 * o) || undefined;
      custom = { maxVal: value(0), t1: value(1), t2: value(2), t3: value(3), reset: value(4) };
    } else if (marker === 0xdd) {
      if (u16(seg) !== 0) fail(`restart interval expected none, got ${u16(seg)}`);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      fail(`expected a JPEG-LS frame (SOF55, FFF7), got SOF${marker - 0xc0} (another JPEG process)`);
    } else if (marker === 0xda) {
      if (!width) fail('expected the frame header (SOF55) before the scan, got none');
      if (bytes[seg] !== 1) fail(`scan expected one component, got ${bytes[seg]}`);
      if (bytes[seg + 2] !== 0) fail(`scan expected no mapping table, got table ${bytes[seg + 2]}`);
      const near = bytes[seg + 3];
      if ((bytes[seg + 5] & 0x0f) !== 0) fail(`point transform expected 0, got ${bytes[seg + 5] & 0x0f}`);
      const maxVal = custom.maxVal ?? (1 << precision) - 1;
      const defaults = defaultParameters(maxVal, near);
      const params: Parameters = {
        maxVal,
        t1: custom.t1 ?? defaults.t1,
        t2: custom.t2 ?? defaults.t2,
        t3: custom.t3 ?? defaults.t3,
        reset: custom.reset ?? defaults.reset,
      };
      const samples = decodeScan(bytes, end, width, height, near, params, fail);
      return { width, height, precision, near, samples };
    }
  }
  return fail('expected a start-of-scan (FFDA) marker, got none');
}

function decodeScan(
  bytes: Uint8Array,
  start: number,
  width: number,
  height: number,
  near: number,
  params: Parameters,
  fail: (what: string) => never,
): Uint16Array {
  const { maxVal, t1, t2, t3, reset } = params;
  const range = Math.floor((maxVal + 2 * near) / (2 * near + 1)) + 1;
  const qbpp = Math.ceil(Math.log2(range));
  const bpp = Math.max(2, Math.ceil(Math.log2(maxVal + 1)));
  const limit = 2 * (bpp + Math.max(8, bpp));
  const step = 2 * near + 1;
  const initialA = Math.max(2, Math.floor((range + 32) / 64));
  // Regular contexts by |Q| (1..364); run-interruption contexts 0 (RItype 0) and 1.
  const A = new Int32Array(365).fill(initialA);
  const B = new Int32Array(365);
  const C = new Int32Array(365);
  const N = new Int32Array(365).fill(1);
  const runA = [initialA, initialA];
  const runN = [1, 1];
  const runNn = [0, 0];
  let runIndex = 0;

  // Bits, with T.87's stuffing: after an FF byte the next byte carries 7 bits (its top bit is a stuffed 0).
  let pos = start;
  let buffer = 0;
  let count = 0;
  let afterFF = false;
  let ended = false;
  // Bits fed from the stream and bits read: reading past the data (zeros) means it was truncated.
  let fed = 0;
  let consumed = 0;
  const fill = () => {
    while (count <= 24) {
      let bits = 0;
      let n = 8;
      if (!ended && pos < bytes.length) {
        const b = bytes[pos];
        if (afterFF) {
          if (b & 0x80) {
            ended = true; // a marker: the entropy-coded data ends here
          } else {
            bits = b;
            n = 7;
            pos++;
          }
          afterFF = false;
        } else {
          bits = b;
          pos++;
          afterFF = b === 0xff;
        }
      } else ended = true;
      if (ended) {
        bits = 0;
        n = 8;
      } else fed += n;
      buffer = (buffer | (bits << (32 - count - n))) >>> 0;
      count += n;
    }
  };
  const readBits = (n: number): number => {
    if (n === 0) return 0;
    if (count < n) fill();
    consumed += n;
    const v = buffer >>> (32 - n);
    buffer = (buffer << n) >>> 0;
    count -= n;
    return v;
  };
  const readBit = () => readBits(1);
  const decodeValue = (k: number, glimit: number): number => {
    let high = 0;
    while (readBit() === 0) {
      high++;
      if (high > glimit || consumed > fed + 64) fail(`Golomb code expected at most ${glimit} leading zeros, got more (corrupt or truncated data at offset ${pos})`);
    }
    if (high >= glimit - (qbpp + 1)) return readBits(qbpp) + 1;
    return k === 0 ? high : high * 2 ** k + readBits(k);
  };
  const quantize = (d: number): number => {
    if (d <= -t3) return -4;
    if (d <= -t2) return -3;
    if (d <= -t1) return -2;
    if (d < -near) return -1;
    if (d <= near) return 0;
    if (d < t1) return 1;
    if (d < t2) return 2;
    if (d < t3) return 3;
    return 4;
  };
  const clampSample = (v: number) => (v < 0 ? 0 : v > maxVal ? maxVal : v);
  const reconstruct = (predicted: number, error: number): number => {
    let v = predicted + error * step;
    if (v < -near) v += range * step;
    else if (v > maxVal + near) v -= range * step;
    return clampSample(v);
  };

  const out = new Uint16Array(width * height);
  // Lines with one extra sample at each end (index 0 is x = -1), as T.87 A.2.1 defines the edges.
  let prev = new Int32Array(width + 2);
  let cur = new Int32Array(width + 2);
  for (let y = 0; y < height; y++) {
    prev[width + 1] = prev[width];
    cur[0] = prev[1];
    let x = 0;
    while (x < width) {
      const ra = cur[x];
      const rc = prev[x];
      const rb = prev[x + 1];
      const rd = prev[x + 2];
      const qs = (quantize(rd - rb) * 9 + quantize(rb - rc)) * 9 + quantize(rc - ra);
      if (qs !== 0) {
        const sign = qs < 0 ? -1 : 1;
        const q = qs * sign;
        let predicted: number;
        if (rc >= Math.max(ra, rb)) predicted = Math.min(ra, rb);
        else if (rc <= Math.min(ra, rb)) predicted = Math.max(ra, rb);
        else predicted = ra + rb - rc;
        predicted = clampSample(predicted + sign * C[q]);
        let k = 0;
        while (N[q] << k < A[q]) k++;
        const mapped = decodeValue(k, limit);
        let error = mapped % 2 === 0 ? mapped / 2 : -(mapped + 1) / 2;
        // The inverted mapping of A.5.2 for k = 0 in contexts biased negative (lossless only).
        if (k === 0 && near === 0 && 2 * B[q] + N[q] - 1 < 0) error = -error - 1;
        A[q] += Math.abs(error);
        B[q] += error * step;
        if (N[q] === reset) {
          A[q] >>= 1;
          B[q] >>= 1;
          N[q] >>= 1;
        }
        N[q]++;
        if (B[q] + N[q] <= 0) {
          B[q] += N[q];
          if (B[q] <= -N[q]) B[q] = -N[q] + 1;
          if (C[q] > -128) C[q]--;
        } else if (B[q] > 0) {
          B[q] -= N[q];
          if (B[q] > 0) B[q] = 0;
          if (C[q] < 127) C[q]++;
        }
        cur[x + 1] = reconstruct(predicted, sign * error);
        x++;
        continue;
      }
      // Run mode (A.7): samples equal to Ra (within NEAR) up to an interruption or the end of the line.
      const remaining = width - x;
      let run = 0;
      while (readBit() === 1) {
        const n = Math.min(1 << J[runIndex], remaining - run);
        run += n;
        if (n === 1 << J[runIndex] && runIndex < 31) runIndex++;
        if (run === remaining) break;
        if (consumed > fed + 64) fail(`run expected to end, got the end of the data (truncated)`);
      }
      if (run !== remaining) run += readBits(J[runIndex]);
      if (run > remaining) fail(`run expected within the ${remaining} samples left on line ${y + 1}, got ${run}`);
      for (let i = 0; i < run; i++) cur[x + 1 + i] = ra;
      x += run;
      if (x === width) break;
      // The run interruption sample.
      const rbI = prev[x + 1];
      const riType = Math.abs(ra - rbI) <= near ? 1 : 0;
      const temp = runA[riType] + (runN[riType] >> 1) * riType;
      let k = 0;
      while (runN[riType] << k < temp) k++;
      const emapped = decodeValue(k, limit - J[runIndex] - 1);
      const t = emapped + riType;
      const map = t & 1;
      const magnitude = (t + map) >> 1;
      const error = (k !== 0 || 2 * runNn[riType] >= runN[riType]) === (map === 1) ? -magnitude : magnitude;
      if (error < 0) runNn[riType]++;
      runA[riType] += (emapped + 1 - riType) >> 1;
      if (runN[riType] === reset) {
        runA[riType] >>= 1;
        runN[riType] >>= 1;
        runNn[riType] >>= 1;
      }
      runN[riType]++;
      cur[x + 1] = riType === 1 ? reconstruct(ra, error) : reconstruct(rbI, error * (rbI - ra < 0 ? -1 : 1));
      if (runIndex > 0) runIndex--;
      x++;
    }
    for (let i = 0; i < width; i++) out[y * width + i] = cur[i + 1];
    const swap = prev;
    prev = cur;
    cur = swap;
  }
  if (consumed > fed) fail(`entropy-coded data expected for ${width} x ${height} samples, got the end of the data (truncated)`);
  return out;
}
