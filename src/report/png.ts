import * as zlib from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes an 8-bit image as PNG (grey when `channels` is 1, RGB when 3), so notebooks can show CT slices without a
 * browser plotting library. @param pixels row-major, `width * height * channels` bytes.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 1): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new Error(`PNG pixels expected ${width * height * channels} bytes for ${width}x${height}x${channels}, got ${pixels.length}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const signature = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const parts = [signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))];
  return Buffer.concat(parts);
}

/**
 * One value as 8-bit grey in the window `low`..`high` (0 below, 255 above), the mapping every slice image here uses;
 * e.g. 0..80 HU for the brain window, 0..1 for a preprocessed volume.
 */
export function windowGrey(value: number, low: number, high: number): number {
  const g = Math.round(((value - low) / (high - low || 1)) * 255);
  return g < 0 ? 0 : g > 255 ? 255 : g;
}

/**
 * Integer upsampling for a slice `width` voxels wide, so scans downsampled for a quick look (narrower than 160
 * voxels) show at 256 px or more, and full-resolution ones at their own size.
 */
export function displayScale(width: number): number {
  return width < 160 ? Math.ceil(256 / width) : 1;
}

/**
 * Maps one slice of a [depth, height, width] volume to 8-bit grey between `low` and `high` (values outside are
 * clipped), e.g. a CT window of 0..80 HU, or 0..1 for a preprocessed volume.
 * @param scale integer upsampling (nearest neighbour) so small volumes stay readable.
 */
export function sliceToPng(data: ArrayLike<number>, shape: [number, number, number], depth: number, low: number, high: number, scale = 1): Uint8Array {
  const [d, h, w] = shape;
  if (!(depth >= 0 && depth < d)) throw new Error(`slice index expected 0..${d - 1}, got ${depth}`);
  const s = Math.max(1, Math.floor(scale));
  const out = new Uint8Array(h * s * w * s);
  for (let y = 0; y < h * s; y++) {
    for (let x = 0; x < w * s; x++) out[y * w * s + x] = windowGrey(data[(depth * h + Math.floor(y / s)) * w + Math.floor(x / s)], low, high);
  }
  return encodePng(out, w * s, h * s, 1);
}
