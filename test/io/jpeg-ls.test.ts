import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encapsulatedFrame, parseDicom } from '../../src/io/dicom';
import { decodeJpegLs } from '../../src/io/jpeg-ls';
import { FIXTURES } from '../support/paths';

// Streams written by dcmtk 3.6.7's dcmcjpls (CharLS); expected samples are pydicom's reading of dcmdjpls's
// decompression (test/fixtures/gen/make_dicom_fixtures.py). The 64 x 64 phantom has air (run mode), a noisy brain
// (every regular context, the counters' resets) and a skull.
const DIR = path.join(FIXTURES, 'dicom');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'));
const frame = (rel: string) => encapsulatedFrame(parseDicom(fs.readFileSync(path.join(DIR, rel)), rel));

describe('io/jpeg-ls', () => {
  for (const [rel, size, near] of [
    ['jpeg-ls/IM0001.dcm', [6, 5], 0],
    ['jpeg-ls-head/IM0000.dcm', [64, 64], 0],
    ['jpeg-ls-head/IM0002.dcm', [64, 64], 0],
    ['jpeg-ls-near/IM0001.dcm', [64, 64], 2],
  ] as const) {
    it(`decodes ${rel} (NEAR ${near}) as dcmtk does`, () => {
      const image = decodeJpegLs(frame(rel), rel);
      assert.deepEqual([image.width, image.height, image.near], [...size, near]);
      assert.deepEqual(Array.from(image.samples), expected.pixels[rel].values.map((v: number) => (v + 65536) % 65536));
    });
  }

  it('names what is wrong with a stream: not JPEG-LS, another process, truncated', () => {
    const good = frame('jpeg-ls-head/IM0000.dcm');
    assert.throws(() => decodeJpegLs(good.subarray(2), 'x'), /expected the SOI marker FFD8 first, got FF[0-9A-F]{2} \(x\)/);
    const sof = Buffer.from(good);
    sof[sof.indexOf(Buffer.from([0xff, 0xf7])) + 1] = 0xc3;
    assert.throws(() => decodeJpegLs(sof, 'b.jls'), /expected a JPEG-LS frame \(SOF55, FFF7\), got SOF3/);
    assert.throws(() => decodeJpegLs(good.subarray(0, Math.floor(good.length / 2)), 't.jls'), /truncated|Golomb code expected/);
  });
});
