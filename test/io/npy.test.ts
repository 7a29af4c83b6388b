import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../../src/io/npy';
import { readVolume } from '../../src/io/read-volume';
import { volumeValues } from '../../src/io/volume';
import { FIXTURES, fixture, tempDir } from '../support/paths';

// Arrays saved by numpy.save / np.lib.format.write_array (test/fixtures/gen/make_fixtures.py).
const f = fixture('npy.json');

describe('io/npy', () => {
  for (const c of f.arrays) {
    it(`reads ${c.file} as numpy.load does (C order values)`, () => {
      const a = readNpy(path.join(FIXTURES, c.file));
      assert.deepEqual(a.shape, c.shape);
      assert.deepEqual(Array.from(a.data), c.values.map((v: number) => (a.dtype === 'float32' ? Math.fround(v) : v)));
    });
  }

  it('maps a nibabel-ordered (x, y, z) array to the volume layout, and a (z, y, x) one unchanged', async () => {
    const file = path.join(FIXTURES, 'npy/i2.npy');
    const a = readNpy(file);
    const [nx, ny, nz] = a.shape;
    const xyz = await readVolume(file, 'xyz');
    assert.deepEqual(xyz.dims, [nx, ny, nz]);
    const vals = volumeValues(xyz);
    for (const [x, y, z] of [[0, 0, 0], [3, 2, 4], [1, 2, 3]]) assert.equal(vals[x + nx * (y + ny * z)], a.data[(x * ny + y) * nz + z]);
    const zyx = await readVolume(file, 'zyx');
    assert.deepEqual(zyx.dims, [nz, ny, nx]);
    assert.deepEqual(Array.from(zyx.raw), Array.from(a.data));
  });

  it('round-trips what it writes', () => {
    const dir = tempDir();
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 3);
    writeNpy(path.join(dir, 'x.npy'), data, [2, 3, 4]);
    const back = readNpy(path.join(dir, 'x.npy'));
    assert.deepEqual(back.shape, [2, 3, 4]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
    assert.equal((encodeNpy(data, [24]).length - 24 * 4) % 64, 0, 'header padded to 64 bytes');
  });

  it('refuses bad magic, unsupported dtype, truncation and non-3D volumes with the file named', async () => {
    assert.throws(() => parseNpy(Buffer.from('not an npy file at all'), 'x.npy'), /magic expected .* \(x\.npy\)/);
    const good = fs.readFileSync(path.join(FIXTURES, 'npy/f4.npy'));
    assert.throws(() => parseNpy(good.subarray(0, good.length - 8), 'cut.npy'), /truncated file \(cut\.npy\)/);
    const c8 = Buffer.from(good);
    c8.write("'<c8'", c8.indexOf("'<f4'"), 'latin1');
    assert.throws(() => parseNpy(c8, 'c8.npy'), /dtype expected one of .* got '<c8' \(c8\.npy\)/);
    const dir = tempDir();
    writeNpy(path.join(dir, 'flat.npy'), new Float32Array(6), [6]);
    await assert.rejects(readVolume(path.join(dir, 'flat.npy')), /expected 3 dimensions, got shape \(6\)/);
    await assert.rejects(readVolume(path.join(dir, 'image.png')), /expected \.nii, \.nii\.gz or \.npy, got "\.png"/);
  });
});
