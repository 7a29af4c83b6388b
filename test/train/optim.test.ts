import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '../../src/train/adamw';
import { bceWithLogits, multiTaskLoss } from '../../src/train/losses';
import { ReduceLROnPlateau } from '../../src/train/scheduler';
import { fixture } from '../support/paths';
import { onBackend, relError, TEST_BACKENDS } from '../support/tf';

// torch.optim.AdamW / ReduceLROnPlateau and F.binary_cross_entropy_with_logits (test/fixtures/gen/make_train_fixtures.py).
const f = fixture('train.json');

describe('train: losses, AdamW (AMSGrad) and ReduceLROnPlateau equal torch step by step', () => {
  for (const backend of TEST_BACKENDS) {
    for (const c of f.adamw) {
      it(`${c.decoupled ? 'AdamW' : 'Adam (L2 decay)'} amsgrad=${c.amsgrad} wd=${c.weightDecay} lr=${c.lr}: 12 steps equal torch.optim (${backend})`, async () => {
        await onBackend(backend, async () => {
          const p = tf.variable(tf.tensor1d(c.start));
          const opt = new AdamW({ lr: c.lr, weightDecay: c.weightDecay, amsgrad: c.amsgrad, decoupled: c.decoupled });
          for (let s = 0; s < c.grads.length; s++) {
            const g = tf.tensor1d(c.grads[s]);
            opt.apply([p], { [p.name]: g });
            g.dispose();
            const err = relError((await p.data()) as Float32Array, c.params[s]);
            assert.ok(err < 1e-6, `step ${s + 1}: ${err}`);
          }
          opt.dispose();
          p.dispose();
        });
      });
    }

    it(`AdamW moments for checkpoints equal the cpu backend's, and training goes on the same after reading them (${backend})`, async () => {
      const c = f.adamw.find((a: { decoupled: boolean; amsgrad: boolean }) => a.decoupled && a.amsgrad);
      const run = () => {
        const p = tf.variable(tf.tensor1d(c.start), true, 'adamw_state_probe');
        const opt = new AdamW({ lr: c.lr, weightDecay: c.weightDecay, amsgrad: true });
        const model = { store: { params: new Map([['w', { name: 'w', variable: p }]]) } };
        const step = (s: number) => {
          const g = tf.tensor1d(c.grads[s]);
          opt.apply([p], { [p.name]: g });
          g.dispose();
        };
        return { p, opt, model, step };
      };
      const read = async (m: Map<string, tf.Tensor>) => Promise.all(['w/m', 'w/v', 'w/vmax'].map(async (k) => Array.from(await m.get(k)!.data())));
      const reference = await onBackend('cpu', async () => {
        const r = run();
        for (let s = 0; s < 6; s++) r.step(s);
        const out = { moments: await read(r.opt.stateTensorsByParam(r.model)), param: Array.from(await r.p.data()) };
        r.opt.dispose();
        r.p.dispose();
        return out;
      });
      await onBackend(backend, async () => {
        const r = run();
        for (let s = 0; s < 3; s++) r.step(s);
        const before = tf.memory().numTensors;
        await read(r.opt.stateTensorsByParam(r.model));
        for (let s = 3; s < 6; s++) r.step(s);
        assert.equal(tf.memory().numTensors, before, 'reading the moments and stepping again leaves no tensors behind');
        const moments = await read(r.opt.stateTensorsByParam(r.model));
        moments.forEach((m, i) => assert.ok(relError(m, reference.moments[i]) < 1e-6, `moment ${i}: ${relError(m, reference.moments[i])}`));
        assert.ok(relError(Array.from(await r.p.data()), reference.param) < 1e-6);
        r.opt.dispose();
        r.p.dispose();
      });
    });

    it(`BCE with logits, with and without pos_weight, and the weighted multi-task sum (${backend})`, async () => {
      await onBackend(backend, async () => {
        const z = tf.tensor2d(f.bce.logits);
        const y = tf.tensor2d(f.bce.targets);
        assert.ok(Math.abs((await bceWithLogits(z, y).data())[0] - f.bce.mean) < 1e-6);
        assert.ok(Math.abs((await bceWithLogits(z, y, f.bce.posWeight).data())[0] - f.bce.meanPosWeight) < 1e-6);
        const { total, perHead } = multiTaskLoss({ prognosis: z, 'age-binary': z }, { prognosis: y, 'age-binary': y }, [
          { task: 'prognosis', weight: 0.4 },
          { task: 'age-binary', weight: 0.3, positiveWeight: f.bce.posWeight },
        ]);
        assert.ok(Math.abs((await total.data())[0] - (0.4 * f.bce.mean + 0.3 * f.bce.meanPosWeight)) < 1e-6);
        assert.ok(perHead.prognosis && perHead['age-binary']);
        assert.throws(() => multiTaskLoss({ prognosis: z }, {}, [{ task: 'prognosis', weight: 1 }]), /expected logits and targets for head "prognosis", got no targets/);
        tf.dispose([z, y, total]);
      });
    });
  }

  it('ReduceLROnPlateau gives torch\'s learning rate after each of 80 steps', () => {
    const s = new ReduceLROnPlateau();
    let lr = 1e-3;
    f.plateau.losses.forEach((v: number, i: number) => {
      lr = s.step(v, lr);
      assert.ok(Math.abs(lr - f.plateau.lrs[i]) < 1e-12, `step ${i + 1}: ${lr} vs ${f.plateau.lrs[i]}`);
    });
    const copy = new ReduceLROnPlateau();
    copy.restore(JSON.parse(JSON.stringify(s.toJSON())));
    assert.deepEqual(copy.toJSON(), s.toJSON());
    assert.throws(() => new ReduceLROnPlateau({ factor: 1 }), /factor expected < 1/);
  });
});
