import { strict as assert } from 'node:assert';
import { PickleGlobal, unpickle } from '../../src/io/pickle';
import { pickle, pickleGlobal, PickleNode } from '../../src/io/pickle-write';

/** Reads a pickle back with this project's unpickler (checked against Python's pickles in torch-file.test.ts). */
function readBack(bytes: Uint8Array, persistent: unknown[] = []): unknown {
  return unpickle(
    bytes,
    {
      resolveGlobal: (module, name): PickleGlobal => ({ module, name, call: (args) => (module === 'collections' && name === 'OrderedDict' ? new Map() : { called: `${module}.${name}`, args }) }),
      persistentLoad: (pid) => (persistent.push(pid), `storage ${JSON.stringify(pid)}`),
    },
    'written pickle',
  );
}

describe('io: pickles written as torch.save writes its data.pkl', () => {
  it('writes protocol 2 with the opcodes Python defines for each value', () => {
    // pickletools opcodes (Lib/pickletools.py): PROTO 2 ... STOP; BININT1 K, BININT2 M, BININT J, LONG1 \x8a, NONE N.
    assert.deepEqual([...pickle(7)], [0x80, 2, 0x4b, 7, 0x2e]);
    assert.deepEqual([...pickle(300)], [0x80, 2, 0x4d, 0x2c, 0x01, 0x2e]);
    assert.deepEqual([...pickle(-1)], [0x80, 2, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x2e]);
    assert.deepEqual([...pickle(2 ** 40)], [0x80, 2, 0x8a, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0x2e]);
    assert.deepEqual([...pickle(null)], [0x80, 2, 0x4e, 0x2e]);
    // BINFLOAT is big-endian: 1.5 = 3f f8 00 ...
    assert.deepEqual([...pickle(1.5)], [0x80, 2, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e]);
  });

  it('reads back: numbers at every width, strings, booleans, nested tuples, calls with items, persistent ids', () => {
    const value: PickleNode = [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER, 0.1, -2.5e-300, 'caf\u00e9 \u{1F9E0}', '', true, false, null, [], [[1], [2, 3], [4, 5, 6, 7]]];
    assert.deepEqual(readBack(pickle(value)), value);
    const od = pickleGlobal('collections', 'OrderedDict');
    const dict = readBack(pickle({ kind: 'call', callable: od, args: [], items: [['a', 1], ['b', { kind: 'persistent', id: ['storage', 0] }]] }));
    assert.deepEqual(dict, new Map<string, unknown>([['a', 1], ['b', 'storage ["storage",0]']]));
    assert.deepEqual(readBack(pickle({ kind: 'call', callable: pickleGlobal('torch._utils', '_rebuild_tensor_v2'), args: [1, [2]] })), { called: 'torch._utils._rebuild_tensor_v2', args: [1, [2]] });
  });

  it('names each global once and refers back to it, past the 256 one-byte memo slots too', () => {
    const g = (i: number) => pickleGlobal('m', `f${i}`);
    const calls = Array.from({ length: 300 }, (_, i): PickleNode => ({ kind: 'call', callable: g(i), args: [i] }));
    const twice = [...calls, ...calls];
    const bytes = pickle(twice);
    assert.equal(Buffer.from(bytes).toString('latin1').split('m\nf299\n').length, 2, 'f299 is named once');
    const back = readBack(bytes) as { called: string; args: number[] }[];
    assert.equal(back.length, 600);
    back.forEach((c, i) => assert.deepEqual(c, { called: `m.f${i % 300}`, args: [i % 300] }));
  });

  it('refuses what Python cannot read back as written', () => {
    assert.throws(() => pickle(2 ** 60), /pickle integer expected a safe integer, got 1152921504606847000/);
    assert.throws(() => pickle(pickleGlobal('a\nb', 'c')), /pickle global expected a module and name without newlines/);
    assert.throws(() => pickle({ kind: 'other' } as unknown as PickleNode), /pickle value expected a string, number, boolean, null, array or pickle node, got \{"kind":"other"\}/);
  });
});
