import { strict as assert } from 'node:assert';
import * as zlib from 'node:zlib';

/** Decodes the PNGs report/png writes (8-bit grey or RGB, filter 0 rows) for checking their pixels. */
export function decodePng(png: Uint8Array): { width: number; height: number; colorType: number; rows: Uint8Array[] } {
  const b = Buffer.from(png);
  assert.deepEqual([...b.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (off < b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const data = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') [width, height, colorType] = [data.readUInt32BE(0), data.readUInt32BE(4), data[9]];
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const channels = colorType === 2 ? 3 : 1;
  const rows = Array.from({ length: height }, (_, y) => raw.subarray(y * (width * channels + 1) + 1, (y + 1) * (width * channels + 1)));
  return { width, height, colorType, rows };
}

