import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DICOM_TAGS, dicomNumber, dicomNumbers, dicomPixels, dicomString, formatTag, parseDicom } from '../../src/io/dicom';
import { FIXTURES } from '../support/paths';

// Series written by pydicom 2.3; per-file values are pydicom's pixel_array, masked to BitsStored
// (test/fixtures/gen/make_dicom_fixtures.py).
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));

const read = (rel: string) => parseDicom(fs.readFileSync(path.join(DIR, rel)), rel);

describe('io/dicom', () => {
  it('reads every fixture file as pydicom does (after dcmtk decompresses the compressed ones): pixels, position, rescale and series tags', () => {
    const syntaxes = new Set<string>();
    for (const [rel, ref] of Object.entries<any>(expected.pixels)) {
      const file = read(rel);
      syntaxes.add(file.transferSyntaxName);
      assert.equal(file.transferSyntax, ref.transferSyntax, rel);
      const values: number[] = [];
      for (let frame = 0; frame < ref.frames; frame++) {
        const pixels = dicomPixels(file, frame);
        assert.equal(pixels.rows, ref.rows);
        assert.equal(pixels.columns, ref.columns);
        values.push(...pixels.values);
      }
      assert.deepEqual(values, ref.values, `${rel} pixels`);
      assert.deepEqual(dicomNumbers(file, DICOM_TAGS.imagePosition.tag) ?? null, ref.position, rel);
      assert.equal(dicomNumber(file, DICOM_TAGS.rescaleSlope.tag) ?? null, ref.slope);
      assert.equal(dicomNumber(file, DICOM_TAGS.rescaleIntercept.tag) ?? null, ref.intercept);
      assert.equal(dicomNumber(file, DICOM_TAGS.seriesNumber.tag), ref.seriesNumber);
      assert.equal(dicomNumber(file, DICOM_TAGS.instanceNumber.tag), ref.instanceNumber);
      assert.equal(dicomString(file, DICOM_TAGS.seriesDescription.tag), ref.description);
      assert.equal(dicomString(file, DICOM_TAGS.patientId.tag), ref.patientId);
    }
    assert.deepEqual([...syntaxes].sort(), [
      'Deflated Explicit VR Little Endian',
      'Explicit VR Big Endian',
      'Explicit VR Little Endian',
      'Implicit VR Little Endian',
      'JPEG Lossless',
      'JPEG Lossless SV1',
      'JPEG-LS Lossless',
      'JPEG-LS Near-Lossless',
      'RLE Lossless',
    ]);
  });

  it('decodes text in the file\'s SpecificCharacterSet (UTF-8, Latin-1) and leaves it latin1 when absent', () => {
    for (const [rel, encoding] of [['charset-utf8/IM0000.dcm', 'utf-8'], ['charset-latin1/IM0000.dcm', 'latin1'], ['axial/IM0000.dcm', 'latin1']]) {
      const file = read(rel);
      assert.equal(file.textEncoding, encoding, rel);
    }
    assert.equal(dicomString(read('charset-utf8/IM0001.dcm'), DICOM_TAGS.seriesDescription.tag), 'CRÁNEO SIN CONTRASTE ñ');
    assert.equal(dicomString(read('charset-latin1/IM0001.dcm'), DICOM_TAGS.patientId.tag), 'José-Ñ');
    // The same UTF-8 bytes without the declaration read as Latin-1, which is what the standard's default means.
    const undeclared = read('charset-utf8/IM0000.dcm');
    undeclared.textEncoding = 'latin1';
    assert.equal(dicomString(undeclared, DICOM_TAGS.patientId.tag), Buffer.from('José-Ñ', 'utf8').toString('latin1'));
  });

  it('skips sequences of undefined length and keeps reading the attributes after them', () => {
    const bytes = fs.readFileSync(path.join(DIR, 'axial', 'IM0000.dcm'));
    // pydicom writes sequences and items with undefined length: the delimiter tags are in the file.
    assert.ok(bytes.includes(Buffer.from([0xfe, 0xff, 0xdd, 0xe0])), 'the fixture has a sequence delimiter');
    for (const rel of ['axial/IM0000.dcm', 'implicit-descending/IM0000.dcm']) {
      const file = read(rel);
      assert.equal(dicomNumber(file, DICOM_TAGS.rows.tag), 5, rel);
      const items = file.elements.get(0x00081140)!.items!;
      assert.equal(items.length, 1, 'the sequence is read as its item');
      assert.match(dicomString(file, 0x00081155, items[0])!, /^[0-9.]+$/, 'ReferencedSOPInstanceUID inside it');
    }
  });

  it('reads only the header when asked (stopAtPixels)', () => {
    const file = parseDicom(fs.readFileSync(path.join(DIR, 'axial', 'IM0001.dcm')), 'x', { stopAtPixels: true });
    assert.equal(dicomNumber(file, DICOM_TAGS.columns.tag), 6);
    assert.equal(file.elements.get(DICOM_TAGS.pixelData.tag)!.bytes.length, 0);
  });

  it('refuses pixel data compressed other ways by its transfer syntax, after reading the header', () => {
    const file = read('jpeg2000/IM0000.dcm');
    assert.equal(file.transferSyntaxName, 'JPEG 2000 Lossless');
    assert.equal(file.pixelEncoding, 'unsupported');
    assert.equal(dicomNumber(file, DICOM_TAGS.rows.tag), 5, 'the header of an encapsulated file reads');
    assert.throws(() => dicomPixels(file), /pixel data expected uncompressed, RLE, lossless JPEG or JPEG-LS, got JPEG 2000 Lossless \(1\.2\.840\.10008\.1\.2\.4\.90\) \(jpeg2000\/IM0000\.dcm\).*gdcmconv/);
  });

  it('names the file and offset of a truncated file, and refuses what is not DICOM', () => {
    assert.throws(() => read('truncated/IM0001.dcm'), /expected \d+ bytes at offset \d+, got \d+ \(truncated\/IM0001\.dcm: truncated\)/);
    assert.throws(() => parseDicom(Buffer.from('hello world, not an image at all'), 'notes.txt'), /"DICM" at byte 128.*\(notes\.txt: not a DICOM file\)/);
    assert.throws(() => parseDicom(new Uint8Array(0), 'empty.dcm'), /not a DICOM file/);
  });

  it('reads a bare data set without the Part 10 preamble (implicit VR little endian)', () => {
    const full = fs.readFileSync(path.join(DIR, 'implicit-descending', 'IM0000.dcm'));
    const ref = parseDicom(full, 'full');
    // The data set starts after the meta group, whose first element (0002,0000) gives its length in bytes.
    assert.equal(full.readUInt32LE(132), 0x00000002);
    const start = 144 + full.readUInt32LE(140);
    const bare = parseDicom(full.subarray(start), 'bare.dcm');
    assert.equal(bare.transferSyntaxName, 'Implicit VR Little Endian');
    assert.deepEqual(Array.from(dicomPixels(bare).values), Array.from(dicomPixels(ref).values));
  });

  it('masks bits above BitsStored and sign-extends signed values from it', () => {
    const file = read('oblique-12bit/IM0000.dcm');
    const values = Array.from(dicomPixels(file).values);
    assert.ok(values.every((v) => v >= 0 && v < 4096), 'the 0xA000 bits are gone');
    // A signed 12-bit value: 0xFFF is -1, 0x800 is -2048, with garbage in the top four bits.
    const signed = parseDicom(fs.readFileSync(path.join(DIR, 'oblique-12bit', 'IM0000.dcm')), 's');
    const set = (tag: number, vr: string, v: number) => {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, v, true);
      signed.elements.set(tag, { vr, bytes: b });
    };
    set(DICOM_TAGS.pixelRepresentation.tag, 'US', 1);
    const px = new Uint8Array(60);
    const view = new DataView(px.buffer);
    view.setUint16(0, 0xafff, true);
    view.setUint16(2, 0x5800, true);
    view.setUint16(4, 0x07ff, true);
    signed.elements.set(DICOM_TAGS.pixelData.tag, { vr: 'OW', bytes: px });
    assert.deepEqual(Array.from(dicomPixels(signed).values.slice(0, 4)), [-1, -2048, 2047, 0]);
  });

  it('names the tag of a malformed number and formats tags as (gggg,eeee)', () => {
    const file = read('axial/IM0000.dcm');
    file.elements.set(DICOM_TAGS.pixelSpacing.tag, { vr: 'DS', bytes: new Uint8Array(Buffer.from('0.7\\abc ')) });
    assert.throws(() => dicomNumbers(file, DICOM_TAGS.pixelSpacing.tag), /DICOM \(0028,0030\) expected numbers, got "0\.7\\\\abc" \(axial\/IM0000\.dcm\)/);
    assert.equal(formatTag(0x7fe00010), '(7FE0,0010)');
  });

  it('refuses colour images and frames a file does not have, by name', () => {
    assert.throws(() => dicomPixels(read('axial/IM0000.dcm'), 1), /DICOM frame expected 1 to 1, got 2 \(axial\/IM0000\.dcm\)/);
    for (const [tag, value, pattern] of [
      [DICOM_TAGS.numberOfFrames.tag, '3', /pixel data expected 180 bytes for 3 frames of 5 x 6 x 16 bits, got 60/],
      [DICOM_TAGS.samplesPerPixel.tag, 3, /SamplesPerPixel expected 1 \(greyscale\), got 3/],
    ] as const) {
      const file = read('axial/IM0000.dcm');
      const bytes = typeof value === 'string' ? new Uint8Array(Buffer.from(value)) : new Uint8Array(new Uint16Array([value]).buffer);
      file.elements.set(tag, { vr: typeof value === 'string' ? 'IS' : 'US', bytes });
      assert.throws(() => dicomPixels(file), pattern);
    }
  });

  it('reports a deflated data set that does not inflate', () => {
    const bytes = Buffer.from(fs.readFileSync(path.join(DIR, 'deflated', 'IM0000.dcm')));
    // Corrupt the deflate stream just after the meta group.
    const meta = parseDicom(bytes, 'ok');
    assert.equal(meta.transferSyntaxName, 'Deflated Explicit VR Little Endian');
    const start = bytes.length - zlib.deflateRawSync(Buffer.alloc(0)).length;
    bytes.fill(0xff, Math.max(200, start - 40));
    assert.throws(() => parseDicom(bytes, 'bad.dcm'), /deflate|truncated|expected/);
  });
});
