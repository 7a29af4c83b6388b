import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findStateDict, readTorchFile } from '../../src/io/torch-file';
import { encodeTorchFile, TorchTensorToSave, writeTorchFile } from '../../src/io/torch-save';
import { readZip } from '../../src/io/zip';
import { tempDir } from '../support/paths';

describe('io: torch.save files written without Python', () => {
  // That PyTorch 1.13 loads these bytes (torch.load(weights_only=True), load_state_dict(strict=True)) is checked on
  // the exported models in test/models/export-torch.test.ts; here the format's details.
  const state = new Map<string, TorchTensorToSave>([
    ['conv.weight', { dtype: 'float32', shape: [2, 1, 3, 3, 3], values: Float32Array.from({ length: 54 }, (_, i) => (i - 27) / 7) }],
    ['special', { dtype: 'float32', shape: [4], values: [-0, NaN, Infinity, 3.4e38] }],
    ['bn.num_batches_tracked', { dtype: 'int64', shape: [], values: [2 ** 40 + 1] }],
    ['empty', { dtype: 'float32', shape: [0, 3], values: [] }],
  ]);

  it('reads back with every key in order, its dtype, shape and exact values', () => {
    const file = path.join(tempDir(), 'fold0.pt');
    writeTorchFile(file, state);
    const back = findStateDict(readTorchFile(file), file);
    assert.deepEqual([...back.keys()], [...state.keys()]);
    for (const [k, t] of state) {
      const b = back.get(k)!;
      assert.equal(b.dtype, t.dtype, k);
      assert.deepEqual(b.shape, [...t.shape], k);
      assert.deepEqual([...b.values], Array.from(t.values, (v) => (t.dtype === 'float32' ? Math.fround(v) : v)), k);
    }
    assert.ok(Object.is(back.get('special')!.values[0], -0));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['fold0.pt'], 'written in place, no temporary file left');
  });

  it('lays the archive out as torch.save does: one folder named after the file, version 3, little-endian storages on 64-byte boundaries', () => {
    const bytes = encodeTorchFile(state, 'fold0');
    const entries = readZip(bytes, 'fold0.pt');
    assert.deepEqual([...entries.keys()], ['fold0/data.pkl', 'fold0/byteorder', 'fold0/data/0', 'fold0/data/1', 'fold0/data/2', 'fold0/data/3', 'fold0/version']);
    assert.equal(Buffer.from(entries.get('fold0/version')!.read()).toString(), '3\n');
    assert.equal(Buffer.from(entries.get('fold0/byteorder')!.read()).toString(), 'little');
    const long = entries.get('fold0/data/2')!.read();
    assert.equal(Buffer.from(long).readBigInt64LE(0), 2n ** 40n + 1n);
    for (const k of ['fold0/data/0', 'fold0/data/1', 'fold0/data/2']) assert.equal((entries.get(k)!.read().byteOffset - bytes.byteOffset) % 64, 0, k);
    assert.deepEqual(Buffer.from(encodeTorchFile(state, 'fold0')), Buffer.from(encodeTorchFile(state, 'fold0')), 'deterministic');
  });

  it('names the tensor whose values do not fit, and refuses archive names torch could not use', () => {
    assert.throws(() => encodeTorchFile(new Map([['a.weight', { dtype: 'float32', shape: [2, 3], values: [1, 2] }]])), /tensor a\.weight expected 6 values for shape \[2,3\], got 2/);
    assert.throws(() => encodeTorchFile(new Map([['n', { dtype: 'int64', shape: [2], values: [1, 0.5] }]])), /tensor n expected int64 values \(safe integers\), got 0\.5 at 1/);
    assert.throws(() => encodeTorchFile(state, 'a/b'), /torch archive name expected letters, digits, "_", "\." or "-", got "a\/b"/);
  });
});
