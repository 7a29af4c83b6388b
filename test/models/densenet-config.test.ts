import { strict as assert } from 'node:assert';
import { DENSENET121, denseNetConvLayers } from '../../src/models/densenet-config';

describe('models/densenet-config: the convolutions of DenseNet-121 at an input size', () => {
  const layers = denseNetConvLayers(DENSENET121, [40, 301, 301], 1);
  const flops = (l: (typeof layers)[number]) => {
    const [b, d, h, w, cin] = l.input;
    const o = (n: number) => Math.floor((n + 2 * l.padding - l.kernel) / l.stride) + 1;
    return 2 * b * o(d) * o(h) * o(w) * l.cout * l.kernel ** 3 * cin;
  };

  it('has the resolutions of the paper input after the stem, its pool and each transition', () => {
    assert.deepEqual(layers[0], { name: 'stem', input: [1, 40, 301, 301, 1], cout: 64, kernel: 7, stride: 2, padding: 3, count: 1 });
    const at = (name: string) => layers.find((l) => l.name === name)!.input;
    assert.deepEqual(at('block1.3x3'), [1, 10, 76, 76, 128]);
    assert.deepEqual(at('block2.1x1.first'), [1, 5, 38, 38, 128]);
    assert.deepEqual(at('block3.1x1.last'), [1, 2, 19, 19, 256 + 23 * 32]);
    assert.deepEqual(at('block4.3x3'), [1, 1, 9, 9, 128]);
    assert.deepEqual(at('transition3'), [1, 2, 19, 19, 1024]);
  });

  it('stands for every convolution of the network: 120 layers, 148.9 forward GFLOP per volume (performance.md)', () => {
    assert.equal(layers.reduce((a, l) => a + l.count, 0), 1 + 2 * (6 + 12 + 24 + 16) + 3);
    // First and last bottleneck widths stand for the two halves of each block; the widths grow linearly and every
    // block has an even number of layers, so the forward work equals the exact sum over all 120 layers.
    assert.equal((layers.reduce((a, l) => a + flops(l) * l.count, 0) / 1e9).toFixed(1), '148.9');
  });
});
