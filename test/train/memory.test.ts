import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROFILES } from '../../src/config/profiles';
import { DENSENET121 } from '../../src/models/densenet-config';
import { AUTO_RECOMPUTE_MIN_BYTES, foldMemoryEstimate, foldMemoryPlan, leastFoldMemory, savedActivationBytes, typeScriptFoldMemoryEstimate } from '../../src/train/memory';

const GIB = 2 ** 30;
const paper = PROFILES.paper;

/** A committed training benchmark's peak RSS in bytes (bench/results). */
function measuredPeak(file: string): number {
  const root = path.resolve(__dirname, '..', '..', '..');
  return (JSON.parse(fs.readFileSync(path.join(root, 'bench', 'results', file), 'utf8')) as { peakRssMiB: number }).peakRssMiB * 2 ** 20;
}

describe('train/memory: how many folds fit at once', () => {
  it('counts the saved activations of DenseNet-121 at the paper input, and scales with the input', () => {
    // Block 1 at 10 x 76 x 76 dominates: 6 layers keep 3,456 channel maps there (by hand: 1.46 GiB per volume with
    // the stem and the later blocks).
    const bytes = savedActivationBytes(DENSENET121, [40, 301, 301]);
    assert.ok(Math.abs(bytes / GIB - 1.4616) < 1e-3, `${bytes / GIB} GiB`);
    // Twice the depth: twice the activations, give or take the stem's and pools' rounding.
    const deeper = savedActivationBytes(DENSENET121, [80, 301, 301]);
    assert.ok(Math.abs(deeper / bytes - 2) < 0.05, `ratio ${deeper / bytes}`);
    assert.ok(savedActivationBytes(PROFILES.cpu.densenet, PROFILES.cpu.inputSize) < 0.02 * GIB);
  });

  it('estimates a fold of the paper profile within 5 % of its measured peak (cpu backend, batch 8) and batch 1 within 15 %', () => {
    const b8 = measuredPeak('train-2026-11-28-cpu2-cpu-onednn-release-saved-paper-b8.json');
    assert.ok(Math.abs(foldMemoryEstimate(paper) / b8 - 1) < 0.05, `${foldMemoryEstimate(paper) / GIB} vs ${b8 / GIB} GiB`);
    const b1 = measuredPeak('train-2026-11-28-cpu2-wasm-onednn-release-saved-paper-b1.json');
    const one = foldMemoryEstimate({ ...paper, batchSize: 1 });
    assert.ok(Math.abs(one / b1 - 1) < 0.15, `${one / GIB} vs ${b1 / GIB} GiB`);
  });

  it('leaves out the batch-norm outputs a fused BN-ReLU-conv recomputes, from the threshold up', () => {
    const all = savedActivationBytes(DENSENET121, [40, 301, 301]);
    assert.equal(savedActivationBytes(DENSENET121, [40, 301, 301], { batch: 8, minBytes: Infinity }), all);
    // Every recomputable output: each dense layer's normalised input and each transition's (0.3995 GiB per volume, by
    // hand: block 1 alone 10 x 76 x 76 x (64 + ... + 224) floats); norm5's output feeds the heads and stays.
    const none = savedActivationBytes(DENSENET121, [40, 301, 301], { batch: 8, minBytes: 0 });
    assert.ok(Math.abs((all - none) / GIB - 0.3995) < 1e-3, `${(all - none) / GIB} GiB`);
    // From 16 MiB: at batch 8 all but the smallest; at batch 1 only block 1's and the first transition's.
    const b8 = savedActivationBytes(DENSENET121, [40, 301, 301], { batch: 8, minBytes: AUTO_RECOMPUTE_MIN_BYTES });
    const b1 = savedActivationBytes(DENSENET121, [40, 301, 301], { batch: 1, minBytes: AUTO_RECOMPUTE_MIN_BYTES });
    assert.ok(none < b8 && b8 < b1 && b1 < all, `${[none, b8, b1, all].map((n) => (n / GIB).toFixed(4))}`);
    // Small inputs: nothing reaches 16 MiB, nothing is left out.
    assert.equal(savedActivationBytes(PROFILES.cpu.densenet, PROFILES.cpu.inputSize, { batch: 2, minBytes: AUTO_RECOMPUTE_MIN_BYTES }), savedActivationBytes(PROFILES.cpu.densenet, PROFILES.cpu.inputSize));
  });

  it('estimates a fold with recomputation within 5 % of its measured peak (cpu backend, batch 8, from 16 MiB)', () => {
    const measured = measuredPeak('train-2026-11-28-cpu2-cpu-onednn-recompute16-paper-b8.json');
    const estimate = foldMemoryEstimate(paper, AUTO_RECOMPUTE_MIN_BYTES);
    assert.ok(Math.abs(estimate / measured - 1) < 0.05, `${estimate / GIB} vs ${measured / GIB} GiB`);
    assert.ok(estimate < foldMemoryEstimate(paper) - 2.5 * GIB);
  });

  it('estimates a fold that keeps freed memory within 5 % of its measured peak (cpu backend, batch 8), recomputing or not', () => {
    const plain = measuredPeak('train-2026-11-28-cpu2-cpu-onednn-keep-freed-paper-b8.json');
    const estimate = foldMemoryEstimate(paper, Infinity, true);
    assert.ok(Math.abs(estimate / plain - 1) < 0.05, `${estimate / GIB} vs ${plain / GIB} GiB`);
    const recomputed = measuredPeak('train-2026-11-28-cpu2-cpu-onednn-keep-freed-recompute16-paper-b8.json');
    const less = foldMemoryEstimate(paper, AUTO_RECOMPUTE_MIN_BYTES, true);
    assert.ok(Math.abs(less / recomputed - 1) < 0.05, `${less / GIB} vs ${recomputed / GIB} GiB`);
    // Keeping costs memory (the heap's free blocks do not always fit the next request): more than recomputing saves
    // least, less than it saves most.
    assert.ok(estimate > foldMemoryEstimate(paper) && less > foldMemoryEstimate(paper, AUTO_RECOMPUTE_MIN_BYTES) && less < foldMemoryEstimate(paper));
  });

  it('estimates a fold on the TypeScript ops within 10 % of its measured peak (wasm without the addon, DenseNet-121)', () => {
    for (const [file, inputSize, batchSize] of [
      ['train-2026-11-28-cpu2-wasm-typescript-32x64x64-b1.json', [32, 64, 64], 1],
      ['train-2026-11-28-cpu2-wasm-typescript-32x64x64-b2.json', [32, 64, 64], 2],
      ['train-2026-11-28-cpu2-wasm-typescript-40x64x64-b2.json', [40, 64, 64], 2],
    ] as const) {
      const estimate = typeScriptFoldMemoryEstimate({ ...paper, inputSize: [...inputSize], batchSize });
      const measured = measuredPeak(file);
      assert.ok(Math.abs(estimate / measured - 1) < 0.1, `${file}: ${estimate / GIB} vs ${measured / GIB} GiB`);
    }
    // 40 x 64 x 64 at batch 4 ran out of the 4 GiB heap.
    assert.ok(typeScriptFoldMemoryEstimate({ ...paper, inputSize: [40, 64, 64], batchSize: 4 }) > 4 * GIB);
  });

  describe('the fold plan', () => {
    let saved: string | undefined;
    beforeEach(() => {
      saved = process.env.ICH_RECOMPUTE_MIN_MB;
      delete process.env.ICH_RECOMPUTE_MIN_MB;
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.ICH_RECOMPUTE_MIN_MB;
      else process.env.ICH_RECOMPUTE_MIN_MB = saved;
    });
    // `keeps`: whether the process keeps freed memory for reuse (the cpu backend's default with the addon).
    const plan = (profile: typeof paper, backend: string, totalGiB: number, cores: number, workers?: number, keeps = false) =>
      foldMemoryPlan(profile, backend, { totalMemory: totalGiB * GIB, cores, workers, keepsFreedMemory: keeps, nativeKernels: true });

    it('trains two folds at once on two cores where memory allows, fewer where it does not, and says why', () => {
      const none = { recomputeMinBytes: Infinity, keepFreedMemory: false, note: null };
      assert.deepEqual(plan(PROFILES.cpu, 'wasm', 24, 2), { workers: 2, ...none });
      assert.deepEqual(plan(PROFILES.quick, 'cpu', 24, 16), { workers: 2, ...none });
      assert.deepEqual(plan(PROFILES.cpu, 'cpu', 24, 1), { workers: 1, ...none });
      assert.deepEqual(plan(paper, 'cpu', 64, 2), { workers: 2, ...none });
      const short = plan(paper, 'cpu', 24, 2);
      assert.equal(short.workers, 1);
      assert.equal(short.recomputeMinBytes, Infinity);
      assert.match(short.note ?? '', /paper profile \(batch 8 at 40x301x301\) needs about 16\.7 GiB; this machine's 24\.0 GiB holds 1 at a time/);
      assert.deepEqual(plan(paper, 'webgpu', 8, 2), { workers: 1, ...none });
    });

    it('recomputes batch-norm outputs when one fold would not fit otherwise, and says so', () => {
      // 16 GiB: 90 % is 14.4 GiB, less than 16.7 but more than the 13.7 with recomputation.
      const sixteen = plan(paper, 'cpu', 16, 2);
      assert.equal(sixteen.workers, 1);
      assert.equal(sixteen.recomputeMinBytes, AUTO_RECOMPUTE_MIN_BYTES);
      assert.match(sixteen.note ?? '', /needs about 16\.7 GiB; recomputing its batch-norm outputs of 16 MiB and more in the backward pass \(same results, up to ~10 % slower; ICH_RECOMPUTE_MIN_MB overrides\) brings it to about 13\.7 GiB; this machine's 16\.0 GiB holds 1 at a time/);
      // Two folds asked for on 24 GiB: neither fits half of it without recomputation, nor with it.
      const two = plan(paper, 'cpu', 24, 2, 2);
      assert.equal(two.workers, 2);
      assert.equal(two.recomputeMinBytes, AUTO_RECOMPUTE_MIN_BYTES);
      assert.match(two.note ?? '', /brings it to about 13\.7 GiB, more than a 1\/2 share of this machine's 24\.0 GiB: it may run out of memory/);
      const tiny = plan(paper, 'cpu', 8, 2);
      assert.equal(tiny.workers, 1);
      assert.equal(tiny.recomputeMinBytes, AUTO_RECOMPUTE_MIN_BYTES);
      assert.match(tiny.note ?? '', /more than this machine's 8\.0 GiB: it may run out of memory/);
      // wasm: batch 1 fits the heap as it is; batch 8 does not, even recomputed.
      assert.deepEqual(plan({ ...paper, batchSize: 1 }, 'wasm', 24, 2, 1), { workers: 1, recomputeMinBytes: Infinity, keepFreedMemory: false, note: null });
      assert.match(plan(paper, 'wasm', 64, 2).note ?? '', /more than the wasm backend's 4 GiB heap: training will stop at its first step; ICH_BACKEND=cpu/);
      // Small profiles never recompute.
      assert.equal(plan(PROFILES.cpu, 'cpu', 2, 2).recomputeMinBytes, Infinity);
    });

    it('keeps freed memory where a fold fits with it, recomputes first, and returns it to the system only when that does not fit', () => {
      // 24 GiB: 18.4 GiB fits 90 % (21.6) as it is.
      const roomy = plan(paper, 'cpu', 24, 2, undefined, true);
      assert.deepEqual([roomy.workers, roomy.recomputeMinBytes, roomy.keepFreedMemory], [1, Infinity, true]);
      assert.match(roomy.note ?? '', /needs about 18\.4 GiB; this machine's 24\.0 GiB holds 1 at a time/);
      // 20 GiB (18): recomputing brings it to 15.4 GiB, memory still kept.
      const twenty = plan(paper, 'cpu', 20, 2, undefined, true);
      assert.deepEqual([twenty.workers, twenty.recomputeMinBytes, twenty.keepFreedMemory], [1, AUTO_RECOMPUTE_MIN_BYTES, true]);
      assert.match(twenty.note ?? '', /needs about 18\.4 GiB; recomputing its batch-norm outputs of 16 MiB and more in the backward pass \(same results, up to ~10 % slower; ICH_RECOMPUTE_MIN_MB overrides\) brings it to about 15\.4 GiB; this machine's 20\.0 GiB holds 1 at a time/);
      // 16 GiB (14.4): 15.4 does not fit; returning freed memory too brings it to 13.7.
      const sixteen = plan(paper, 'cpu', 16, 2, undefined, true);
      assert.deepEqual([sixteen.workers, sixteen.recomputeMinBytes, sixteen.keepFreedMemory], [1, AUTO_RECOMPUTE_MIN_BYTES, false]);
      assert.match(sixteen.note ?? '', /ICH_RECOMPUTE_MIN_MB overrides\) and returning freed memory to the system instead of keeping it for reuse \(same results, up to ~45 % slower: fresh memory faults in page by page\) brings it to about 13\.7 GiB; this machine's 16\.0 GiB holds 1 at a time/);
      assert.match(plan(paper, 'cpu', 8, 2, undefined, true).note ?? '', /returning freed memory .* brings it to about 13\.7 GiB, more than this machine's 8\.0 GiB: it may run out of memory/);
      // Recomputation fixed by ICH_RECOMPUTE_MIN_MB: only the memory is returned.
      process.env.ICH_RECOMPUTE_MIN_MB = '100000';
      const fixed = plan(paper, 'cpu', 20, 2, undefined, true);
      assert.deepEqual([fixed.recomputeMinBytes, fixed.keepFreedMemory], [100000 * 2 ** 20, false]);
      assert.match(fixed.note ?? '', /needs about 18\.4 GiB; returning freed memory to the system .* brings it to about 16\.7 GiB; this machine's 20\.0 GiB holds 1 at a time/);
      delete process.env.ICH_RECOMPUTE_MIN_MB;
      // Small profiles keep it without a note; only the cpu backend's memory is malloc'd.
      assert.deepEqual(plan(PROFILES.quick, 'cpu', 24, 2, undefined, true), { workers: 2, recomputeMinBytes: Infinity, keepFreedMemory: true, note: null });
      assert.equal(plan(PROFILES.quick, 'wasm', 24, 2, undefined, true).keepFreedMemory, false);
    });

    it('plans the TypeScript ops (no addon) by their own estimate, and says ahead when a fold would not fit the wasm heap', () => {
      const typeScript = (profile: typeof paper, backend: string) => foldMemoryPlan(profile, backend, { totalMemory: 24 * GIB, cores: 2, nativeKernels: false });
      // The cpu profile (the small DenseNet at 40 x 64 x 64, batch 8) trains without the addon: two folds, no note.
      assert.deepEqual(typeScript(PROFILES.cpu, 'wasm'), { workers: 2, recomputeMinBytes: Infinity, keepFreedMemory: false, note: null });
      // DenseNet-121 at 40 x 160 x 160, batch 1: ~7.0 GiB on the TypeScript ops, ~1.3 GiB with the native kernels.
      const mid = { ...paper, inputSize: [40, 160, 160] as [number, number, number], batchSize: 1 };
      const without = typeScript(mid, 'wasm');
      assert.equal(without.recomputeMinBytes, Infinity, 'only the native kernels recompute');
      assert.match(without.note ?? '', /needs about 7\.0 GiB on the TypeScript ops \(about 1\.3 GiB with the native kernels, which scripts\/build-native\.sh builds\), more than the wasm backend's 4 GiB heap: training will stop at its first step; build the native kernels, or ICH_BACKEND=cpu/);
      assert.equal(plan(mid, 'wasm', 24, 2, 1).note, null, 'with the native kernels it fits');
      assert.equal(typeScript({ ...mid, inputSize: [32, 64, 64] }, 'wasm').note, null);
      // Keeping freed memory belongs to the native kernels.
      assert.equal(foldMemoryPlan(paper, 'cpu', { totalMemory: 24 * GIB, cores: 2, nativeKernels: false, keepsFreedMemory: true }).keepFreedMemory, false);
    });

    it('gives initBackend the least a fold needs: with recomputation unless ICH_RECOMPUTE_MIN_MB says otherwise', () => {
      assert.equal(leastFoldMemory(paper), foldMemoryEstimate(paper, AUTO_RECOMPUTE_MIN_BYTES));
      assert.ok(leastFoldMemory(paper) > 0.9 * 4 * GIB, 'the paper profile does not fit wasm');
      assert.ok(leastFoldMemory({ ...paper, batchSize: 1 }) < 0.9 * 4 * GIB, 'its batch 1 does');
      assert.ok(leastFoldMemory(PROFILES.quick) < GIB);
      process.env.ICH_RECOMPUTE_MIN_MB = '100000';
      assert.equal(leastFoldMemory(paper), foldMemoryEstimate(paper));
    });

    it('follows ICH_RECOMPUTE_MIN_MB when it is set, and estimates with it', () => {
      process.env.ICH_RECOMPUTE_MIN_MB = '0';
      const every = plan(paper, 'cpu', 16, 2);
      assert.equal(every.recomputeMinBytes, 0);
      assert.match(every.note ?? '', /needs about 13\.5 GiB; this machine's 16\.0 GiB holds 1 at a time/);
      process.env.ICH_RECOMPUTE_MIN_MB = '100000';
      const never = plan(paper, 'cpu', 16, 2);
      assert.equal(never.recomputeMinBytes, 100000 * 2 ** 20);
      assert.match(never.note ?? '', /needs about 16\.7 GiB, more than this machine's 16\.0 GiB: it may run out of memory/);
      assert.equal(plan(paper, 'webgpu', 16, 2).recomputeMinBytes, 100000 * 2 ** 20);
    });
  });
});
