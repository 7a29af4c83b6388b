import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encapsulatedFrame, parseDicom } from '../../src/io/dicom';
import { decodeDicomRle } from '../../src/io/dicom-rle';
import { FIXTURES } from '../support/paths';

// Frames written by dcmtk 3.6.7's dcmcrle; expected samples are pydicom's reading of dcmdrle's decompression
// (test/fixtures/gen/make_dicom_fixtures.py).
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));
const frame = (rel: string) => encapsulatedFrame(parseDicom(fs.readFileSync(path.join(DIR, rel)), rel));
const asWords = (values: number[], bits: number) => values.map((v) => (v + 2 ** bits) % 2 ** bits);

describe('io/dicom-rle', () => {
  it('decodes RLE frames of 16 and 12 bits as dcmtk does, and names a bad header or a short segment', () => {
    for (const rel of ['rle/IM0000.dcm', 'rle-12bit/IM0002.dcm']) {
      const words = decodeDicomRle(frame(rel), 30, 2, rel);
      assert.ok(words instanceof Uint16Array);
      assert.deepEqual(Array.from(words), asWords(expected.pixels[rel].values, 16), rel);
    }
    const rle = frame('rle/IM0000.dcm');
    assert.throws(() => decodeDicomRle(rle, 30, 4, 'r.dcm'), /RLE segments expected 4 \(one per byte of a 32-bit sample\), got 2 \(r\.dcm\)/);
    assert.throws(() => decodeDicomRle(rle, 31, 2, 'r.dcm'), /RLE segment 1 expected 31 bytes, got 30 \(r\.dcm: truncated\)/);
    assert.throws(() => decodeDicomRle(rle.subarray(0, 40), 30, 2, 'r.dcm'), /RLE header expected 64 bytes, got 40/);
    // PackBits by hand: a literal run of 3, a repeat of 4, the no-op -128, a literal of 1.
    const header = new Uint8Array(64);
    new DataView(header.buffer).setUint32(0, 1, true);
    new DataView(header.buffer).setUint32(4, 64, true);
    const body = Uint8Array.from([2, 10, 11, 12, 0xfd, 7, 0x80, 0, 99]);
    assert.deepEqual(Array.from(decodeDicomRle(new Uint8Array([...header, ...body]), 8, 1)), [10, 11, 12, 7, 7, 7, 7, 99]);
  });
});
