import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encapsulatedFrame, parseDicom } from '../../src/io/dicom';
import { decodeLosslessJpeg } from '../../src/io/jpeg-lossless';
import { FIXTURES } from '../support/paths';

// Streams written by dcmtk 3.6.7 (dcmcjpeg) and, for restart markers, by the fixture script's encoder;
// expected samples are pydicom's reading of dcmtk's decompression (test/fixtures/gen/make_dicom_fixtures.py).
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));
const frame = (rel: string) => encapsulatedFrame(parseDicom(fs.readFileSync(path.join(DIR, rel)), rel));
const asWords = (values: number[], bits: number) => values.map((v) => (v + 2 ** bits) % 2 ** bits);

describe('io/jpeg-lossless', () => {
  for (const [rel, predictor, pointTransform, precision] of [
    ['jpeg-sv1/IM0000.dcm', 1, 0, 16],
    ['jpeg-sv4-sagittal/IM0001.dcm', 4, 0, 16],
    ['jpeg-sv6-descending/IM0002.dcm', 6, 0, 16],
    ['jpeg-sv7-12bit/IM0003.dcm', 7, 0, 16], // dcmcjpeg codes 12 stored bits at precision 16
    ['jpeg-sv5-pt2/IM0000.dcm', 5, 2, 16],
    ['jpeg-restarts/IM0001.dcm', 4, 0, 16],
  ] as const) {
    it(`decodes ${rel} (predictor ${predictor}, point transform ${pointTransform}) as dcmtk does`, () => {
      const image = decodeLosslessJpeg(frame(rel), rel);
      assert.deepEqual([image.width, image.height, image.precision, image.predictor, image.pointTransform], [6, 5, precision, predictor, pointTransform]);
      assert.deepEqual(Array.from(image.samples), asWords(expected.pixels[rel].values, 16));
    });
  }

  it('names what is wrong with a stream: not JPEG, another process, truncated, a missing restart marker', () => {
    const good = frame('jpeg-sv1/IM0000.dcm');
    assert.throws(() => decodeLosslessJpeg(good.subarray(2), 'x'), /expected the SOI marker FFD8 first, got FF[0-9A-F]{2} \(x\)/);
    const sof = Buffer.from(good);
    sof[sof.indexOf(Buffer.from([0xff, 0xc3]))+ 1] = 0xc0;
    assert.throws(() => decodeLosslessJpeg(sof, 'b.jpg'), /expected process 14 \(SOF3, Huffman lossless\), got SOF0 \(baseline\) \(b\.jpg\)/);
    const eoi = good.lastIndexOf(0xd9) - 1;
    assert.throws(() => decodeLosslessJpeg(good.subarray(0, eoi - 8), 't.jpg'), /got the end of the data \(truncated\) \(t\.jpg\)/);
    assert.throws(() => decodeLosslessJpeg(good.subarray(0, 30), 'h.jpg'), /truncated/);
    const restarts = Buffer.from(frame('jpeg-restarts/IM0000.dcm'));
    const rst = restarts.indexOf(Buffer.from([0xff, 0xd0]));
    const without = Buffer.concat([restarts.subarray(0, rst), restarts.subarray(rst + 2)]);
    assert.throws(() => decodeLosslessJpeg(without, 'r.jpg'), /restart marker expected after 12 samples at offset \d+, got/);
  });
});
