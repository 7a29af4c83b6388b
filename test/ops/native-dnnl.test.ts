import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { act3d } from '../../src/ops/act3d';
import { conv3d } from '../../src/ops/conv3d';
import { loadNativeDnnl, nativeAddonPath, NativeDnnl, useNativeKernels } from '../../src/ops/native-dnnl';
import { batchNormRelu3d } from '../../src/ops/norm';
import { maxPool3d } from '../../src/ops/pool3d';
import { NATIVE_SKIP_REASON, onBackend, values } from '../support/tf';

// The op-by-op and model checks of the addon run in ops.test.ts, models.test.ts and loop.test.ts under the
// `wasm+onednn` backend entry; these cover what only the addon has.
describe('native kernels: the oneDNN addon (native/ich_dnnl.cc)', function () {
  before(function () {
    // CI builds the addon (scripts/setup.sh installs libdnnl-dev): a missing build fails there instead of hiding.
    if (NATIVE_SKIP_REASON && process.env.ICH_NATIVE === '0') this.skip();
  });

  it('is built and loads (scripts/build-native.sh)', () => {
    assert.equal(NATIVE_SKIP_REASON, null, `native kernels unavailable: ${NATIVE_SKIP_REASON}`);
  });

  it('uses oneDNN JIT kernels, not its slow reference code, for every convolution of DenseNet-121 3D', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    // stem 7^3 stride 2 on one channel, dense-layer 1^3 and 3^3, transition 1^3
    const shapes = [
      [2, 32, 64, 64, 1, 64, 7, 2, 3],
      [2, 8, 16, 16, 96, 128, 1, 1, 0],
      [2, 8, 16, 16, 128, 32, 3, 1, 1],
      [2, 4, 8, 8, 512, 256, 1, 1, 0],
    ];
    for (const g of shapes) {
      for (const op of ['forward', 'backwardData', 'backwardWeights'] as const) {
        const impl = r.lib.implementation(op, g);
        assert.doesNotMatch(impl, /^ref/, `${op} [${g.join(',')}] runs on ${impl}`);
      }
    }
  });

  it('gives the same batch-norm outputs and gradients to the bit on one thread and on two (split by channels and rows)', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    // 4,001 rows of 100 channels: above the addon's parallel threshold (262,144 values), rows and channels uneven.
    const [rows, c] = [4001, 100];
    const x = values(rows * c, 21).map((v) => 3 * v + 0.5);
    const dy = values(rows * c, 22);
    const [gamma, beta] = [values(c, 23), values(c, 24)];
    const run = (threads: number, relu: boolean, training: boolean) => {
      r.lib.setThreads(threads);
      const [y, stats] = r.lib.batchNormForward(x, gamma, beta, 1e-5, relu, null);
      return [y, stats, ...r.lib.batchNormBackward(dy, x, gamma, beta, 1e-5, relu, stats, training)].map((a) => Array.from(a));
    };
    try {
      for (const relu of [false, true]) {
        for (const training of [false, true]) {
          const one = run(1, relu, training);
          assert.ok(one[2].some((v) => v !== 0) && one[2].some((v) => v === 0) === relu, 'the ReLU cut some gradients only with relu');
          // deepEqual compares with Object.is: +0 and -0 differ.
          assert.deepEqual(run(2, relu, training), one, `relu ${relu}, training ${training}`);
        }
      }
    } finally {
      r.lib.setThreads(os.availableParallelism());
    }
  });

  it('max pools by the first maximum (a NaN beats any number, the first NaN stays), the same on one thread and two, into given memory or not', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    // 2 x 12 x 48 x 48 x 64 with a 3x3x3 window, stride 2, padding 1: 442,368 outputs, above the parallel threshold.
    const g = [2, 12, 48, 48, 64, 3, 2, 1];
    const [n, d, h, w, c, k, s, p] = g;
    const x = values(n * d * h * w * c, 31).map((v) => Math.round(v * 4) / 4); // quarters: many ties
    for (let i = 0; i < x.length; i += 997) x[i] = NaN;
    for (let i = 3; i < x.length; i += 1009) x[i] = -Infinity;
    // The rule, written out: taps in window order, the first counts, a later one replaces the maximum when greater or
    // when it is the window's first NaN.
    const [od, oh, ow] = [d, h, w].map((m) => Math.floor((m + 2 * p - k) / s) + 1);
    const yRef = new Float32Array(n * od * oh * ow * c);
    const aRef = new Int32Array(yRef.length);
    for (let b = 0, o = 0; b < n; b++)
      for (let z = 0; z < od; z++)
        for (let yy = 0; yy < oh; yy++)
          for (let xx = 0; xx < ow; xx++, o++)
            for (let ch = 0; ch < c; ch++) {
              let best = -Infinity;
              let at = -1;
              for (let kd = 0; kd < k; kd++)
                for (let kh = 0; kh < k; kh++)
                  for (let kw = 0; kw < k; kw++) {
                    const [iz, iy, ix] = [z * s - p + kd, yy * s - p + kh, xx * s - p + kw];
                    if (iz < 0 || iz >= d || iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                    const i = (((b * d + iz) * h + iy) * w + ix) * c + ch;
                    const v = x[i];
                    if (at < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) [best, at] = [v, i];
                  }
              yRef[o * c + ch] = best;
              aRef[o * c + ch] = at;
            }
    try {
      for (const threads of [1, 2]) {
        r.lib.setThreads(threads);
        const [y, argmax] = r.lib.maxPool3d(g, x);
        assert.deepEqual([Array.from(y), Array.from(argmax)], [Array.from(yRef), Array.from(aRef)], `${threads} threads`);
        // Into memory that holds anything: the same values; the gradient zeroes it first.
        const dirty = new Float32Array(y.length).fill(7);
        assert.equal(r.lib.maxPool3d(g, x, dirty)[0], dirty);
        assert.deepEqual(Array.from(dirty), Array.from(y));
        const dy = values(y.length, 32);
        const fresh = r.lib.maxPool3dBackward(x.length, dy, argmax);
        const given = new Float32Array(x.length).fill(-3);
        assert.equal(r.lib.maxPool3dBackward(x.length, dy, argmax, given), given);
        assert.deepEqual(Array.from(given), Array.from(fresh));
        const ag = [2, 12, 48, 48, 64, 2, 2, 0];
        const mean = r.lib.avgPool3d(ag, x);
        const meanInto = new Float32Array(mean.length).fill(5);
        r.lib.avgPool3d(ag, x, meanInto);
        assert.deepEqual(Array.from(meanInto), Array.from(mean));
        const meanGrad = r.lib.avgPool3dBackward(ag, dy.subarray(0, mean.length));
        const meanGradInto = new Float32Array(x.length).fill(2);
        r.lib.avgPool3dBackward(ag, dy.subarray(0, mean.length), meanGradInto);
        assert.deepEqual(Array.from(meanGradInto), Array.from(meanGrad));
      }
    } finally {
      r.lib.setThreads(os.availableParallelism());
    }
  });

  it('keeps freed memory for reuse when asked: a new 64 MiB block no longer faults in page by page, and returns it when asked again', function () {
    if (process.platform !== 'linux') this.skip();
    // In a child process: the setting is process-wide. Each round allocates and writes four 64 MiB blocks (16,384
    // pages each), dropping each before the next; glibc's default maps each afresh (~65,000 faults a round, measured).
    const script = `
const lib = require(${JSON.stringify(nativeAddonPath())});
function faults() {
  const f0 = process.resourceUsage().minorPageFault;
  for (let i = 0; i < 4; i++) { let b = Buffer.allocUnsafeSlow(64 << 20); b.fill(1); b = null; gc(); }
  return process.resourceUsage().minorPageFault - f0;
}
faults();
const before = faults();
const on = lib.keepFreedMemory(true);
faults();
const kept = faults();
const off = lib.keepFreedMemory(false);
faults();
console.log(JSON.stringify({ before, on, kept, off, after: faults() }));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { before: number; on: boolean; kept: number; off: boolean; after: number };
    assert.deepEqual([m.on, m.off], [true, false]);
    assert.ok(m.before > 3 * 16384, `faults before: ${m.before}`);
    // A block the collector has not freed yet (it frees array buffers on its own thread) may still be mapped anew.
    assert.ok(m.kept < m.before / 2, `faults kept ${m.kept} vs before ${m.before}`);
    assert.ok(m.after > 3 * 16384, `faults after returning: ${m.after}`);
    assert.throws(() => (loadNativeDnnl() as { lib: { keepFreedMemory(on: unknown): boolean } }).lib.keepFreedMemory('yes'), /keepFreedMemory expected a boolean/);
  });

  it('rejects operands of the wrong size with the expected and actual lengths', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    assert.throws(() => r.lib.conv3d('forward', [1, 2, 2, 2, 1, 1, 1, 1, 0], new Float32Array(7), new Float32Array(1)), /operands expected lengths 8 and 1, got 7 and 1/);
    assert.throws(() => r.lib.conv3d('sideways' as 'forward', [1, 2, 2, 2, 1, 1, 1, 1, 0], new Float32Array(8), new Float32Array(1)), /op expected forward\|backwardData\|backwardWeights, got sideways/);
    assert.throws(() => r.lib.conv3d('forward', [1, 2, 2, 2, 1, 1, 5, 1, 0], new Float32Array(8), new Float32Array(125)), /positive output size/);
    assert.throws(() => r.lib.maxPool3d([1, 2, 2, 2, 1, 2, 2, 0], new Float32Array(3)), /input of length 8/);
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => r.lib.batchNormForward(f(7), f(2), f(2), 1e-5, true, null), /batchNormForward expected Float32Arrays x \[rows \* C\], gamma \[C\], beta \[C\]/);
    assert.throws(() => r.lib.batchNormForward(f(8), f(2), f(2), 1e-5, true, f(3)), /stats \[mean; var\] of length 2C or null/);
    assert.throws(() => r.lib.batchNormBackward(f(6), f(8), f(2), f(2), 1e-5, true, f(4), true), /dy as long as x/);
    assert.throws(() => r.lib.batchNormForward(f(8), f(2), f(2), 1e-5, true, null, f(7)), /batchNormForward output expected a Float32Array of 8 values, got 7/);
    assert.throws(() => r.lib.batchNormBackward(f(8), f(8), f(2), f(2), 1e-5, true, f(4), true, f(9)), /batchNormBackward output expected a Float32Array of 8 values, got 9/);
  });

  it('max pooling gives a tied window\'s gradient to its first maximum, as PyTorch does', async () => {
    await onBackend('wasm+onednn', async () => {
      // torch.nn.functional.max_pool3d on zeros(1,1,2,2,2), kernel 2: the gradient is 1 at index 0 only
      const x = tf.zeros([1, 2, 2, 2, 1]);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(maxPool3d(act3d(t, [1, 2, 2, 2, 1]), 2, 2, 0).x))(x);
      assert.deepEqual(Array.from(await dx.data()), [1, 0, 0, 0, 0, 0, 0, 0]);
      tf.dispose([x, dx]);
    });
  });

  it('gives a constant input (the image) a zero gradient and the weights their full gradient', async () => {
    const shape: [number, number, number, number, number] = [1, 4, 4, 4, 1];
    const xv = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const weights = Float32Array.from({ length: 27 * 2 }, (_, i) => Math.cos(i));
    const conv = (a: tf.Tensor, b: tf.Tensor) => tf.sum(conv3d(act3d(a, shape), b as tf.Tensor2D, { kernel: 3, stride: 2, padding: 1, constantInput: true }).x);
    const native = await onBackend('wasm+onednn', async () => {
      const [x, w] = [tf.tensor(xv, shape), tf.tensor2d(weights, [27, 2])];
      const [gx, gw] = tf.grads(conv)([x, w]);
      const out = { gx: await gx.data(), gw: await gw.data() };
      tf.dispose([x, w, gx, gw]);
      return out;
    });
    // The TypeScript path builds the image's windows in JS, so only the weights have a gradient there.
    const plain = await onBackend('cpu', async () => {
      const [x, w] = [tf.tensor(xv, shape), tf.tensor2d(weights, [27, 2])];
      const gw = tf.grad((b: tf.Tensor) => conv(x, b))(w);
      const out = { gw: await gw.data() };
      tf.dispose([x, w, gw]);
      return out;
    });
    assert.ok(native.gx.every((v) => v === 0));
    native.gw.forEach((v, i) => assert.ok(Math.abs(v - plain.gw[i]) <= 1e-5 * Math.max(1, Math.abs(plain.gw[i])), `dw[${i}] ${v} vs ${plain.gw[i]}`));
  });

  it('writes convolution and batch-norm results into the tensors themselves, and copies them in from an addon built before that', async () => {
    const shape: [number, number, number, number, number] = [2, 4, 5, 6, 3];
    const xv = Float32Array.from({ length: 2 * 4 * 5 * 6 * 3 }, (_, i) => Math.sin(i));
    const weights = Float32Array.from({ length: 27 * 3 * 4 }, (_, i) => Math.cos(i));
    const run = (lib: NativeDnnl | null) =>
      onBackend('wasm+onednn', async () => {
        if (lib) useNativeKernels(lib);
        const [x, w] = [tf.tensor(xv, shape), tf.tensor2d(weights, [27 * 3, 4])];
        const bn = { gamma: tf.tensor1d([1, 0.5, 2, 1.5]), beta: tf.tensor1d([0.1, -0.2, 0, 0.3]), runningMean: tf.zeros([4]) as tf.Tensor1D, runningVar: tf.ones([4]) as tf.Tensor1D };
        const f = (a: tf.Tensor, b: tf.Tensor) => {
          const r = batchNormRelu3d(conv3d(act3d(a, shape), b as tf.Tensor2D, { kernel: 3, stride: 1, padding: 1 }), bn, true, true);
          tf.dispose([r.stats!.mean, r.stats!.varUnbiased]);
          return tf.sum(tf.square(r.y.x));
        };
        const [gx, gw] = tf.grads(f)([x, w]);
        const out = [Array.from(await f(x, w).data()), Array.from(await gx.data()), Array.from(await gw.data())];
        tf.dispose([x, w, gx, gw, ...Object.values(bn)]);
        return out;
      });
    const r = loadNativeDnnl();
    assert.ok(r.ok);
    const current = await run(null);
    // The same addon with the output argument ignored, as a build from before it would: each result comes back new.
    let calls = 0;
    const lib = r.lib;
    const old: NativeDnnl = {
      ...lib,
      conv3d: (op, g, a, b) => (calls++, lib.conv3d(op, g, a, b)),
      batchNormForward: (x, gamma, beta, eps, relu, stats) => (calls++, lib.batchNormForward(x, gamma, beta, eps, relu, stats)),
      batchNormBackward: (dy, x, gamma, beta, eps, relu, stats, training) => (calls++, lib.batchNormBackward(dy, x, gamma, beta, eps, relu, stats, training)),
    };
    assert.deepEqual(await run(old), current);
    assert.equal(calls, 7, 'conv and batch norm forward twice (value and gradient), their gradients once');
    assert.ok(current[1].some((v) => v !== 0) && current[2].some((v) => v !== 0));
    assert.throws(() => r.lib.conv3d('forward', [1, 2, 2, 2, 1, 1, 1, 1, 0], new Float32Array(8), new Float32Array(1), new Float32Array(7)), /conv3d output expected a Float32Array of 8 values, got 7/);
  });

  it('keeps the tensor count flat: what the kernels save for their gradients goes with the tape, and inference saves nothing', async () => {
    await onBackend('wasm+onednn', async () => {
      const shape: [number, number, number, number, number] = [1, 4, 6, 6, 2];
      const bn = { gamma: tf.tensor1d([1, 0.5, 2]), beta: tf.tensor1d([0.1, -0.2, 0]), runningMean: tf.zeros([3]) as tf.Tensor1D, runningVar: tf.ones([3]) as tf.Tensor1D };
      const net = (a: tf.Tensor, b: tf.Tensor, training: boolean) => {
        const r = batchNormRelu3d(conv3d(act3d(a, shape), b as tf.Tensor2D, { kernel: 3, stride: 1, padding: 1 }), bn, training, true);
        if (r.stats) tf.dispose([r.stats.mean, r.stats.varUnbiased]);
        return tf.sum(maxPool3d(r.y, 3, 2, 1).x);
      };
      const step = () => {
        const x = tf.randomNormal(shape);
        const w = tf.randomNormal([27 * 2, 3]) as tf.Tensor2D;
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => net(a, b, true))([x, w]);
        tf.dispose([x, w, ...g, tf.tidy(() => net(x, w, false))]);
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) step();
      assert.equal(tf.memory().numTensors, before);
      tf.dispose(Object.values(bn));
    });
  });
});
