import { strict as assert } from 'node:assert';
import { readZip } from '../../src/io/zip';
import { encodeZip } from '../../src/io/zip-write';

describe('io: zip archives written as torch.save stores them', () => {
  const members = [
    { name: 'archive/data.pkl', data: Uint8Array.from([0x80, 2, 0x2e]) },
    { name: 'archive/data/0', data: new Uint8Array(1000).map((_, i) => i % 251) },
    { name: 'archive/empty', data: new Uint8Array(0) },
    { name: 'archive/\u00e9t\u00e9', data: Buffer.from('utf-8 name') },
  ];

  it('reads back member for member, CRC-checked, with every member\'s data on a 64-byte boundary', () => {
    const bytes = encodeZip(members);
    const entries = readZip(bytes, 'written.zip');
    assert.deepEqual([...entries.keys()], members.map((m) => m.name));
    for (const m of members) {
      const read = entries.get(m.name)!.read();
      assert.deepEqual(Buffer.from(read), Buffer.from(m.data), m.name);
      // Stored members come back as views into the archive: their offset is the data's place in the file.
      const at = read.byteOffset - bytes.byteOffset;
      if (read.length) assert.equal(at % 64, 0, `${m.name} at byte ${at}`);
    }
  });

  it('is deterministic and honours other alignments, 1 meaning none', () => {
    assert.deepEqual(Buffer.from(encodeZip(members)), Buffer.from(encodeZip(members)));
    for (const align of [1, 3, 4096]) {
      const bytes = encodeZip(members, align);
      const read = readZip(bytes, `align ${align}`).get('archive/data/0')!.read();
      assert.equal((read.byteOffset - bytes.byteOffset) % align, 0);
      assert.deepEqual(Buffer.from(read), Buffer.from(members[1].data));
    }
    // Unaligned: no padding at all, so the archive is the bare headers and data.
    const bare = encodeZip(members, 1).length;
    const names = members.reduce((s, m) => s + Buffer.byteLength(m.name), 0);
    assert.equal(bare, members.reduce((s, m) => s + m.data.length, 0) + 2 * names + members.length * (30 + 46) + 22);
  });

  it('an empty archive is one end record; repeated or empty names and bad alignments are refused', () => {
    assert.equal(readZip(encodeZip([]), 'empty').size, 0);
    assert.throws(() => encodeZip([members[0], members[0]]), /zip member names expected to be unique, got "archive\/data\.pkl" twice/);
    assert.throws(() => encodeZip([{ name: '', data: new Uint8Array(1) }]), /zip member name expected, got an empty one/);
    assert.throws(() => encodeZip(members, 0), /zip alignment expected a positive integer, got 0/);
  });
});
