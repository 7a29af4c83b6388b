import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { loadNativeDnnl } from '../../src/ops/native-dnnl';
import { nativeAdamActive } from '../../src/ops/native-adamw';
import { AdamW, AdamWOptions } from '../../src/train/adamw';
import { NATIVE_SKIP_REASON, onBackend, values } from '../support/tf';

// The step against torch.optim.AdamW runs in train/optim.test.ts under the `wasm+onednn` entry; these check that the
// native step is the TensorFlow.js formulation's to the bit, on both backends it serves, and that it frees what it makes.
describe('native kernels: the fused AdamW step (native/ich_dnnl.cc adamStep)', function () {
  before(function () {
    if (NATIVE_SKIP_REASON) this.skip();
  });

  /** Five steps of one optimizer over a 3 x 4 x 5 weight and a bias; the parameters and moments after each. */
  async function run(backend: 'cpu' | 'wasm', native: boolean, options: AdamWOptions): Promise<{ active: boolean; after: number[][] }> {
    return onBackend(native ? `${backend}+onednn` : backend, async () => {
      const w = tf.variable(tf.tensor3d(values(60, 3), [3, 4, 5]), true, `adam_native_w_${backend}_${native}`);
      const b = tf.variable(tf.tensor1d(values(5, 4)), true, `adam_native_b_${backend}_${native}`);
      const opt = new AdamW({ lr: 0.01, ...options });
      const model = { store: { params: new Map([['w', { name: 'w', variable: w }], ['b', { name: 'b', variable: b }]]) } };
      const after: number[][] = [];
      let tensors = 0;
      for (let s = 0; s < 5; s++) {
        const gw = tf.tensor3d(values(60, 10 + s), [3, 4, 5]);
        const gb = tf.tensor1d(values(5, 20 + s));
        opt.apply([w, b], { [w.name]: gw, [b.name]: gb });
        tf.dispose([gw, gb]);
        if (s === 1) tensors = tf.memory().numTensors;
        if (s > 1) assert.equal(tf.memory().numTensors, tensors, `step ${s + 1} leaves no tensor behind`);
        after.push(Array.from(await w.data()), Array.from(await b.data()));
      }
      for (const t of opt.stateTensorsByParam(model).values()) after.push(Array.from(await t.data()));
      const active = nativeAdamActive();
      opt.dispose();
      tf.dispose([w, b]);
      return { active, after };
    });
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    for (const options of [{ amsgrad: true }, { amsgrad: false }, { amsgrad: true, decoupled: false, weightDecay: 0.01 }] as AdamWOptions[]) {
      it(`gives the tfjs formulation's parameters and moments to the bit, ${JSON.stringify(options)} (${backend})`, async () => {
        const plain = await run(backend, false, options);
        const fused = await run(backend, true, options);
        assert.equal(plain.active, false);
        assert.equal(fused.active, true, 'the native step ran');
        assert.equal(fused.after.length, plain.after.length);
        fused.after.forEach((a, i) => assert.deepEqual(a, plain.after[i], `array ${i}`));
      });
    }
  }

  it('rejects arrays of the wrong length, naming the expected and actual lengths', () => {
    const r = loadNativeDnnl();
    assert.ok(r.ok && r.lib.adamStep);
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => r.lib.adamStep!(f(4), f(4), f(12), f(4), f(8), [1, 0, 0.9, 0.1, 0.999, 0.001, 1e-8, 0.01, 1], true, true), /adamStep expected grad and paramOut of 4 values and moments of 12, got 4, 4, 12 and 8/);
    assert.throws(() => r.lib.adamStep!(f(4), f(4), f(8), f(4), f(8), [1, 2], false, true), /adamStep expected 9 numeric constants/);
  });
});
