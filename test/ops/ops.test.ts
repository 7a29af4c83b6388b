import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { act3d, Act3d } from '../../src/ops/act3d';
import { conv3d } from '../../src/ops/conv3d';
import { batchNorm3d, batchNormRelu3d, channelDropout } from '../../src/ops/norm';
import { avgPool3d, concatChannels, globalAvgPool3d, globalMaxPool3d, maxPool3d } from '../../src/ops/pool3d';
import { onBackend, relError, TEST_BACKENDS, values } from '../support/tf';

type Shape5 = [number, number, number, number, number];

/** Output and gradients (w.r.t. every input) of a scalar-summed function, as plain arrays. */
async function valueAndGrads(inputs: Float32Array[], shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<{ y: Float32Array; grads: Float32Array[]; shape: number[] }> {
  const ts = inputs.map((v, i) => tf.tensor(v, shapes[i]));
  const y = f(...ts);
  const probe = tf.tensor(values(y.size, 7), y.shape);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(ts);
  const out = { y: (await y.data()) as Float32Array, grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)), shape: y.shape };
  tf.dispose([...ts, y, probe, ...grads]);
  return out;
}

function toAct(x: tf.Tensor, shape: Shape5): Act3d {
  return act3d(x, shape);
}

function fromAct(a: Act3d, shape: Shape5): tf.Tensor {
  return tf.reshape(a.x, shape);
}

describe('ops: 3D ops at rank <= 4 against tf reference ops on the cpu backend', function () {
  this.timeout(60000);

  const convCases: { name: string; in: Shape5; k: number; s: 1 | 2; p: number; cout: number; tol?: number }[] = [
    { name: '3x3x3 same', in: [2, 5, 6, 7, 3], k: 3, s: 1, p: 1, cout: 4 },
    { name: '1x1x1', in: [2, 3, 4, 5, 6], k: 1, s: 1, p: 0, cout: 3 },
    { name: '7x7x7 stride 2 pad 3 (stem)', in: [1, 9, 10, 11, 1], k: 7, s: 2, p: 3, cout: 4 },
    { name: '3x3x3 stride 2 pad 0, odd sizes', in: [1, 7, 8, 9, 2], k: 3, s: 2, p: 0, cout: 2 },
    // Several GEMM tiles of the WGSL kernels in every direction: 1,080 output rows, 70 columns (a 64-wide tile and a
    // partial one), a reduction of 27 x 37 that is no multiple of the 16-deep step, and the weight gradient summed
    // in chunks over positions.
    { name: '3x3x3 same, 37 -> 70 channels', in: [2, 6, 9, 10, 37], k: 3, s: 1, p: 1, cout: 70, tol: 1e-4 },
    { name: '1x1x1, 40 -> 33 channels', in: [2, 6, 9, 10, 40], k: 1, s: 1, p: 0, cout: 33, tol: 1e-4 },
    // Input gradients of more than 4 channels are GEMMs on webgpu+wgsl (fewer: a direct kernel): stride 2 there.
    { name: '3x3x3 stride 2 pad 1, 6 -> 5 channels', in: [2, 7, 8, 9, 6], k: 3, s: 2, p: 1, cout: 5 },
    // Kernels wider than 10 read A with explicit bounds checks on webgpu+wgsl (no per-axis in-bounds masks).
    { name: '11x11x11 pad 5, 5 -> 6 channels', in: [1, 4, 5, 6, 5], k: 11, s: 1, p: 5, cout: 6, tol: 1e-4 },
  ];

  for (const c of convCases) {
    const wShape = [c.k, c.k, c.k, c.in[4], c.cout];
    const xv = values(c.in.reduce((a, b) => a * b, 1), 3);
    const wv = values(wShape.reduce((a, b) => a * b, 1), 5);
    const reference = () =>
      onBackend('cpu', () =>
        valueAndGrads([xv, wv], [c.in, wShape], (x, w) =>
          tf.conv3d(tf.pad(x as tf.Tensor5D, [[0, 0], [c.p, c.p], [c.p, c.p], [c.p, c.p], [0, 0]]), w as tf.Tensor5D, c.s, 'valid'),
        ),
      );
    for (const backend of TEST_BACKENDS) {
      it(`conv3d ${c.name}: forward and both gradients match tf.conv3d on cpu (${backend})`, async () => {
        const ref = await reference();
        const ours = await onBackend(backend, () =>
          valueAndGrads([xv, wv], [c.in, wShape], (x, w) => {
            const y = conv3d(toAct(x, c.in), tf.reshape(w, [c.k ** 3 * c.in[4], c.cout]) as tf.Tensor2D, { kernel: c.k, stride: c.s, padding: c.p });
            return tf.reshape(y.x, [c.in[0], y.depth, ...y.x.shape.slice(1)]);
          }),
        );
        assert.deepEqual(ours.shape, ref.shape);
        // float32 sums of ~1,000 terms (the larger cases) differ by summation order alone at ~2e-5.
        const tol = c.tol ?? 1e-5;
        assert.ok(relError(ours.y, ref.y) <= tol, `forward ${relError(ours.y, ref.y)}`);
        assert.ok(relError(ours.grads[0], ref.grads[0]) <= tol, `dx ${relError(ours.grads[0], ref.grads[0])}`);
        assert.ok(relError(ours.grads[1], ref.grads[1]) <= tol, `dw ${relError(ours.grads[1], ref.grads[1])}`);
      });
    }
  }

  const poolShape: Shape5 = [2, 5, 7, 6, 3];
  const pv = values(poolShape.reduce((a, b) => a * b, 1), 11);
  for (const backend of TEST_BACKENDS) {
    it(`max pool 3 stride 2 pad 1 (-inf padding) and its gradient match tf.maxPool3d on cpu (${backend})`, async () => {
      const ref = await onBackend('cpu', () =>
        valueAndGrads([pv], [poolShape], (x) => tf.maxPool3d(tf.pad(x as tf.Tensor5D, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]], -Infinity), 3, 2, 'valid')),
      );
      const ours = await onBackend(backend, () => valueAndGrads([pv], [poolShape], (x) => {
        const y = maxPool3d(toAct(x, poolShape), 3, 2, 1);
        return tf.reshape(y.x, [2, y.depth, ...y.x.shape.slice(1)]);
      }));
      assert.deepEqual(ours.shape, ref.shape);
      assert.ok(relError(ours.y, ref.y) <= 1e-6);
      assert.ok(relError(ours.grads[0], ref.grads[0]) <= 1e-5);
    });

    it(`average pool 2 (odd sizes drop the remainder) matches tf.avgPool3d on cpu (${backend})`, async () => {
      const ref = await onBackend('cpu', () => valueAndGrads([pv], [poolShape], (x) => tf.avgPool3d(x as tf.Tensor5D, 2, 2, 'valid')));
      const ours = await onBackend(backend, () => valueAndGrads([pv], [poolShape], (x) => {
        const y = avgPool3d(toAct(x, poolShape), 2);
        return tf.reshape(y.x, [2, y.depth, ...y.x.shape.slice(1)]);
      }));
      assert.deepEqual(ours.shape, ref.shape);
      assert.ok(relError(ours.y, ref.y) <= 1e-6);
      assert.ok(relError(ours.grads[0], ref.grads[0]) <= 1e-5);
    });

    it(`batch norm (training statistics and running statistics), global pools and concat match rank-5 formulas (${backend})`, async () => {
      const gamma = values(3, 21);
      const beta = values(3, 22);
      const rm = values(3, 23);
      const rv = Float32Array.from(values(3, 24), (v) => v * v + 0.5);
      const ref = await onBackend('cpu', () =>
        valueAndGrads([pv, gamma, beta], [poolShape, [3], [3]], (x, g, b) => {
          const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
          const train = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
          const evalY = tf.add(tf.mul(tf.div(tf.sub(x, tf.tensor1d(rm)), tf.sqrt(tf.add(tf.tensor1d(rv), 1e-5))), g), b);
          return tf.concat([tf.reshape(train, [-1]), tf.reshape(evalY, [-1]), tf.reshape(tf.mean(x, [1, 2, 3]), [-1]), tf.reshape(tf.max(x, [1, 2, 3]), [-1])]);
        }),
      );
      const ours = await onBackend(backend, () =>
        valueAndGrads([pv, gamma, beta], [poolShape, [3], [3]], (x, g, b) => {
          const a = toAct(x, poolShape);
          const params = { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, runningMean: tf.tensor1d(rm), runningVar: tf.tensor1d(rv) };
          const t = batchNorm3d(a, params, true);
          tf.dispose([t.stats!.mean, t.stats!.varUnbiased]);
          const e = batchNorm3d(a, params, false);
          return tf.concat([tf.reshape(fromAct(t.y, poolShape), [-1]), tf.reshape(fromAct(e.y, poolShape), [-1]), tf.reshape(globalAvgPool3d(a), [-1]), tf.reshape(globalMaxPool3d(a), [-1])]);
        }),
      );
      assert.ok(relError(ours.y, ref.y) <= 1e-5, `forward ${relError(ours.y, ref.y)}`);
      ours.grads.forEach((g, i) => assert.ok(relError(g, ref.grads[i]) <= 1e-4, `grad ${i}: ${relError(g, ref.grads[i])}`));
    });
  }

  // 1,080 rows x 70 channels: several row chunks and two channel groups of the WGSL kernels; values around 50 with a
  // spread of ~1, where an unshifted sum of squares would lose the variance in float32.
  const bnShape: Shape5 = [2, 6, 9, 10, 70];
  const bnx = Float32Array.from(values(bnShape.reduce((a, b) => a * b, 1), 31), (v, i) => 50 + v + (i % 70) * 0.01);
  const bnGamma = values(70, 32);
  const bnBeta = values(70, 33);
  const bnMean = Float32Array.from(values(70, 34), (v) => 50 + v);
  const bnVar = Float32Array.from(values(70, 35), (v) => v * v + 0.5);
  for (const training of [true, false]) {
    for (const relu of [true, false]) {
      const mode = `${training ? 'training' : 'eval'}${relu ? ' + ReLU' : ''}`;
      const reference = () =>
        onBackend('cpu', () =>
          valueAndGrads([bnx, bnGamma, bnBeta], [bnShape, [70], [70]], (x, g, b) => {
            const { mean, variance } = training ? tf.moments(x, [0, 1, 2, 3]) : { mean: tf.tensor1d(bnMean), variance: tf.tensor1d(bnVar) };
            const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
            return relu ? tf.relu(y) : y;
          }),
        );
      for (const backend of TEST_BACKENDS) {
        it(`batch norm (${mode}) and its gradients match the rank-5 formula on cpu, statistics as PyTorch (${backend})`, async () => {
          const ref = await reference();
          let stats: number[][] = [];
          const ours = await onBackend(backend, async () => {
            const kept: tf.Tensor[] = [];
            const out = await valueAndGrads([bnx, bnGamma, bnBeta], [bnShape, [70], [70]], (x, g, b) => {
              const params = { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, runningMean: tf.tensor1d(bnMean), runningVar: tf.tensor1d(bnVar) };
              const r = batchNormRelu3d(toAct(x, bnShape), params, training, relu);
              if (r.stats) kept.push(r.stats.mean, r.stats.varUnbiased);
              return fromAct(r.y, bnShape);
            });
            // The first call's statistics (valueAndGrads runs the function twice); read asynchronously (webgpu).
            if (kept.length) stats = [Array.from(await kept[0].data()), Array.from(await kept[1].data())];
            tf.dispose(kept);
            return out;
          });
          assert.ok(relError(ours.y, ref.y) <= 1e-4, `forward ${relError(ours.y, ref.y)}`);
          // wasm's reductions add 1,080 float32 values in order: around a mean of 50 its gamma gradient is off by
          // 5.6e-3 (measured); the cpu reference and the native kernels sum in float64, the WGSL kernels shifted values.
          const gradTol = training && backend === 'wasm' ? 1e-2 : 1e-3;
          ours.grads.forEach((g, i) => assert.ok(relError(g, ref.grads[i]) <= gradTol, `grad ${i}: ${relError(g, ref.grads[i])}`));
          if (training) {
            // Batch mean and unbiased variance of channel c over the 1,080 rows, from the input itself.
            for (const c of [0, 37, 69]) {
              const col = Array.from({ length: 1080 }, (_, r) => bnx[r * 70 + c]);
              const mean = col.reduce((a, v) => a + v, 0) / col.length;
              const varUnbiased = col.reduce((a, v) => a + (v - mean) ** 2, 0) / (col.length - 1);
              assert.ok(Math.abs(stats[0][c] - mean) <= 1e-4 * Math.abs(mean), `mean ${c}: ${stats[0][c]} vs ${mean}`);
              assert.ok(Math.abs(stats[1][c] - varUnbiased) <= 1e-3 * varUnbiased, `variance ${c}: ${stats[1][c]} vs ${varUnbiased}`);
            }
          } else assert.equal(stats.length, 0);
        });
      }
    }
  }

  it('batch norm returns PyTorch statistics: batch mean and unbiased variance', async () => {
    await onBackend('cpu', async () => {
      const x = act3d(tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1, 1]), [2, 2, 2, 1, 1]);
      const p = { gamma: tf.ones([1]) as tf.Tensor1D, beta: tf.zeros([1]) as tf.Tensor1D, runningMean: tf.zeros([1]) as tf.Tensor1D, runningVar: tf.ones([1]) as tf.Tensor1D };
      const { stats } = batchNorm3d(x, p, true);
      assert.ok(Math.abs((await stats!.mean.data())[0] - 4.5) < 1e-6);
      assert.ok(Math.abs((await stats!.varUnbiased.data())[0] - 6) < 1e-5);
    });
  });

  it('channel dropout zeroes whole channel maps per sample and rescales the rest', async () => {
    await onBackend('cpu', async () => {
      const a = act3d(tf.ones([2, 2, 2, 2, 3]), [2, 2, 2, 2, 3]);
      const mask = tf.tensor2d([[1, 0, 1], [0, 1, 1]]);
      const y = await channelDropout(a, 0.2, mask).x.data();
      for (let i = 0; i < y.length; i++) {
        const sample = Math.floor(i / (2 * 2 * 2 * 3));
        const c = i % 3;
        assert.ok(Math.abs(y[i] - ([[1, 0, 1], [0, 1, 1]][sample][c] ? 1.25 : 0)) < 1e-6);
      }
      assert.equal(channelDropout(a, 0.2, null), a);
      const cat = concatChannels([a, a]);
      assert.deepEqual(cat.x.shape, [4, 2, 2, 6]);
    });
  });
});
