import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, isSafetensors, readSafetensors } from '../../src/io/safetensors';
import { findStateDict, readTorchFile } from '../../src/io/torch-file';
import { TorchTensorToSave } from '../../src/io/torch-save';
import { FIXTURES, fixture, tempDir } from '../support/paths';

const TORCH2 = path.join(FIXTURES, 'torch', 'torch2');

/** A safetensors file from its header object and data bytes, for the damaged cases. */
function craft(header: object, data: Uint8Array, headerBytes?: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(headerBytes ?? json.length));
  return Buffer.concat([head, json, data]);
}

describe('io: safetensors files read and written without Python', () => {
  // Golden: test/fixtures/gen/make_torch_file_fixtures.py under Debian trixie's python3-torch 2.6 and
  // python3-safetensors 0.5.2: tensors.safetensors is safetensors.torch.save_file of tensors.pt's state dict (contiguous
  // copies), its values in tensors.json; the generator checked that load_file gives them back.
  it('tensors.safetensors (safetensors.torch.save_file): every dtype, 0-d and empty tensors, the metadata', () => {
    const expected = fixture<{ tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> }>('torch/torch2/tensors.json').tensors;
    const { tensors, metadata } = readSafetensors(path.join(TORCH2, 'tensors.safetensors'));
    assert.deepEqual(metadata, { epoch: '7' });
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).sort());
    for (const [key, e] of Object.entries(expected)) {
      const t = tensors.get(key)!;
      assert.equal(t.dtype, e.dtype, key);
      assert.deepEqual(t.shape, e.shape, key);
      assert.deepEqual(Array.from(t.values, (v) => Math.fround(v)), e.values.map(Math.fround), key);
    }
    assert.equal(tensors.get('int64')!.values[3], 2 ** 40, 'int64 is exact beyond float32');
  });

  it('authors-3head.safetensors holds the very weights of authors-3head.pt (same PyTorch model)', () => {
    const st = readSafetensors(path.join(TORCH2, 'authors-3head.safetensors')).tensors;
    const pt = findStateDict(readTorchFile(path.join(TORCH2, 'authors-3head.pt')), 'authors-3head.pt');
    assert.deepEqual([...st.keys()].sort(), [...pt.keys()].sort());
    for (const [k, t] of pt) {
      assert.deepEqual(st.get(k)!.shape, t.shape, k);
      assert.deepEqual(Array.from(st.get(k)!.values), Array.from(t.values), k);
    }
  });

  it('tells safetensors from torch.save files by their first bytes', () => {
    assert.ok(isSafetensors(fs.readFileSync(path.join(TORCH2, 'tensors.safetensors'))));
    for (const f of ['tensors.pt', 'legacy.pt']) assert.ok(!isSafetensors(fs.readFileSync(path.join(TORCH2, f))), f);
    assert.ok(!isSafetensors(Buffer.alloc(4)));
  });

  it('writes what it reads: header order, int64 bytes before float32 ones, the header padded to 8 bytes', () => {
    const state = new Map<string, TorchTensorToSave>([
      ['conv.weight', { dtype: 'float32', shape: [2, 1, 1, 1, 3], values: Float32Array.of(1, -2, 3.5, 0, 1e-8, -7) }],
      ['bn.num_batches_tracked', { dtype: 'int64', shape: [], values: [12] }],
      ['bn.weight', { dtype: 'float32', shape: [3], values: Float32Array.of(0.5, 0.25, 2) }],
      ['empty', { dtype: 'float32', shape: [0, 4], values: new Float32Array(0) }],
    ]);
    const bytes = Buffer.from(encodeSafetensors(state, { fold: '0' }));
    const headerBytes = Number(bytes.readBigUInt64LE(0));
    assert.equal(headerBytes % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8'));
    assert.deepEqual(Object.keys(header), ['__metadata__', ...state.keys()]);
    assert.deepEqual(header.__metadata__, { format: 'pt', fold: '0' });
    assert.deepEqual(header['bn.num_batches_tracked'].data_offsets, [0, 8], 'the int64 first, aligned');
    const file = path.join(tempDir(), 'round.safetensors');
    fs.writeFileSync(file, bytes);
    const back = readSafetensors(file);
    assert.deepEqual([...back.tensors.keys()], [...state.keys()]);
    for (const [k, t] of state) {
      assert.equal(back.tensors.get(k)!.dtype, t.dtype, k);
      assert.deepEqual(back.tensors.get(k)!.shape, [...t.shape], k);
      assert.deepEqual(Array.from(back.tensors.get(k)!.values), Array.from(t.values, (v) => Math.fround(v)), k);
    }
    assert.deepEqual(encodeSafetensors(state, { fold: '0' }), encodeSafetensors(state, { fold: '0' }), 'deterministic');
    assert.throws(() => encodeSafetensors(new Map([['x', { dtype: 'float32', shape: [2], values: [1] }]])), /tensor x expected 2 values for shape \[2\], got 1/);
  });

  it('refuses damaged files by name: truncated, header length, JSON, dtype, sizes, gaps and overlaps', () => {
    const dir = tempDir();
    const check = (name: string, bytes: Buffer, pattern: RegExp) => {
      const file = path.join(dir, `${name}.safetensors`);
      fs.writeFileSync(file, bytes);
      assert.throws(() => readSafetensors(file), (err: Error) => pattern.test(err.message) && err.message.includes(file), name);
    };
    const good = fs.readFileSync(path.join(TORCH2, 'tensors.safetensors'));
    check('cut', good.subarray(0, good.length - 5), /safetensors file expected \d+ bytes of tensor data after the header, got \d+ \(truncated\?\)/);
    check('short', good.subarray(0, 5), /expected an 8-byte header length, got 5 bytes/);
    check('length', craft({}, new Uint8Array(0), 500), /expected a header of at most 2 bytes, got a length of 500 \(truncated, or not a safetensors file\?\)/);
    check('json', Buffer.concat([craft({}, new Uint8Array(0)).subarray(0, 8), Buffer.from('{x')]), /expected a JSON header, got /);
    check('array', craft([1], new Uint8Array(0)), /expected a JSON object as its header, got an array/);
    check('dtype', craft({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), /expected a dtype among F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL for tensor "w", got "F8_E4M3"/);
    check('size', craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /expected 12 bytes for tensor "w" \(F32 \[3\]\), got data_offsets \[0, 8\]/);
    check('shape', craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /expected a shape of non-negative integers for tensor "w", got \[-1\]/);
    check('gap', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)), /expected tensor "b" to start at byte 4 of the data, right after the previous tensor, got 8 \(a gap\)/);
    check('overlap', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /expected tensor "b" to start at byte 8 .*got 4 \(overlapping ranges\)/);
    check('metadata', craft({ __metadata__: { epoch: 7 } }, new Uint8Array(0)), /expected __metadata__ to map strings to strings, got \{"epoch":7\}/);
  });
});
