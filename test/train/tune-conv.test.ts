import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy, initBackend } from '../../src/backend';
import { convGemm } from '../../src/ops/webgpu/conv3d-gemm';
import { CONV_TUNING_FORMAT, convTuningKey } from '../../src/ops/webgpu/conv-tuning';
import { chooseTiling, convTilingCandidates, convTuningTable, passWork, tuneConvPasses } from '../../src/train/tune-conv';
import { onBackend, relError, TEST_BACKENDS } from '../support/tf';

describe('train/tune-conv: the fastest conv GEMM tiling per pass, measured on the device', () => {
  it('lists each distinct program once, the default first', () => {
    // Block 1's 3x3 conv at the paper input, batch 4: the default is 8 rows with four-channel loads, unsplit (enough
    // tiles), not prefetched; split and whole reduction are the same program there, so 8 programs remain of the 16
    // combinations (rows x loads x prefetch).
    const block1 = { b: 4, d: 10, h: 76, w: 76, cin: 128, cout: 32, k: 3, s: 1, p: 1 };
    const forward = convTilingCandidates('forward', block1);
    assert.deepEqual(forward[0], { rows: 8, vectorLoads: true, splitK: false, columns: 32, prefetch: false });
    assert.ok(forward.every((t) => !t.splitK), 'written as what runs: the reduction is whole');
    assert.equal(forward.length, 8);
    assert.equal(new Set(forward.map((t) => `${t.rows} ${t.vectorLoads} ${t.prefetch}`)).size, 8);
    // Block 3 (46 tiles of 64 rows): split or not now differs; rows 4 and 8 split into different chunk counts.
    const block3 = { ...block1, d: 2, h: 19, w: 19 };
    assert.equal(convTilingCandidates('forward', block3).length, 16);
    // The weight gradient never reads four channels at a time: 4 programs (rows x prefetch), its split is by positions.
    assert.equal(convTilingCandidates('backwardWeights', block1).length, 4);
    // One input channel: no four-channel loads; the stem's input gradient is the direct kernel, nothing to choose.
    const stem = { b: 4, d: 40, h: 301, w: 301, cin: 1, cout: 64, k: 7, s: 2, p: 3 };
    assert.equal(convTilingCandidates('forward', stem).length, 8, '4 or 8 rows x 32 or 64 of its 64 output channels x prefetch');
    assert.ok(convTilingCandidates('forward', stem).every((t) => !t.vectorLoads));
    assert.equal(convTilingCandidates('backwardData', stem).length, 1);
    // Block 3's 1x1 bottleneck (512 -> 128, 2,888 rows): every knob matters, 32 programs.
    const block3x1 = { b: 4, d: 2, h: 19, w: 19, cin: 512, cout: 128, k: 1, s: 1, p: 0 };
    assert.equal(convTilingCandidates('forward', block3x1).length, 32);
    assert.equal(convTilingCandidates('backwardData', block3x1).length, 16, 'a reduction of 128: too short to split');
  });

  it('tunes the passes that do the most work first', () => {
    const g = { b: 2, d: 8, h: 8, w: 8, cin: 64, cout: 32, k: 3, s: 1, p: 1 };
    // forward: 1,024 rows x 32 columns x 1,728 reduction = 56.6 M multiply-adds per run.
    assert.equal(passWork({ pass: 'forward', shape: g, count: 1 }), 1024 * 32 * 1728);
    assert.equal(passWork({ pass: 'forward', shape: g, count: 3 }), 3 * 1024 * 32 * 1728);
    // The input gradient of the same layer does the same work (1,024 x 64 x 864).
    assert.equal(passWork({ pass: 'backwardData', shape: g, count: 1 }), passWork({ pass: 'forward', shape: g, count: 1 }));
  });

  it('keeps the default unless another tiling is faster by more than the margin', () => {
    const t = (ms: number[]) => ms.map((m, i) => ({ tiling: `t${i}`, ms: m }));
    assert.equal(chooseTiling(t([10, 9.8, 11])).tiling, 't0', '2% faster: noise');
    assert.equal(chooseTiling(t([10, 9, 9.5])).tiling, 't1');
    assert.equal(chooseTiling(t([10, 9.8]), 0).tiling, 't1');
    assert.equal(chooseTiling(t([NaN, 12, 11])).tiling, 't2', 'a failed default is no choice');
    assert.equal(chooseTiling(t([10, NaN])).tiling, 't0');
    assert.equal(chooseTiling(t([5])).tiling, 't0');
    assert.throws(() => chooseTiling([]), /expected at least one timing, got none/);
    assert.throws(() => chooseTiling(t([NaN, NaN])), /expected at least one candidate that ran, got none/);
  });

  it('refuses to tune without the WGSL kernels', async () => {
    await initBackend('cpu');
    const g = { b: 1, d: 4, h: 4, w: 4, cin: 4, cout: 4, k: 3, s: 1, p: 1 };
    await assert.rejects(tuneConvPasses([{ pass: 'forward', shape: g, count: 1 }]), /conv tuning expected the webgpu backend with the project's WGSL kernels, got cpu without them/);
    for (const bad of [0, 2.5, NaN]) {
      await assert.rejects(tuneConvPasses([{ pass: 'forward', shape: g, count: 1 }], { maxPasses: bad }), new RegExp(`conv tuning maxPasses expected an integer >= 1, got ${bad}`));
    }
  });

  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`times every candidate, chooses one per pass and writes it as a table (${backend})`, async () => {
      await onBackend(backend, async () => {
        const g = { b: 1, d: 4, h: 5, w: 6, cin: 8, cout: 12, k: 3, s: 1, p: 1 };
        const stemLike = { b: 1, d: 8, h: 8, w: 8, cin: 1, cout: 8, k: 7, s: 2, p: 3 };
        const progress: string[] = [];
        const { tuned, skipped } = await tuneConvPasses(
          [
            { pass: 'backwardWeights', shape: g, count: 1 },
            { pass: 'forward', shape: g, count: 2 },
            { pass: 'backwardData', shape: stemLike, count: 1 },
          ],
          { trials: 2, trialMs: 2, onPass: (r, i, n) => progress.push(`${i + 1}/${n} ${r.pass}`) },
        );
        assert.deepEqual(skipped, []);
        // The forward pass runs twice per step (twice the weight gradient's work): tuned first. The direct input
        // gradient has nothing to tune.
        assert.deepEqual(progress, ['1/2 forward', '2/2 backwardWeights']);
        // At most one pass: the largest is tuned, the other left at the default and counted.
        const one = await tuneConvPasses(
          [
            { pass: 'backwardWeights', shape: g, count: 1 },
            { pass: 'forward', shape: g, count: 2 },
          ],
          { trials: 1, trialMs: 1, maxPasses: 1 },
        );
        assert.deepEqual(one.tuned.map((r) => r.pass), ['forward']);
        assert.equal(one.notTuned, 1);
        for (const r of tuned) {
          assert.equal(r.candidates.length, convTilingCandidates(r.pass, r.shape).length);
          assert.ok(r.candidates.every((c) => c.ms > 0 && Number.isFinite(c.ms) && !c.error), JSON.stringify(r.candidates));
          assert.equal(r.defaultMs, r.candidates[0].ms);
          assert.ok(r.candidates.some((c) => c.tiling === r.chosen && c.ms === r.ms));
          assert.ok(r.ms <= r.defaultMs);
        }
        assert.equal(tuned[0].count, 2);
        const t = convTuningTable(tuned, 'adapter', { shape: [4, 5, 6], batch: 1 });
        assert.equal(t.format, CONV_TUNING_FORMAT);
        assert.deepEqual(Object.keys(t.entries), [convTuningKey('forward', g), convTuningKey('backwardWeights', g)]);
        assert.deepEqual(t.entries[convTuningKey('forward', g)], { ...tuned[0].chosen, ms: tuned[0].ms, defaultMs: tuned[0].defaultMs });
        // Whatever was chosen computes the same pass.
        const x = tf.randomNormal([g.d, g.h, g.w, g.cin], 0, 1, 'float32', 5);
        const w = tf.randomNormal([27 * g.cin, g.cout], 0, 1, 'float32', 6);
        const plain = convGemm('forward', g, x, w);
        const chosen = convGemm('forward', g, x, w, undefined, tuned[0].chosen);
        assert.ok(relError(await chosen.data(), await plain.data()) <= 1e-4);
        tf.dispose([x, w, plain, chosen]);
      });
    });

    it(`leaves no tensor behind and skips a pass whose operands or output exceed the GPU's binding limit (${backend})`, async () => {
      await onBackend(backend, async () => {
        const g = { b: 1, d: 4, h: 4, w: 4, cin: 4, cout: 4, k: 3, s: 1, p: 1 };
        await tuneConvPasses([{ pass: 'forward', shape: g, count: 1 }], { trials: 1, trialMs: 1 });
        const before = tf.memory().numTensors;
        await tuneConvPasses([{ pass: 'forward', shape: g, count: 1 }], { trials: 1, trialMs: 1 });
        assert.equal(tf.memory().numTensors, before);
        // A volume over the GPU's per-binding limit: skipped before anything is allocated or dispatched.
        const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
        if (limit > 512 * 2 ** 20) return; // a GPU's few GiB: too much to allocate in a test
        const side = Math.ceil(Math.cbrt(limit / 4 / 8)) + 2;
        const huge = { b: 1, d: side, h: side, w: side, cin: 8, cout: 4, k: 1, s: 1, p: 0 };
        const { tuned, skipped } = await tuneConvPasses([{ pass: 'forward', shape: huge, count: 1 }], { trials: 1, trialMs: 1 });
        assert.deepEqual(tuned, []);
        assert.equal(skipped.length, 1);
        assert.match(skipped[0].reason, /^conv tuning operand \[\d+, \d+, \d+, 8\] expected at most \d+ bytes \(the GPU's maxStorageBufferBindingSize\), got \d+$/);
        assert.doesNotThrow(() => assertDeviceHealthy('after the skipped pass'), 'nothing was dispatched');
        // Small operands but an output over the limit (74,088 positions x 512 channels): every tiling is refused
        // before its dispatch, so the pass is skipped with the programs' own reason.
        const wide = { b: 1, d: 42, h: 42, w: 42, cin: 4, cout: 512, k: 1, s: 1, p: 0 };
        const refused = await tuneConvPasses([{ pass: 'forward', shape: wide, count: 1 }], { trials: 1, trialMs: 1 });
        assert.deepEqual(refused.tuned, []);
        assert.match(refused.skipped[0]?.reason ?? '', /expected tensors of at most \d+ bytes \(the GPU's maxStorageBufferBindingSize\)/);
        assert.doesNotThrow(() => assertDeviceHealthy('after the refused pass'));
        assert.equal(tf.memory().numTensors, before, 'operands freed after failed candidates');
        assert.equal(tf.memory().numTensors, before);
      });
    });
  }
});
