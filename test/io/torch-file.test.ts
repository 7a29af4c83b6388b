import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unpickle } from '../../src/io/pickle';
import { NumpyArray, numpyGlobal } from '../../src/io/pickle-numpy';
import { findStateDict, PickledObject, readTorchFile, TorchTensor } from '../../src/io/torch-file';
import { encodeZip } from '../../src/io/zip-write';
import { readZip } from '../../src/io/zip';
import { FIXTURES, fixture, tempDir } from '../support/paths';

const TORCH = path.join(FIXTURES, 'torch');
const none = { resolveGlobal: () => undefined };
const bytes = (...parts: (number[] | string)[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

/** The state dict holds exactly PyTorch's tensors, in its order: dtype, shape, values. */
function assertTensors(state: Map<string, TorchTensor>, expected: Record<string, { dtype: string; shape: number[]; values: number[] }>): void {
  assert.deepEqual([...state.keys()], Object.keys(expected));
  for (const [key, e] of Object.entries(expected)) {
    const t = state.get(key)!;
    assert.equal(t.dtype, e.dtype, key);
    assert.deepEqual(t.shape, e.shape, key);
    // PyTorch's values cast to float32 (python floats); exact for every dtype here.
    assert.deepEqual(Array.from(t.values, (v) => Math.fround(v)), e.values.map(Math.fround), key);
  }
}

describe('io: torch.save files read without Python', () => {
  // Golden values: test/fixtures/gen/make_torch_file_fixtures.py, tensors.json: Debian bookworm's python3-torch 1.13
  // in torch/, trixie's 2.6 in torch/torch2 (2.x adds byteorder and .data/serialization_id records).
  for (const [version, dir] of [['1.13', TORCH], ['2.6', path.join(TORCH, 'torch2')]]) {
    const expected = fixture<{ torch: string; tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>; numpy: Record<string, { shape: number[]; values: (number | string)[] }> }>(path.relative(FIXTURES, path.join(dir, 'tensors.json')));
    for (const file of ['tensors.pt', 'tensors-protocol4.pt']) {
      it(`${file} saved by PyTorch ${version}: every dtype, strided and offset views, shared storages, 0-d and empty tensors, and the checkpoint's other values`, () => {
        assert.ok(expected.torch.startsWith(version), expected.torch);
        const value = readTorchFile(path.join(dir, file)) as Map<string, unknown>;
        assert.equal(value.get('epoch'), 7);
        assert.equal(value.get('lr'), 1e-3);
        assert.equal(value.get('name'), 'fold 0 \u00e9');
        assert.deepEqual(value.get('history'), [0.5, null, true, [1, 2]]);
        const state = findStateDict(value, file);
        assertTensors(state, expected.tensors);
        assert.equal(state.get('int64')!.values[3], 2 ** 40, 'int64 is exact beyond float32');
        assert.ok(state.get('float64')!.values instanceof Float64Array);
      });
    }

    it(`legacy.pt saved by PyTorch ${version} in the pre-1.6 format: the same tensors, and a truncated copy named as such`, () => {
      assertTensors(findStateDict(readTorchFile(path.join(dir, 'legacy.pt')), 'legacy.pt'), expected.tensors);
      const good = fs.readFileSync(path.join(dir, 'legacy.pt'));
      const cut = path.join(tempDir(), 'legacy-cut.pt');
      // The last storage's bytes, or its element count where it is empty (1.13's last key), are cut.
      fs.writeFileSync(cut, good.subarray(0, good.length - 3));
      assert.throws(() => readTorchFile(cut), /torch file expected (\d+ values of storage \w+ \(\d+ bytes from byte \d+\), got \d+ bytes left|storage \w+'s element count at byte \d+, got the end of the file) \(truncated\? .*legacy-cut\.pt, legacy torch\.save format\)/);
    });

    it(`legacy-big-endian.pt (PyTorch ${version}'s legacy file as a big-endian machine saves it): little-endian storages despite the header's little_endian=False`, () => {
      // The legacy writer stores element counts and storages little-endian on every machine (writeFileRaw in
      // torch/csrc/generic/serialization.cpp); torch.load read this file back to the same tensors (the generator asserts it).
      assertTensors(findStateDict(readTorchFile(path.join(dir, 'legacy-big-endian.pt')), 'legacy-big-endian.pt'), expected.tensors);
    });

    it(`numpy-values.pt saved by PyTorch ${version}: NumPy scalars and arrays beside the weights read as numbers, the weights found`, () => {
      // NumPy's module is numpy.core (1.x, with torch 1.13) or numpy._core (2.x, with torch 2.6).
      const value = readTorchFile(path.join(dir, 'numpy-values.pt')) as Map<string, unknown>;
      assert.deepEqual([...findStateDict(value, 'numpy-values.pt').keys()], ['float32'], 'a 0-d NumPy value is no tensor');
      assert.equal(value.get('step'), 2n ** 60n + 1n, 'int64 beyond 2^53 stays exact');
      assert.equal(expected.numpy.step.values[0], String(2n ** 60n + 1n));
      assert.equal(value.get('flag'), true);
      for (const key of ['best_auc', 'half', 'small']) assert.equal(value.get(key), expected.numpy[key].values[0], key);
      for (const [key, descr] of [['mean', '<f4'], ['fortran', '<i4'], ['big_endian', '>i2'], ['mask', '|b1']]) {
        const a = value.get(key) as NumpyArray;
        assert.ok(a instanceof NumpyArray, key);
        assert.equal(a.descr, descr, key);
        assert.deepEqual(a.shape, expected.numpy[key].shape, key);
        assert.deepEqual(Array.from(a.values, Number), expected.numpy[key].values, key);
      }
    });
  }

  it('a PyTorch Lightning checkpoint: the weights under state_dict found, its argparse and Lightning attribute dicts read as dicts', () => {
    // make_torch_file_fixtures.py wrapped_fixtures, PyTorch 2.6 (Lightning's AttributeDict by its module path).
    const value = readTorchFile(path.join(TORCH, 'torch2', 'authors-3head-lightning.ckpt')) as Map<string, unknown>;
    assert.equal(value.get('pytorch-lightning_version'), '2.4.0');
    const hp = value.get('hyper_parameters') as Map<string, unknown>;
    assert.equal(hp.get('lr'), 1e-3);
    assert.deepEqual(hp.get('loss_weights'), [0.4, 0.3, 0.3]);
    assert.deepEqual(hp.get('args'), new Map<string, unknown>([['fold', 0], ['data', '/data/ich']]));
    const state = findStateDict(value, 'lightning.ckpt');
    assert.ok([...state.keys()].every((k) => k.startsWith('model.feature_extractor.') || /^model\.(binary_head|ordinal_headGCS|ordinal_headAge)\.3\./.test(k)));
  });

  it('tensors-big-endian.pt (PyTorch 2.6\'s zip file as a big-endian machine saves it): storages in the order its byteorder record names', () => {
    // PyTorch 2.6's torch.load swapped them back to the same tensors (make_torch_file_fixtures.py asserts it).
    const expected = fixture<{ tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> }>('torch/torch2/tensors.json');
    const file = path.join(TORCH, 'torch2', 'tensors-big-endian.pt');
    assert.equal(Buffer.from(readZip(fs.readFileSync(file), file).get('archive/byteorder')!.read()).toString('latin1'), 'big');
    assertTensors(findStateDict(readTorchFile(file), 'tensors-big-endian.pt'), expected.tensors);
  });

  it('finds the state dict directly or nested, and says what it found otherwise', () => {
    const t: TorchTensor = { dtype: 'float32', shape: [1], values: new Float32Array(1) };
    const direct = new Map<string, unknown>([['a.weight', t], ['note', 'x']]);
    assert.deepEqual([...findStateDict(direct, 'f').keys()], ['a.weight']);
    assert.deepEqual([...findStateDict(new Map<string, unknown>([['epoch', 3], ['state_dict', direct]]), 'f').keys()], ['a.weight']);
    assert.deepEqual([...findStateDict(new Map<string, unknown>([['epoch', 3], ['whatever', direct]]), 'f').keys()], ['a.weight'], 'the only dict of tensors');
    // A metric kept as a 0-d tensor beside the weights is not a one-tensor state dict.
    assert.deepEqual([...findStateDict(new Map<string, unknown>([['best_auc', t], ['model_state_dict', direct]]), 'f').keys()], ['a.weight']);
    assert.deepEqual([...findStateDict(new Map<string, unknown>([['best_auc', t], ['ema', direct]]), 'f').keys()], ['a.weight']);
    assert.throws(() => findStateDict(new Map([['x', direct], ['y', direct]]), 'f'), /got a dict with keys x, y and 2 dicts of tensors \(f\)/);
    assert.throws(() => findStateDict(new Map([['epoch', 3]]), 'f'), /expected a state dict .* got a dict with keys epoch \(f\)/);
    assert.throws(() => findStateDict([1, 2], 'f'), /got a list or tuple \(f\)/);
    assert.throws(() => findStateDict(null, 'f'), /got None \(f\)/);
  });

  it('reads a whole pickled model (torch.save(model)) as its state dict, and other classes as inert data, without their code', () => {
    for (const dir of [TORCH, path.join(TORCH, 'torch2')]) {
      // Golden: tensors.json 'wholeModule', PyTorch's linear.state_dict() (1.13 and 2.6).
      const expected = fixture<{ wholeModule: Record<string, number[]> }>(path.relative(FIXTURES, path.join(dir, 'tensors.json'))).wholeModule;
      const value = readTorchFile(path.join(dir, 'whole-module.pt'));
      assert.ok(value instanceof PickledObject && value.className === 'torch.nn.modules.linear.Linear');
      const state = findStateDict(value, 'whole-module.pt');
      assert.deepEqual([...state.keys()], Object.keys(expected));
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(Array.from(state.get(k)!.values), v.map(Math.fround), k);
    }
    // {'cfg': __main__.Config() with lr = 5}: the class needs not exist; its state is kept, nothing of it runs.
    const dir = tempDir();
    const pkl = bytes([0x80, 0x02], '}X', [3, 0, 0, 0], 'cfgc__main__\nConfig\n)', [0x81], '}X', [2, 0, 0, 0], 'lrK', [5], 'sbs.');
    const file = path.join(dir, 'config.pt');
    fs.writeFileSync(file, encodeZip([{ name: 'config/data.pkl', data: pkl }]));
    const cfg = (readTorchFile(file) as Map<string, unknown>).get('cfg');
    assert.ok(cfg instanceof PickledObject && cfg.className === '__main__.Config');
    assert.deepEqual(cfg.state, new Map([['lr', 5]]));
    assert.throws(() => findStateDict(cfg, 'config.pt'), /torch file expected a state dict \(a dict of tensors, or a whole pickled model\), got a pickled __main__\.Config, which is no torch\.nn module \(config\.pt\)/);
    // Instances of unknown dict and list subclasses (an EasyDict of settings, a list of tags) keep their items.
    const bags = path.join(dir, 'bags.pt');
    fs.writeFileSync(bags, encodeZip([{ name: 'bags/data.pkl', data: bytes([0x80, 0x02], '}X', [4, 0, 0, 0], 'optsceasydict\nEasyDict\n)', [0x81], '(X', [2, 0, 0, 0], 'lrK', [5], 'usX', [4, 0, 0, 0], 'tagscmylib\nTags\n)', [0x81], '(X', [1, 0, 0, 0], 'aes.') }]));
    const read = readTorchFile(bags) as Map<string, PickledObject>;
    assert.equal(read.get('opts')!.className, 'easydict.EasyDict');
    assert.deepEqual(read.get('opts')!.items, new Map([['lr', 5]]));
    assert.equal(read.get('tags')!.className, 'mylib.Tags');
    assert.deepEqual(read.get('tags')!.elements, ['a']);
    // Tensors of other kinds are refused by name, not read as data.
    const sparse = path.join(dir, 'sparse.pt');
    fs.writeFileSync(sparse, encodeZip([{ name: 'sparse/data.pkl', data: bytes([0x80, 0x02], 'ctorch._utils\n_rebuild_sparse_tensor\n)R.') }]));
    assert.throws(() => readTorchFile(sparse), /got torch\._utils\._rebuild_sparse_tensor \(refused: only dense tensors and NumPy numbers and arrays load.*sparse\.pt: sparse\/data\.pkl\)/);
  });

  it('refuses TorchScript archives, other files and damaged or truncated archives by name', () => {
    assert.throws(() => readTorchFile(path.join(FIXTURES, 'clinical_synth.csv')), /expected a zip archive \(torch.save\), got \d+ bytes starting "Pati".*clinical_synth\.csv/);
    const dir = tempDir();
    const good = fs.readFileSync(path.join(TORCH, 'tensors.pt'));
    const truncated = path.join(dir, 'truncated.pt');
    fs.writeFileSync(truncated, good.subarray(0, good.length - 300));
    assert.throws(() => readTorchFile(truncated), /zip archive expected an end-of-central-directory record, got none .*truncated\)/);
    // One byte of a tensor's data flipped: its member's CRC-32 no longer matches.
    const entries = readZip(good, 'tensors.pt');
    const member = [...entries.values()].find((e) => e.name.endsWith('data/0'))!;
    const at = good.indexOf(Buffer.from(member.read())) + 5;
    const damaged = Buffer.from(good);
    damaged[at] ^= 0xff;
    const damagedFile = path.join(dir, 'damaged.pt');
    fs.writeFileSync(damagedFile, damaged);
    assert.throws(() => readTorchFile(damagedFile), /"tensors\/data\/0" with CRC-32 [0-9a-f]+, got [0-9a-f]+ \(damaged file\)/);
  });

  it('unpickles without running anything: unknown globals are refused, faults name the byte', () => {
    // [1, 2**70, -1.5, 'é', b'\x00\x01', {'k': None}], written by hand from the opcodes of pickle.dumps(protocol=3)
    const value = unpickle(
      bytes([0x80, 2, 0x5d, 0x28, 0x4b, 1, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40], 'G', [0xbf, 0xf8, 0, 0, 0, 0, 0, 0], 'X', [2, 0, 0, 0, 0xc3, 0xa9], 'C', [2, 0, 1], '}', 'U', [1], 'kNs', 'e.'),
      none,
      'test',
    ) as unknown[];
    assert.equal(value[0], 1);
    assert.equal(value[1], 2n ** 70n);
    assert.equal(value[2], -1.5);
    assert.equal(value[3], '\u00e9');
    assert.deepEqual(Array.from(value[4] as Uint8Array), [0, 1]);
    assert.deepEqual(value[5], new Map([['k', null]]));
    // os.system('echo pwned'), as pickle.dumps of a __reduce__ would write it
    assert.throws(() => unpickle(bytes('cos\nsystem\n(U', [10], 'echo pwnedtR.'), none, 'evil.pkl'), /pickle expected a known class or function, got os\.system \(refused: only whitelisted classes load\) \(byte 0 of evil\.pkl\)/);
    assert.throws(() => unpickle(bytes([0x80, 2, 0x58, 9, 0, 0, 0], 'abc'), none, 'cut.pkl'), /pickle expected 9 more bytes, the stream ends after 3 \(byte 2 of cut\.pkl\)/);
    assert.throws(() => unpickle(bytes([0x80, 2, 0xff]), none, 'odd.pkl'), /a pickle opcode of protocols 0-5, got 0xff \(byte 2 of odd\.pkl\)/);
    assert.throws(() => unpickle(bytes([0x80, 2, 0x68, 4, 0x2e]), none, 'memo.pkl'), /memo entry 4/);
    assert.throws(() => unpickle(bytes([0x80, 2, 0x4b, 1, 0x4b, 2, 0x2e]), none, 'two.pkl'), /one value on the stack at STOP, got 2/);
  });

  it('reads NumPy numbers as data, and refuses object arrays, record arrays and NumPy functions by name', () => {
    const numpy = { resolveGlobal: numpyGlobal };
    // pickle.dumps(protocol=2) with Debian's NumPy 1.24: np.array([1, 'a'], dtype=object), np.zeros(1, dtype=[('a', '<f4')])
    const objects = Buffer.from('8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b0285710a636e756d70790a64747970650a710b58020000004f38710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b3f74711062895d7111284b01580100000061711265747113622e', 'hex');
    const records = Buffer.from('8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b0185710a636e756d70790a64747970650a710b58020000005634710c898887710d52710e284b0358010000007c710f4e58010000006171108571117d71126810680b5802000000663471138988877114527115284b0358010000003c71164e4e4e4affffffff4affffffff4b00747117624b00867118734b044b014b1074711962896803580400000000000000711a680586711b52711c74711d622e', 'hex');
    assert.throws(() => unpickle(objects, numpy, 'objects.pkl'), /NumPy dtype expected one of f2, .*b1, got 'O8' \(byte \d+ of objects\.pkl\)/);
    assert.throws(() => unpickle(records, numpy, 'records.pkl'), /NumPy dtype expected one of .*, got 'V4'/);
    assert.throws(() => unpickle(bytes('cnumpy.random\nseed\n(K', [1], 'tR.'), numpy, 'seed.pkl'), /got numpy\.random\.seed \(refused/);
    assert.throws(() => unpickle(bytes('c_codecs\nencode\n(X', [1, 0, 0, 0], 'aX', [5, 0, 0, 0], 'utf-8tR.'), numpy, 'utf8.pkl'), /_codecs\.encode expected \(text, 'latin1'\), got encoding utf-8/);
  });
});
