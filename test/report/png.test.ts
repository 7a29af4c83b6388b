import { strict as assert } from 'node:assert';
import { escapeHtml, htmlImage, htmlTable } from '../../src/report/html';
import { encodePng, sliceToPng } from '../../src/report/png';
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

  it('escapes text in tables and images', () => {
    assert.equal(escapeHtml('<a & "b">'), '&lt;a &amp; &quot;b&quot;&gt;');
    assert.match(htmlTable(['x<y'], [[1]], 'c&d'), /x&lt;y.*c&amp;d|c&amp;d.*x&lt;y/s);
    assert.match(htmlImage(encodePng(new Uint8Array(1), 1, 1), 'a"b'), /data:image\/png;base64,.*alt="a&quot;b"/);
  });
});
