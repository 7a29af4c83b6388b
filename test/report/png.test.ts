import { strict as assert } from 'node:assert';
import { escapeHtml, htmlImage, htmlTable } from '../../src/report/html';
import { displayScale, encodePng, sliceToPng, windowGrey } from '../../src/report/png';
import { decodePng as decode } from '../support/png';

describe('report/png and report/html', () => {
  it('encodes grey and RGB PNGs that decode to the same pixels', () => {
    const grey = decode(encodePng(Uint8Array.from([0, 64, 128, 255, 1, 2]), 3, 2));
    assert.equal(grey.width, 3);
    assert.deepEqual([...grey.rows[1]], [255, 1, 2]);
    const rgb = decode(encodePng(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1, 3));
    assert.equal(rgb.colorType, 2);
    assert.deepEqual([...rgb.rows[0]], [1, 2, 3, 4, 5, 6]);
    assert.throws(() => encodePng(new Uint8Array(5), 3, 2), /expected 6 bytes/);
  });

  it('maps a slice through a window, clipping and upscaling', () => {
    const data = Float32Array.from([-10, 0, 40, 80, 100, 20, 1, 2]); // [2, 2, 2]
    const png = decode(sliceToPng(data, [2, 2, 2], 0, 0, 80, 2));
    assert.equal(png.width, 4);
    assert.deepEqual([...png.rows[0]], [0, 0, 0, 0]);
    assert.deepEqual([...png.rows[3]], [128, 128, 255, 255]);
    assert.throws(() => sliceToPng(data, [2, 2, 2], 2, 0, 1), /slice index expected 0..1, got 2/);
  });

  it('maps values to grey through one window, clipping outside it and at NaN', () => {
    assert.deepEqual([-5, 0, 40, 80, 200].map((v) => windowGrey(v, 0, 80)), [0, 0, 128, 255, 255]);
    assert.equal(windowGrey(0.5, 0, 1), 128);
    assert.equal(windowGrey(3, 3, 3), 0); // an empty window does not divide by zero
    assert.ok(Number.isNaN(windowGrey(NaN, 0, 80))); // written as 0 into a Uint8Array
  });

  it('upsamples only slices narrower than 160 voxels, to at least 256 px', () => {
    assert.deepEqual([16, 64, 96, 150, 159, 160, 301, 512].map(displayScale), [16, 4, 3, 2, 2, 1, 1, 1]);
  });

  it('escapes text in tables and images', () => {
    assert.equal(escapeHtml('<a & "b">'), '&lt;a &amp; &quot;b&quot;&gt;');
    assert.match(htmlTable(['x<y'], [[1]], 'c&d'), /x&lt;y.*c&amp;d|c&amp;d.*x&lt;y/s);
    assert.match(htmlImage(encodePng(new Uint8Array(1), 1, 1), 'a"b'), /data:image\/png;base64,.*alt="a&quot;b"/);
  });
});
